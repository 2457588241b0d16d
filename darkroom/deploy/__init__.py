"""Deploying darkroom: infra/darkroom.yaml through CloudFormation (on AWS or into moto) and the worker AMI.

spec            StackSpec: the template's parameters, from darkroom's settings objects
cloudformation  deploy, read the outputs as DARKROOM_* variables, tear down
ami             run Packer, publish the AMI id to the SSM parameter the API launches from
"""
