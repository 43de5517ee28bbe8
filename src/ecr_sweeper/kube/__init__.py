"""Kubernetes: the only package that speaks the Kubernetes API (read-only `list` calls over
aiohttp), as `aws/` is the only one that imports botocore.

objects.py  the images an object runs or can start, by its kind's schema (pure)
client.py   paged list calls: limit/continue, 410 restarts, per-cluster gate, retries
reader.py   one cluster: every kind that counts, optional API groups where served
kubeconfig.py  clusters and auth from kubeconfig files (token, client certificate, exec)
usage.py    the usage scan of every --kubeconfig cluster
EKS clusters are found and authenticated in aws/eks.py and read by aws/consumers/eks.py.
"""
