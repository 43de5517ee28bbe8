"""The interface of a consumer kind, and what its reader hands back.

A `Kind` is one value: its one name (the census kind, the CLI switch `--NAME/--no-NAME`, the
accounts file's `[sources] NAME = false`, `--accept-unread NAME`), its switch, its census call
(`present`), its readers (each returns a `Reading`: what it saw, as a value), the IAM actions
they call, the service principals a repository policy names it by, and a note of what moto and
the project's emulator serve of it. A kind without readers is census-only: the tool cannot read
it, so where it is present it holds what it could pull until accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from botocore.exceptions import EndpointResolutionError, UnknownEndpointError

from ecr_sweeper.aws.consumers import endpoints
from ecr_sweeper.aws.consumers.ecs_scope import EcsScope
from ecr_sweeper.aws.consumers.reading import ClientFor, Reading, Seen
from ecr_sweeper.aws.limits import Api
from ecr_sweeper.model import AccountTarget, Region, Sources

__all__ = [
    "ClientFor",
    "Findings",
    "IamAction",
    "Kind",
    "ReadContext",
    "Reader",
    "Reading",
    "Seen",
    "Switch",
    "present_unless_absent",
]


class Findings:
    """What a reader gathers while it reads, turned into its `Reading` at the end. Task
    definitions it names go to the ECS scope at once (described as soon as named)."""

    def __init__(self, name_task_definition: Callable[[str, str, str], None]) -> None:
        self._name_task_definition = name_task_definition
        self._images: list[Seen] = []
        self._counts: dict[str, int] = {}
        self._unread: list[str] = []
        self._present: bool | None = None

    def present(self, listed: bool) -> None:
        """What the reader's listing says of the kind's presence here (the census's own
        question, so the census does not ask it again): any listing that found something
        makes it present; it is absent only when every listing the reader reports found
        nothing."""
        self._present = listed or bool(self._present)

    def image(self, image: str, source: str, digest: str | None, kind: str) -> None:
        """Record an image reference (parsed later, so a bad one becomes an error)."""
        self._images.append(Seen(image, source, digest, kind))

    def task_definition(self, arn: str, used_by: str, kind: str) -> None:
        """A task definition (ARN, or a family meaning its latest ACTIVE revision) in use."""
        self._name_task_definition(arn, used_by, kind)

    def count(self, what: str, n: int = 1) -> None:
        self._counts[what] = self._counts.get(what, 0) + n

    def unread(self, detail: str) -> None:
        """Some consumers of the kind here could not be read (one line: which, and what to
        grant): the census says the kind is present and unread, the planner holds what it
        could pull, and the run's usage does not fail."""
        self._unread.append(detail)

    def reading(self) -> Reading:
        return Reading(tuple(self._images), dict(self._counts), tuple(self._unread), self._present)


@dataclass(slots=True)
class ReadContext:
    """What a reader of one account × region gets: the target, the call gate, the clients, the
    run's sources, and the ECS scope (the clusters and task definitions the ECS readers share)."""

    target: AccountTarget
    region: Region
    api: Api
    client: ClientFor
    sources: Sources
    now: datetime
    ecs: EcsScope
    # Set by the scan for each reader (`for_reader`): what it has found so far is kept even
    # when it then fails (the scan is failed anyway, and its plan's reasons name what was seen).
    recorder: Findings | None = None

    def for_reader(self) -> ReadContext:
        """This context, with a recorder of its own for one reader."""
        return replace(self, recorder=Findings(self.ecs.name_task_definition))

    def findings(self) -> Findings:
        """The recorder of this reader (its task definitions go to the ECS scope)."""
        if self.recorder is None:
            self.recorder = Findings(self.ecs.name_task_definition)
        return self.recorder

    async def client_if_offered(self, service: str) -> Any | None:
        """The run's client for `service` here, or None where AWS does not offer it
        (endpoints.py: botocore's data does not list it and, when the run calls AWS's own
        endpoint, AWS's host name for it there does not exist)."""
        try:
            client = await self.client(service)
        except (UnknownEndpointError, EndpointResolutionError):
            # botocore cannot name an endpoint for it here: absent only where its data does
            # not list the service either; else nothing was read (presence unknown).
            if endpoints.listed(service, self.region) is False:
                return None
            raise
        offered = await endpoints.offered(service, self.region, client.meta.endpoint_url)
        return client if offered else None


@dataclass(frozen=True, slots=True)
class Reader:
    """One reader of a kind: its name (in errors and census details) and its read."""

    name: str
    read: Callable[[ReadContext], Awaitable[Reading]]


@dataclass(frozen=True, slots=True)
class Switch:
    """The on/off switch of a kind: `--NAME/--no-NAME`, `[sources] NAME = false`."""

    help: str  # the CLI's help text
    aliases: tuple[str, ...] = ()  # deprecated spellings (file keys; flags with - for _)


@dataclass(frozen=True, slots=True)
class IamAction:
    """An IAM action a kind's census or readers call, in which statement, and why."""

    action: str
    statement: str
    purpose: str


@dataclass(frozen=True, slots=True)
class Kind:
    """One consumer kind (see the module docstring)."""

    name: str
    title: str  # in census details where no reader names it ("lightsail container services")
    present: Callable[[ReadContext], Awaitable[bool]]
    readers: tuple[Reader, ...] = ()
    switch: Switch | None = None  # None: always read (ecs), or census-only
    iam: tuple[IamAction, ...] = ()
    principals: tuple[str, ...] = ()  # service principals of repository policies
    emulated: str = ""  # what moto's server and tests/awsim serve of it

    @property
    def census_only(self) -> bool:
        """The tool has no reader for this kind: only its census is taken."""
        return not self.readers

    def reads(self, sources: Sources) -> bool:
        """Whether the run reads this kind (on, and a reader exists)."""
        return not self.census_only and self.name not in sources.off


async def present_unless_absent(
    ctx: ReadContext, service: str, ask: Callable[[Any], Awaitable[bool]]
) -> bool:
    """`ask(client)`, except that a service AWS does not offer here has nothing here
    (endpoints.py)."""
    client = await ctx.client_if_offered(service)
    return False if client is None else await ask(client)
