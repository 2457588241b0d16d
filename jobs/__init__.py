"""The contract the API and the worker share: ids, S3 keys, the queue message,
the status document, settings, and thin S3/SQS adapters.

Nothing here imports flask or torch; both deployables import this package.
"""
