"""darkroom on one machine and the tools around the service; it sits on top: nothing imports it.

cli/        the ``darkroom`` command, one module per command group
local/      the local stack: moto, the API under uWSGI, the fleet emulator and its fake instance metadata, the soak
deploy/     CloudFormation and the worker AMI, on AWS or into moto
simulate/   ``darkroom simulate``: what a photo costs on the spot pool
enhance     ``darkroom enhance`` and ``darkroom sample``: the pipeline on files
dng         camera RAW test photos written as DNG (tests, demos, evaluation)
"""
