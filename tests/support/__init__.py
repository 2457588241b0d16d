"""Helpers the tests share: AWS clients and the pool's world in moto, and S3/SQS fault injection."""
