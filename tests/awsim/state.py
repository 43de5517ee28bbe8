"""Mutable runtime state built from a frozen :class:`~awsim.scenario.Scenario`.

The server owns one :class:`OrgState` and touches it only from its event-loop thread; the
test-facing mutators on :class:`awsim.server.Emulator` marshal calls into that thread.
Image records reference the (immutable) scenario ``Image`` and only add what can change
(tags, a sequence number for stable pagination) so a million images stay cheap.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from . import arns
from .scenario import (
    DEFAULT_TIME,
    Account,
    Cluster,
    Deployment,
    Image,
    Repository,
    Scenario,
    Service,
    Task,
    TaskDefinition,
    TaskSet,
)


class ImageRecord:
    """One manifest stored in a repository, and its storage class (ECR's archive)."""

    __slots__ = ("activated_at", "active_from", "archived_at", "image", "seq", "status", "tags")

    def __init__(self, image: Image, tags: list[str], seq: int) -> None:
        self.image = image
        self.tags = tags
        self.seq = seq
        # ACTIVE, ARCHIVED or ACTIVATING (UpdateImageStorageClass); the times are epoch seconds
        self.status = image.status
        self.archived_at: float | None = None  # lastArchivedAt
        self.activated_at: float | None = None  # lastActivatedAt (the restore's request)
        # An ACTIVATING image is ACTIVE from then on; one the scenario seeds as ACTIVATING (a
        # restore someone else asked for) stays so, as the scenario says.
        self.active_from = float("inf") if image.status == "ACTIVATING" else 0.0

    def status_at(self, now: float) -> str:
        """The image's status at `now`: a restore in progress ends once its delay is over."""
        if self.status == "ACTIVATING" and now >= self.active_from:
            self.status = "ACTIVE"
        return self.status

    @property
    def digest(self) -> str:
        return self.image.digest


class RepoState:
    """A repository's images, tag index and manifest-list back references."""

    def __init__(self, account: str, region: str, repo: Repository) -> None:
        self.account = account
        self.region = region
        self.name = repo.name
        self.arn = arns.repository_arn(account, region, repo.name)
        self.uri = f"{arns.registry_host(account, region)}/{repo.name}"
        self.created_at = repo.created_at
        self.policy = repo.policy
        self.resource_tags = list(repo.tags)
        self.tag_mutability = repo.tag_mutability
        self.images: dict[str, ImageRecord] = {}
        self.by_tag: dict[str, str] = {}
        # child manifest digest -> digests of indexes in this repo that list it
        self.parents: dict[str, set[str]] = {}
        self._seq = 0
        self._order: list[ImageRecord] | None = None
        self._keys: list[int] | None = None
        for img in repo.images:
            self.push(img)

    # -- mutation -------------------------------------------------------------------------
    def push(self, img: Image) -> None:
        """Push like ``docker push``: children first, tags move to the new digest."""
        for child in img.children:
            self._put(child, ())
        self._put(img, img.tags)
        for child in img.children:
            self.parents.setdefault(child.digest, set()).add(img.digest)

    def _put(self, img: Image, tags: Iterable[str]) -> None:
        rec = self.images.get(img.digest)
        if rec is None:
            self._seq += 1
            rec = ImageRecord(img, [], self._seq)
            self.images[img.digest] = rec
            self._order = None
        else:
            rec.status = "ACTIVE"  # pushed again: an archived image is active again (AWS)
        for t in tags:
            self.tag(t, img.digest)

    def tag(self, tag: str, digest: str) -> None:
        """Point ``tag`` at ``digest`` (moving it off any other image, which stays untagged)."""
        old = self.by_tag.get(tag)
        if old == digest:
            return
        if old is not None:
            self.images[old].tags.remove(tag)
        self.images[digest].tags.append(tag)
        self.by_tag[tag] = digest

    def delete(self, digest: str) -> ImageRecord:
        rec = self.images.pop(digest)
        for t in rec.tags:
            del self.by_tag[t]
        for child in rec.image.children:
            ps = self.parents.get(child.digest)
            if ps is not None:
                ps.discard(digest)
                if not ps:
                    del self.parents[child.digest]
        self._order = None
        return rec

    def untag(self, tag: str) -> tuple[ImageRecord, bool]:
        """Remove ``tag``; ECR deletes the image when its last tag goes.

        Returns (record, deleted).
        """
        digest = self.by_tag[tag]
        rec = self.images[digest]
        if len(rec.tags) == 1:
            return self.delete(digest), True
        rec.tags.remove(tag)
        del self.by_tag[tag]
        return rec, False

    def referencing_indexes(self, digest: str) -> set[str]:
        return self.parents.get(digest, set())

    # -- reading --------------------------------------------------------------------------
    def ordered(self) -> tuple[list[ImageRecord], list[int]]:
        """Records in push order plus their sequence keys (for bisect-based pagination)."""
        if self._order is None:
            self._order = list(self.images.values())  # dict order == push order
            self._keys = [r.seq for r in self._order]
        assert self._keys is not None
        return self._order, self._keys

    def after(self, seq: int) -> int:
        """Index of the first record with a sequence number greater than ``seq``."""
        return bisect.bisect_right(self.ordered()[1], seq)


class TaskDefState:
    def __init__(self, account: str, region: str, td: TaskDefinition) -> None:
        self.td = td
        self.arn = td.arn(account, region)
        self.status = td.status


class ServiceState:
    def __init__(self, account: str, region: str, cluster: str, svc: Service) -> None:
        self.svc = svc
        self.name = svc.name
        self.arn = arns.service_arn(account, region, cluster, svc.name)
        self.status = svc.status

        def resolve(ref: str) -> str:
            return resolve_td(account, region, ref)

        self.deployments: list[tuple[Deployment, str, str]] = [
            (
                d,
                d.id or f"ecs-svc/{arns.stable_int(account, region, cluster, svc.name, 'd', i)}",
                resolve(d.task_definition),
            )
            for i, d in enumerate(svc.effective_deployments())
        ]
        self.task_sets: list[tuple[TaskSet, str, str]] = [
            (
                t,
                t.id or f"ecs-svc/{arns.stable_int(account, region, cluster, svc.name, 's', i)}",
                resolve(t.task_definition),
            )
            for i, t in enumerate(svc.task_sets)
        ]
        primary = svc.primary_task_definition()
        self.task_definition = resolve(primary) if primary else None
        # deployment id -> container name -> digest resolved when the deployment started
        # (frozen then: a tag moving later does not change it, as on ECS since 2024).
        self.revision_digests: dict[str, dict[str, str]] = {}


class TaskState:
    def __init__(self, account: str, region: str, cluster: str, task: Task, index: int) -> None:
        self.task = task
        self.id = task.id or arns.stable_hex(account, region, cluster, "task", index)
        self.arn = arns.task_arn(account, region, cluster, self.id)
        self.td_arn = resolve_td(account, region, task.task_definition)
        self.last_status = task.last_status
        self.desired_status = task.desired_status
        self.stopped_at: datetime | None = task.stopped_at


class ClusterState:
    def __init__(self, account: str, region: str, cluster: Cluster) -> None:
        self.account, self.region = account, region
        self.name = cluster.name
        self.arn = arns.cluster_arn(account, region, cluster.name)
        self.status = cluster.status
        self.services: dict[str, ServiceState] = {}
        self.tasks: dict[str, TaskState] = {}
        self._task_counter = 0
        for s in cluster.services:
            self.add_service(s)
        for t in cluster.tasks:
            self.add_task(t)

    def add_service(self, svc: Service) -> ServiceState:
        st = ServiceState(self.account, self.region, self.name, svc)
        self.services[svc.name] = st
        return st

    def add_task(self, task: Task) -> TaskState:
        st = TaskState(self.account, self.region, self.name, task, self._task_counter)
        self._task_counter += 1
        self.tasks[st.id] = st
        return st


class RegionState:
    def __init__(self, account: str, region: str) -> None:
        self.account, self.region = account, region
        self.clusters: dict[str, ClusterState] = {}
        self.task_defs: dict[tuple[str, int], TaskDefState] = {}
        self.repos: dict[str, RepoState] = {}
        # ECS Managed Daemons, App Runner and Lightsail container services, kept as the API
        # answers them (see Emulator.add_daemon / add_app_runner_service /
        # add_lightsail_container_service).
        self.daemons: dict[str, dict[str, Any]] = {}
        self.daemon_revisions: dict[str, dict[str, Any]] = {}
        self.daemon_deployments: dict[str, dict[str, Any]] = {}
        self.daemon_task_defs: dict[tuple[str, int], dict[str, Any]] = {}
        self.app_runner: dict[str, dict[str, Any]] = {}
        self.lightsail: dict[str, dict[str, Any]] = {}  # container service name → answer
        # SageMaker: collection ("Endpoint", "TrainingJob"…) → name → its Describe answer;
        # Studio image name → version → its DescribeImageVersion answer (ops_sagemaker.py)
        self.sagemaker: dict[str, dict[str, dict[str, Any]]] = {}
        self.sagemaker_image_versions: dict[str, dict[int, dict[str, Any]]] = {}
        # Braket, Clean Rooms ML, HealthOmics, Greengrass v2: collection → key → record
        # (ops_kinds.py)
        self.consumers: dict[str, dict[str, dict[str, Any]]] = {}

    def add_task_definition(self, td: TaskDefinition) -> None:
        self.task_defs[(td.family, td.revision)] = TaskDefState(self.account, self.region, td)


class OrgState:
    """Everything the server serves, keyed by (account, region)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.management_account = scenario.management_account
        self.organization_id = scenario.organization_id
        self.accounts: dict[str, Account] = {a.id: a for a in scenario.accounts}
        self.regions: dict[tuple[str, str], RegionState] = {}
        # (account, region, repo, digest) of every manifest removed by BatchDeleteImage.
        self.deleted: list[tuple[str, str, str, str]] = []
        # How long a restore (UpdateImageStorageClass STANDARD) stays ACTIVATING: AWS says
        # up to 20 minutes; tests choose (Emulator.set_activation_delay).
        self.activation_delay_s = 0.0
        for acct in scenario.accounts:
            for reg in acct.regions:
                rs = self.region(acct.id, reg.name)
                for td in reg.task_definitions:
                    rs.add_task_definition(td)
                for c in reg.clusters:
                    rs.clusters[c.name] = ClusterState(acct.id, reg.name, c)
                for repo in reg.repositories:
                    rs.repos[repo.name] = RepoState(acct.id, reg.name, repo)
        # Deployments resolve their images once every repository (of every account) exists.
        for rs in self.regions.values():
            for cluster in rs.clusters.values():
                for svc in cluster.services.values():
                    self.resolve_deployments(rs, cluster, svc)

    def resolve_deployments(
        self, rs: RegionState, cluster: ClusterState, svc: ServiceState
    ) -> None:
        """Freeze the digest each deployment's containers run (its service revision's
        ``containerImages[].imageDigest``): the scenario's explicit ``image_digests``, else the
        digest a running task of the deployment reports, else where the tag points now (a
        digest-pinned image is its pin; images outside this org's ECR get none)."""
        for dep, dep_id, td_arn in svc.deployments:
            explicit = dict(dep.image_digests)
            running: dict[str, str] = {}
            for t in cluster.tasks.values():
                if t.td_arn == td_arn and t.task.service == svc.name:
                    for ct in t.task.containers:
                        if ct.image_digest:
                            running.setdefault(ct.name, ct.image_digest)
            family, _, rev = td_arn.rsplit("/", 1)[-1].rpartition(":")
            td = rs.task_defs.get((family, int(rev))) if rev.isdigit() else None
            digests: dict[str, str] = {}
            for cd in td.td.containers if td is not None else ():
                digest = explicit.get(cd.name) or running.get(cd.name) or self.digest_of(cd.image)
                if digest:
                    digests[cd.name] = digest
            svc.revision_digests[dep_id] = digests

    def digest_of(self, image: str) -> str | None:
        """Where a private-ECR image reference points now (None if it does not resolve)."""
        name, tag, digest = arns.split_image_uri(image)
        if digest:
            return digest
        host, _, repo_name = name.partition("/")
        parts = host.split(".")
        if len(parts) < 4 or parts[1:3] != ["dkr", "ecr"]:
            return None
        repo = self.regions.get((parts[0], parts[3]), RegionState("", "")).repos.get(repo_name)
        return repo.by_tag.get(tag or "latest") if repo is not None else None

    def region(self, account: str, region: str) -> RegionState:
        rs = self.regions.get((account, region))
        if rs is None:
            rs = self.regions[(account, region)] = RegionState(account, region)
        return rs

    def repo(self, account: str, region: str, name: str) -> RepoState:
        return self.region(account, region).repos[name]

    def create_repository(self, account: str, region: str, repo: Repository) -> None:
        self.region(account, region).repos[repo.name] = RepoState(account, region, repo)

    def cluster(self, account: str, region: str, name: str) -> ClusterState:
        rs = self.region(account, region)
        if name not in rs.clusters:
            rs.clusters[name] = ClusterState(account, region, Cluster(name))
        return rs.clusters[name]


def resolve_td(account: str, region: str, ref: str) -> str:
    """``family:rev`` -> full task definition ARN (full ARNs pass through)."""
    if ref.startswith("arn:"):
        return ref
    family, _, rev = ref.rpartition(":")
    if not family or not rev.isdigit():
        raise ValueError(f"task definition reference must be 'family:revision' or an ARN: {ref!r}")
    return arns.task_definition_arn(account, region, family, int(rev))


__all__ = [
    "DEFAULT_TIME",
    "ClusterState",
    "ImageRecord",
    "OrgState",
    "RegionState",
    "RepoState",
    "ServiceState",
    "TaskDefState",
    "TaskState",
    "resolve_td",
]
