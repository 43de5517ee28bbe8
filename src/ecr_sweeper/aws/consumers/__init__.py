"""Consumer kinds: one module per kind of workload that may pull an image (ECS, Lambda, EKS,
Batch…), each defining a `Kind` (kind.py): its one name, its switch, its census call, its
readers (each returns a `Reading`), its IAM actions and service principals. `registry.KINDS`
lists them; `scan.scan_usage` takes the census of every kind of an account × region while it
reads those the run reads. Any failure of any reader becomes a usage `ScanError`, which blocks
every deletion of the run (fail closed).
"""
