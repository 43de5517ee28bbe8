"""Read a request or an answer by its service model's shapes, never by a key's name.

A source says which members mean something to it as (structure shape, member) pairs of the
service's botocore model, say `("EksContainerOverride", "image")`; `find` walks a value beside
its shape and returns every such member it holds, with its path. User data (environment
variables, tags, parameters) can carry any key, and is never mistaken for an image.

`templated` values are the requests Step Functions states and Scheduler targets send: their keys
are the members' names in PascalCase, and a value may be left to run time (a JSONPath `Key.$`,
a JSONata `{% … %}` string, an intrinsic function). A run-time value at, or above, a member
that matters makes the request's images unknown: `find` raises `Unresolvable` naming the field.
A reader whose documents mark run-time values otherwise (a SageMaker pipeline's `{"Get": …}`)
passes `dynamic`, which says whether a value is one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from ecr_sweeper.aws.models import share_loader

References = Mapping[tuple[str, str], str]  # (structure shape, member) → what it means


@dataclass(frozen=True, slots=True)
class Found:
    """A member that matters, as found in a value."""

    meaning: str
    value: str
    path: str  # e.g. "eksPropertiesOverride.podProperties.containers[0].image"
    holder: Mapping[str, Any]  # the structure that holds it (a container's name is there)


class Unresolvable(Exception):  # noqa: N818 - a finding, named as one
    """A value that matters is only known at run time."""

    def __init__(self, field: str, value: object, why: str = "is only known at run time") -> None:
        super().__init__(f"{field} {why} ({_short(value)})")
        self.field = field


@cache
def data_session() -> botocore.session.Session:
    """The botocore session whose whole models the readers that interpret requests read (a
    Step Functions state, a schedule's target: any operation of the service, called by the
    run or not). One loader for every session: the process's, which the run's clients load
    their models with too, but with whole models where the clients' keep only the operations
    they call."""
    session = botocore.session.get_session()
    share_loader(session, whole=True)
    return session


@cache
def clients_session() -> botocore.session.Session:
    """A botocore session on the process's loader as the run's clients load their models:
    pruned to the operations the run calls (`models.LeanLoader.keep`). Those operations'
    shapes, every service's metadata and the endpoint data are whole there, and no model is
    loaded that the clients do not load too."""
    session = botocore.session.get_session()
    share_loader(session)
    return session


@cache
def service_model(service: str) -> ServiceModel:
    """botocore's whole model of a service (loaded once): for the requests of any operation."""
    return data_session().get_service_model(service)


@cache
def called_model(service: str) -> ServiceModel:
    """The model of a service as the run's clients have it (`clients_session`): for the
    answers of the operations a reader calls, and the service's metadata."""
    return clients_session().get_service_model(service)


def is_jsonata(value: object) -> bool:
    """A JSONata expression (`{% … %}`), evaluated at run time."""
    return (
        isinstance(value, str) and value.strip().startswith("{%") and value.strip().endswith("%}")
    )


class Schema:
    """The members of one service that matter to a reader, and which shapes can hold them: in
    the answers of the operations the reader calls (`called_model`), or, with `requests`, in
    the requests of any operation (a Step Functions state's, a pipeline step's: the whole
    `service_model`)."""

    def __init__(self, service: str, references: References, *, requests: bool = False) -> None:
        self.model = service_model(service) if requests else called_model(service)
        self.references = references
        self._requests = requests
        self._reaches: dict[str, bool] = {}

    def input_shape(self, operation: str) -> StructureShape | None:
        """The request shape of `operation` (PascalCase), or None when the service has none.
        Only of a schema of requests: the model of answers lacks the operations the run does
        not call, and a request read by it would hold nothing (fail open)."""
        if not self._requests:
            raise TypeError(f"{self.model.service_name}: a schema of answers reads no requests")
        if operation not in self.model.operation_names:
            return None
        shape = self.model.operation_model(operation).input_shape
        return shape if isinstance(shape, StructureShape) else None

    def output_shape(self, operation: str) -> Shape:
        """The answer shape of `operation` (PascalCase)."""
        shape = self.model.operation_model(operation).output_shape
        if shape is None:
            raise ValueError(f"{self.model.service_name}:{operation} answers nothing")
        return shape

    def shape(self, name: str) -> Shape:
        return self.model.shape_for(name)

    def reaches(self, shape: Shape) -> bool:
        """Whether a value of `shape` can hold a member that matters."""
        if shape.name in self._reaches:
            return self._reaches[shape.name]
        self._reaches[shape.name] = False  # recursive shapes: assume no until shown otherwise
        answer = False
        if isinstance(shape, StructureShape):
            answer = any(
                (shape.name, name) in self.references or self.reaches(member)
                for name, member in shape.members.items()
            )
        elif isinstance(shape, ListShape):
            answer = self.reaches(shape.member)
        elif isinstance(shape, MapShape):
            answer = self.reaches(shape.value)
        self._reaches[shape.name] = answer
        return answer

    def find(
        self,
        shape: Shape,
        value: object,
        *,
        templated: bool = False,
        dynamic: Callable[[object], bool] | None = None,
    ) -> list[Found]:
        """Every member that matters in `value` (of `shape`). Raises `Unresolvable`: with
        `templated`, at a Step Functions run-time value; with `dynamic`, at a value it names."""
        found: list[Found] = []
        run_time = dynamic or _never
        if ((templated and is_jsonata(value)) or run_time(value)) and self.reaches(shape):
            raise Unresolvable("(the whole request)", value)
        self._walk(shape, value, "", (templated, run_time), found)
        return found

    def _walk(
        self,
        shape: Shape,
        value: object,
        path: str,
        mode: tuple[bool, Callable[[object], bool]],
        out: list[Found],
    ) -> None:
        templated, run_time = mode
        if isinstance(shape, StructureShape) and isinstance(value, Mapping):
            members = {name.lower(): (name, member) for name, member in shape.members.items()}
            for key, item in value.items():
                dynamic = (templated and (key.endswith(".$") or is_jsonata(item))) or run_time(item)
                base = key[:-2] if templated and key.endswith(".$") else key
                if (name_member := members.get(base.lower())) is None:
                    continue
                name, member = name_member
                where = f"{path}.{name}" if path else name
                matters = (shape.name, name) in self.references
                if dynamic:
                    if matters or self.reaches(member):
                        raise Unresolvable(where, item)
                    continue
                if matters and isinstance(item, str):
                    out.append(Found(self.references[(shape.name, name)], item, where, value))
                else:
                    self._walk(member, item, where, mode, out)
        elif isinstance(shape, ListShape) and isinstance(value, list):
            for n, item in enumerate(value):
                if ((templated and is_jsonata(item)) or run_time(item)) and self.reaches(
                    shape.member
                ):
                    raise Unresolvable(f"{path}[{n}]", item)
                self._walk(shape.member, item, f"{path}[{n}]", mode, out)
        elif isinstance(shape, MapShape) and isinstance(value, Mapping):
            for key, item in value.items():
                self._walk(shape.value, item, f"{path}[{key}]", mode, out)


def _never(value: object) -> bool:  # noqa: ARG001 - no value is a run-time one
    return False


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
