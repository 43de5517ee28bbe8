"""The AWS shell: the only package that imports aiobotocore/botocore."""
