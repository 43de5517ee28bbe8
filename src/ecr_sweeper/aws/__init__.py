"""The AWS shell: the only package that imports aioboto3/aiobotocore/botocore."""
