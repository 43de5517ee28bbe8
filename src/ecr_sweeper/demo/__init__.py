"""`ecr-sweeper demo` and its support: a plan and an apply on an embedded moto server.

- `command`: the `demo` command, registered on the CLI by the console script's entry
  (`ecr_sweeper.entry`); moto and boto3 (the `demo` extra) are imported only when it runs.
- `run`: the demo itself (seeds a small organization, runs `plan` and `apply` through the CLI's
  own entry point as a user would, then checks what survived).
- `moto_patches`: moto's server, the reads moto lacks, and seeding helpers (the tests use them).
- `kube_server`: a small read-only Kubernetes API behind a moto EKS cluster.

Nothing outside this package imports it but the entry and the tests: the CLI does not.
"""
