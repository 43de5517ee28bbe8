"""ecr-sweeper: delete the ECR images that no workload uses (ECS, Lambda, Batch, EKS, Step
Functions, …), and never one that is in use."""

__version__ = "0.1.0"
