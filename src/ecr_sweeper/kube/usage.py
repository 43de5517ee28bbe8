"""Clusters named by kubeconfig files (--kubeconfig): one usage scan for all of them.

These clusters belong to no target account, so nothing narrower than the whole run could be
held for one that cannot be read: an unreadable kubeconfig cluster is a usage error, and the
run deletes nothing (fail closed), like any other source that fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio

from ecr_sweeper.imageref import ForeignImage, ImageReferenceError, parse_image
from ecr_sweeper.kube.client import ClusterAccess, KubeClient, KubeLimits
from ecr_sweeper.kube.kubeconfig import KubeconfigError, load_kubeconfig
from ecr_sweeper.kube.reader import read_cluster
from ecr_sweeper.model import (
    Digest,
    Outside,
    ScanError,
    Sources,
    Usage,
    UsageScan,
)
from ecr_sweeper.retry import RetryPolicy

GRANT = "grant its user `list` on pods and the workload kinds (the `view` ClusterRole)"


async def kubeconfig_usage(
    sources: Sources,
    retry: RetryPolicy,
    progress: Callable[[str], None] = lambda _: None,
    limits: KubeLimits | None = None,
) -> list[UsageScan]:
    """Read every cluster of every --kubeconfig context; none given: no scan at all."""
    if not sources.kubeconfigs:
        return []
    usages: list[Usage] = []
    errors: list[ScanError] = []
    foreign = 0

    def error(subject: str, message: str) -> None:
        errors.append(ScanError("usage", Outside.KUBECONFIG, None, subject, message))

    accesses: list[tuple[str, ClusterAccess]] = []
    for entry in sources.kubeconfigs:
        try:
            accesses.extend(
                (f"kubeconfig {entry.path}", access)
                for access in load_kubeconfig(Path(entry.path), entry.contexts)
            )
        except KubeconfigError as exc:
            error(f"kubeconfig {entry.path}", str(exc))

    async def one(subject: str, access: ClusterAccess) -> None:
        nonlocal foreign
        label = f"cluster {access.name}"
        try:
            async with KubeClient(access, retry, limits) as client:
                read = await read_cluster(client)
        except Exception as exc:  # noqa: BLE001 - an exec plugin failing, say: fail closed
            error(subject, f"{label}: cannot be read: {exc}")
            return
        for failure in read.failures:
            error(subject, f"{label}: GET {failure.path}: {failure.message}; {GRANT}")
        for use in read.uses:
            where = f"{use.where} ({label})"
            try:
                ref = parse_image(use.image)
            except ImageReferenceError as exc:
                error(subject, f"{where}: {exc}")
                continue
            if isinstance(ref, ForeignImage):
                foreign += 1
                continue
            digest = Digest(use.digest) if use.digest else None
            usages.append(Usage(use.image, ref, where, digest, "kubernetes"))
        progress(
            f"usage {label}: "
            + ", ".join(
                f"{n} {kind.split('.', 1)[0].lower()}s" for kind, n in sorted(read.objects.items())
            )
            + (f", {len(read.failures)} lists NOT READ" if read.failures else "")
        )

    async with anyio.create_task_group() as tg:
        for subject, access in accesses:
            tg.start_soon(one, subject, access)
    usages.sort(key=lambda u: (u.source, u.image))
    return [UsageScan(Outside.KUBECONFIG, tuple(usages), tuple(errors), foreign)]
