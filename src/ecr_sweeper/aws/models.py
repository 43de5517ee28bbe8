"""botocore's service models, loaded once per process and kept lean.

A sweep calls about 25 services; their models (service-2.json, endpoint-rule-set-1.json) are
JSON that decodes to tens of MB of dicts and strings, a fixed cost of every `plan` and `apply`
whatever the number of images. So:

* one `Loader` for the whole process (`loader()`): the shared clients, every assumed role's
  session, the readers' shapes (consumers/shapes.py) and the region check (regions.py) read the
  same decoded models, never a second copy;
* JSON objects decode to plain dicts, not botocore's OrderedDicts (about half the memory);
* a model loses its prose as it is loaded (`documentation`, `documentationUrl`: docstrings and
  help text, nothing botocore needs to send a call or read its answer);
* a service the sweep calls for a few operations only (`KEPT`, and what the consumer kinds
  call: `LeanLoader.keep`) keeps those operations and the shapes they reach, nothing else:
  EC2's model is the largest of all (~13 MB decoded) and the sweep asks it only which regions
  are enabled; SageMaker's is 4.3 MB without its prose, for 30 of its 409 operations.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError
from botocore.loaders import JSONFileLoader, Loader
from botocore.session import Session

# Services whose model keeps only the operations the sweep calls (their API names). An
# operation not kept is not a method of the service's clients (AttributeError).
KEPT: Mapping[str, frozenset[str]] = {
    "ec2": frozenset({"DescribeRegions"}),  # session.enabled_regions
}

_PROSE = ("documentation", "documentationUrl")


class PlainJSONFileLoader(JSONFileLoader):
    """botocore's JSON file loader, decoding objects to plain dicts (ordered, as every dict
    is) where botocore's makes OrderedDicts, which take about twice the memory."""

    def load_file(self, file_path: str) -> Any:
        """The data of `file_path` + .json (or .json.gz), or None when neither exists."""
        for extension, opener in ((".json", open), (".json.gz", gzip.open)):
            path = file_path + extension
            if os.path.isfile(path):
                with opener(path, "rb") as file:
                    return json.loads(file.read().decode("utf-8"))
        return None


class LeanLoader(Loader):
    """botocore's loader, whose service models come without prose, and pruned to the
    operations in `kept` for the services it names (botocore's names)."""

    def __init__(
        self,
        *,
        kept: Mapping[str, frozenset[str]] = KEPT,
        extra_search_paths: list[str] | None = None,
    ) -> None:
        super().__init__(extra_search_paths=extra_search_paths, file_loader=PlainJSONFileLoader())
        self._paths = extra_search_paths
        self._kept = dict(kept)
        self._lean: set[int] = set()  # id() of the models already made lean (cached by Loader)
        self._whole: LeanLoader | None = None

    def keep(self, kept: Mapping[str, frozenset[str]]) -> None:
        """Prune these services too, to the operations given, from the next time their model
        is loaded (one loaded before stays as it is). Their whole models stay readable through
        `whole()`."""
        for service, operations in kept.items():
            self._kept[service] = self._kept.get(service, frozenset()) | operations

    def whole(self) -> LeanLoader:
        """A loader of the same models, except that those `keep` prunes come whole (prose
        aside): for reading the request shapes of operations the sweep does not call
        (consumers/shapes.py). Everything else (other models, endpoint data) is this loader's,
        not a second copy."""
        if self._whole is None:
            self._whole = _Whole(self)
        return self._whole

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        """The model as botocore loads it (and caches), made lean the first time."""
        model = super().load_service_model(service_name, type_name, api_version)
        if type_name == "service-2" and id(model) not in self._lean:
            if service_name in self._kept:
                prune(model, self._kept[service_name])
            strip_prose(model)
            self._lean.add(id(model))
        return model


class _Whole(LeanLoader):
    """`LeanLoader.whole`: the models `pruned.keep` prunes, whole; the rest, `pruned`'s."""

    def __init__(self, pruned: LeanLoader) -> None:
        super().__init__(kept=KEPT, extra_search_paths=pruned._paths)
        self._pruned = pruned

    def _read_again(self, service_name: str) -> bool:
        return service_name in self._pruned._kept.keys() - KEPT.keys()

    def load_service_model(
        self, service_name: str, type_name: str, api_version: str | None = None
    ) -> Any:
        if self._read_again(service_name):
            return super().load_service_model(service_name, type_name, api_version)
        return self._pruned.load_service_model(service_name, type_name, api_version)

    def load_data(self, name: str) -> Any:
        # botocore loads a model as the data at service/version/type: those of the services
        # read whole are read again; everything else (endpoints, partitions…) is shared.
        if self._read_again(name.split(os.sep, 1)[0]):
            return super().load_data(name)
        return self._pruned.load_data(name)


def loader(data_path: str | None = None) -> LeanLoader:
    """The process's loader (one per `data_path`: botocore's AWS_DATA_PATH setting)."""
    return _loader(data_path or None)  # loader() is loader(None): one cache key, one loader


@cache
def _loader(data_path: str | None) -> LeanLoader:
    paths = [os.path.expanduser(p) for p in data_path.split(os.pathsep)] if data_path else None
    return LeanLoader(extra_search_paths=paths)


def share_loader(session: Session, *, whole: bool = False) -> LeanLoader:
    """Make `session` load its models with the process's loader for its data path (botocore's
    `data_path` setting: AWS_DATA_PATH or the profile's), and return that loader (with
    `whole`, its `whole()`). Call it before the session loads anything."""
    try:
        data_path = session.get_config_variable("data_path")
    except BotoCoreError:  # AWS_PROFILE names no profile: the credentials check says so
        data_path = os.environ.get("AWS_DATA_PATH")
    shared = loader(data_path or None)
    if whole:
        shared = shared.whole()
    session.register_component("data_loader", shared)
    return shared


def strip_prose(model: dict[str, Any]) -> None:
    """Drop the documentation of the service, its operations, shapes and members (in place).
    Only where the model's schema puts prose: a member may itself be named `documentation`."""
    for key in _PROSE:
        model.pop(key, None)
    for operation in model.get("operations", {}).values():
        _drop_prose(operation)
        for ref in _refs(operation):
            _drop_prose(ref)
    for shape in model.get("shapes", {}).values():
        _drop_prose(shape)
        for ref in _shape_refs(shape):
            _drop_prose(ref)


def prune(model: dict[str, Any], operations: frozenset[str]) -> None:
    """Keep `operations` and the shapes they reach (input, output, errors, members), in place.
    Raises KeyError naming an operation the model does not have."""
    missing = operations - set(model["operations"])
    if missing:
        raise KeyError(f"{model['metadata'].get('serviceId')}: no operation {sorted(missing)}")
    model["operations"] = {name: model["operations"][name] for name in sorted(operations)}
    shapes = model["shapes"]
    reached: set[str] = set()
    todo = [ref["shape"] for op in model["operations"].values() for ref in _refs(op)]
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        todo.extend(ref["shape"] for ref in _shape_refs(shapes[name]))
    model["shapes"] = {name: shape for name, shape in shapes.items() if name in reached}


def _drop_prose(node: dict[str, Any]) -> None:
    for key in _PROSE:
        node.pop(key, None)


def _refs(operation: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The shape references of an operation: input, output, errors."""
    for key in ("input", "output"):
        if key in operation:
            yield operation[key]
    yield from operation.get("errors", ())


def _shape_refs(shape: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The shape references of a shape: its members, list member, map key and value."""
    yield from shape.get("members", {}).values()
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]
