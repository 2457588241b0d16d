"""The whole system on one machine: the same code against an AWS emulator.

aws     moto in server mode on loopback, and the resources (bucket, queues, pool) in it
config  StackConfig, PoolConfig and SoakConfig: what ``darkroom up`` and ``darkroom soak`` run with
stack   LocalStack: moto, the API under uWSGI and the workers (``darkroom up``, the end-to-end tests)
fleet   the fleet emulator: each EC2 instance the API launches becomes a worker process
imds    a fake instance-metadata service per emulated instance, for spot interruption notices
soak    the stack under load for a bounded time (``make soak``)
"""
