"""ecr-sweeper: delete the ECR images that no ECS workload uses, and never one that is in use."""

__version__ = "0.1.0"
