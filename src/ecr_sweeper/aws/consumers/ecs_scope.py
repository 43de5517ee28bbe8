"""What the ECS readers of one account × region share: the clusters (listed once), the task
definitions in use (each described as soon as any reader names it: schedules, pipes and Step
Functions name them too), and the families in use (for the rollback window, read after)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio

from ecr_sweeper.aws.consumers.reading import ClientFor, Reading, Seen
from ecr_sweeper.aws.limits import Api, bucket_for, fan_out
from ecr_sweeper.model import AccountTarget

# The busiest bucket of an ECS chain is its task definition reads: once a burst of them is
# named, it has work queued for the burst and beyond (see `on_under_way`).
_DESCRIBE_BUCKET = bucket_for("ecs", "DescribeTaskDefinition")
FED = int(_DESCRIBE_BUCKET.burst) if _DESCRIBE_BUCKET is not None else 1


@dataclass(slots=True)
class EcsScope:
    """The ECS state of one account × region's usage scan (see the module docstring)."""

    target: AccountTarget
    api: Api
    client: ClientFor
    # task definition (ARN, or a family meaning its latest ACTIVE revision) → (used by, kind)
    task_definitions: dict[str, tuple[str, str]] = field(default_factory=dict)
    families: set[str] = field(default_factory=set)
    windowed: set[str] = field(default_factory=set)  # families the rollback window has read
    excluded_clusters: list[str] = field(default_factory=list)  # by the cluster patterns
    _images: list[Seen] = field(default_factory=list)  # of the task definitions described
    _counts: dict[str, int] = field(default_factory=dict)
    _clusters: list[str] | None = None
    _clusters_lock: anyio.Lock = field(default_factory=anyio.Lock)
    # Set while the readers run (`describing`): describes a task definition as soon as it is
    # named, so its bucket works while the readers still read theirs.
    _describe: Callable[[str, str, str], object] | None = None
    # Told once, when this chain's busiest bucket has its work queued: a burst of task
    # definitions named (`FED`), no cluster to read, or the ECS readers done (scan.py). The run
    # starts what is not on its critical path then (pipeline.py).
    on_under_way: Callable[[], None] | None = None
    _under_way: bool = False
    _under_way_event: anyio.Event | None = None  # made when first awaited (in the event loop)

    def under_way(self) -> None:
        """The chain's busiest bucket has its work (or there is none): say so, once."""
        if not self._under_way:
            self._under_way = True
            if self._under_way_event is not None:
                self._under_way_event.set()
            if self.on_under_way is not None:
                self.on_under_way()

    async def chain_under_way(self) -> None:
        """Until `under_way` was said."""
        if not self._under_way:
            if self._under_way_event is None:
                self._under_way_event = anyio.Event()
            await self._under_way_event.wait()

    async def clusters(self) -> list[str]:
        """The ARNs of the clusters to read (listed once, shared by the ECS readers)."""
        async with self._clusters_lock:
            if self._clusters is None:
                ecs = await self.client("ecs")
                arns = await self.api.pages(ecs.list_clusters, "clusterArns", maxResults=100)
                self._clusters = [a for a in arns if self.target.clusters.matches(short_name(a))]
                self.excluded_clusters = sorted(
                    short_name(a) for a in arns if a not in self._clusters
                )
                self._counts["clusters"] = len(self._clusters)
                if not self._clusters:
                    self.under_way()  # no chain here
            return self._clusters

    def name_task_definition(self, arn: str, used_by: str, kind: str) -> None:
        """A task definition in use: described once per scan (at once, while the readers
        run), and its family remembered."""
        if arn not in self.task_definitions:
            self.task_definitions[arn] = (used_by, kind)
            if self._describe is not None:
                self._describe(arn, used_by, kind)
            if len(self.task_definitions) >= FED:
                self.under_way()
        self.families.add(family_of(arn))

    def reading(self) -> Reading:
        """The images of the task definitions described, and the counts of this scope."""
        return Reading(tuple(self._images), dict(self._counts))

    @asynccontextmanager
    async def describing(self) -> AsyncIterator[None]:
        """Within the block, every task definition named is described at once (each once,
        concurrently); on leaving it, those named before are described, and every describe
        has answered. A failed describe raises (and cancels the block: the scan is failed)."""
        ecs = await self.client("ecs")

        async def describe(name: str, used_by: str, kind: str) -> None:
            answer = await self.api.call(ecs.describe_task_definition, taskDefinition=name)
            definition = answer["taskDefinition"]
            label = short_name(definition.get("taskDefinitionArn", name))
            for container in definition.get("containerDefinitions", []):
                where = f"task definition {label} container {container.get('name')} ({used_by})"
                self._images.append(Seen(container.get("image", ""), where, None, kind))

        # As many at once as the account × region's calls in flight.
        async with fan_out(describe, self.api.calls_at_once) as put:
            for name, (used_by, kind) in sorted(self.task_definitions.items()):
                put(name, used_by, kind)
            self._describe = put
            try:
                yield
            finally:
                self._describe = None
        self._counts["task definitions"] = len(self.task_definitions)


def short_name(arn: str) -> str:
    """The last path segment of an ARN (cluster, service, task, family:revision)."""
    return arn.rsplit("/", 1)[-1]


def family_of(task_definition: str) -> str:
    """`arn:…:task-definition/web:3`, `web:3` or `web` → `web`."""
    return short_name(task_definition).split(":", 1)[0]
