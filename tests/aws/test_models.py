"""The process's service models (aws/models.py): loaded once, without prose, EC2's pruned to
the operations the sweep calls; calls through them still work against moto's server."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.loaders import Loader
from botocore.model import ListShape, MapShape, ServiceModel, StructureShape
from tools.iam import actions_in_code

from ecr_sweeper.aws import models, regions
from ecr_sweeper.aws.consumers import endpoints
from ecr_sweeper.aws.consumers.registry import BOTOCORE_NAMES, iam_actions, kept_operations
from ecr_sweeper.aws.consumers.shapes import Schema, called_model, data_session, service_model
from ecr_sweeper.aws.models import (
    KEPT,
    LeanLoader,
    PlainJSONFileLoader,
    loader,
    prune,
    strip_prose,
)
from ecr_sweeper.aws.session import Connections, base_session, enabled_regions
from ecr_sweeper.model import AccountId, AccountTarget


def _prose_free(model: dict[str, Any]) -> dict[str, Any]:
    """botocore's own model with its prose removed by hand (the expected lean model)."""
    expected = copy.deepcopy(model)
    expected.pop("documentation", None)
    for operation in expected["operations"].values():
        operation.pop("documentation", None)
        operation.pop("documentationUrl", None)
        for key in ("input", "output"):
            operation.get(key, {}).pop("documentation", None)
        for error in operation.get("errors", ()):
            error.pop("documentation", None)
    for shape in expected["shapes"].values():
        shape.pop("documentation", None)
        for member in shape.get("members", {}).values():
            member.pop("documentation", None)
        for key in ("member", "key", "value"):
            shape.get(key, {}).pop("documentation", None)
    return expected


@pytest.mark.parametrize("service", ["sagemaker", "ecs", "sts", "stepfunctions", "lambda"])
def test_a_lean_model_is_botocores_without_its_prose(service: str) -> None:
    original = Loader().load_service_model(service, "service-2")
    lean = LeanLoader().load_service_model(service, "service-2")
    assert "documentation" in original["shapes"][next(iter(original["shapes"]))] or any(
        "documentation" in shape for shape in original["shapes"].values()
    )
    assert lean == _prose_free(original)


def test_prose_is_dropped_where_the_schema_puts_it_not_from_members_named_so() -> None:
    model = {
        "documentation": "the service",
        "operations": {"Get": {"documentation": "op", "input": {"shape": "In"}}},
        "shapes": {
            "In": {
                "type": "structure",
                "documentation": "a shape",
                "members": {"documentation": {"shape": "S", "documentation": "a member"}},
            },
            "S": {"type": "string"},
        },
    }
    strip_prose(model)
    assert model == {
        "operations": {"Get": {"input": {"shape": "In"}}},
        "shapes": {
            "In": {"type": "structure", "members": {"documentation": {"shape": "S"}}},
            "S": {"type": "string"},
        },
    }


def test_a_pruned_model_keeps_its_operations_and_every_shape_they_reach() -> None:
    for service, operations in KEPT.items():
        original = Loader().load_service_model(service, "service-2")
        lean = loader().load_service_model(service, "service-2")
        assert set(lean["operations"]) == set(operations)
        # every shape the kept operations reach is there (botocore resolves them all), and
        # is botocore's own (prose aside)
        model = ServiceModel(lean, service)
        for name in operations:
            operation = model.operation_model(name)
            _resolve_all(operation.input_shape, set())
            _resolve_all(operation.output_shape, set())
            for error in operation.error_shapes:
                _resolve_all(error, set())
        expected = _prose_free(original)["shapes"]
        assert lean["shapes"] == {name: expected[name] for name in lean["shapes"]}
        assert len(lean["shapes"]) < len(original["shapes"])


def _resolve_all(shape: Any, seen: set[str]) -> None:
    """Resolve every shape `shape` reaches (botocore raises NoShapeFoundError at a missing one)."""
    if shape is None or shape.name in seen:
        return
    seen.add(shape.name)
    if isinstance(shape, StructureShape):
        for member in shape.members.values():
            _resolve_all(member, seen)
    elif isinstance(shape, ListShape):
        _resolve_all(shape.member, seen)
    elif isinstance(shape, MapShape):
        _resolve_all(shape.key, seen)
        _resolve_all(shape.value, seen)


def test_pruning_to_an_operation_the_model_lacks_says_which() -> None:
    model = copy.deepcopy(Loader().load_service_model("ec2", "service-2"))
    with pytest.raises(KeyError, match="DescribeNothing"):
        prune(model, frozenset({"DescribeRegions", "DescribeNothing"}))


def test_one_loader_serves_the_clients_the_shapes_and_the_region_check() -> None:
    shared = base_session().get_component("data_loader")
    assert shared is loader()
    assert shared._kept.items() >= kept_operations().items()
    assert data_session().get_component("data_loader") is shared.whole()
    assert Connections()._loader is shared
    regions.known_regions.cache_clear()
    assert regions.known_regions()["aws"]
    # the readers' shapes are read from the very dict the clients' models are made of, but
    # where the clients' keep only the operations the kinds call (SageMaker's: a few lists)
    description = service_model("ecs")._service_description  # type: ignore[attr-defined] # botocore keeps it private
    assert description is shared.load_service_model("ecs", "service-2")
    whole = service_model("sagemaker")._service_description  # type: ignore[attr-defined]
    assert "CreateTrainingJob" in whole["operations"]
    assert (
        shared.load_service_model("sagemaker", "service-2")["operations"].keys()
        == (kept_operations()["sagemaker"])
    )


def test_where_a_service_is_offered_and_the_readers_answers_load_no_whole_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The census (is the service offered here: its endpoint prefix, the endpoint data) and
    the readers' schemas of the answers they read use the models the clients have, pruned:
    only a reader that interprets requests of any operation loads a whole model."""
    shared = base_session().get_component("data_loader")
    read_whole: list[str] = []
    reads_again = models._Whole._read_again

    def spied(self: Any, service_name: str) -> bool:
        again = reads_again(self, service_name)
        if again:
            read_whole.append(service_name)
        return again

    monkeypatch.setattr(models._Whole, "_read_again", spied)
    for cached in (endpoints.known, endpoints.listed, called_model, service_model):
        cached.cache_clear()
    pruned = ("sagemaker", "gamelift", "lightsail", "braket", "batch")
    for service in pruned:
        assert endpoints.known(service)
        endpoints.listed(service, "us-east-1")
        model = Schema(service, {}).model
        assert model._service_description is shared.load_service_model(service, "service-2")  # type: ignore[attr-defined]
        assert model.operation_names == sorted(kept_operations()[service])
    assert endpoints.aws_host("sagemaker", "eu-west-1") == "api.sagemaker.eu-west-1.amazonaws.com"
    assert read_whole == []
    # a schema of answers reads no request (its model lacks what the run does not call);
    # a reader of requests (Step Functions' integrations, pipeline steps) has the whole model
    with pytest.raises(TypeError, match="reads no requests"):
        Schema("sagemaker", {}).input_shape("CreateTrainingJob")
    assert "CreateTrainingJob" in Schema("sagemaker", {}, requests=True).model.operation_names


@pytest.mark.usefixtures("aws")
def test_a_client_of_a_pruned_service_serves_the_kept_operations_only() -> None:
    async def main() -> tuple[list[str], bool]:
        target = AccountTarget(account_id=AccountId("123456789012"), regions=(), role_arn=None)
        async with Connections() as connections:
            found = await enabled_regions(target, connections)
            ec2 = await connections.client(target, found[0], "ec2")
            return list(found), hasattr(ec2, "describe_instances")

    found, other_operation = anyio.run(main)
    assert "us-east-1" in found
    assert "eu-west-1" in found
    assert not other_operation


def test_json_decodes_to_plain_dicts_with_botocores_data_in_its_order() -> None:
    mine = LeanLoader().load_data("endpoints")
    theirs = Loader().load_data("endpoints")
    assert type(mine) is dict
    assert type(mine["partitions"][0]["services"]) is dict
    assert mine == theirs
    assert list(mine["partitions"][0]["services"]) == list(theirs["partitions"][0]["services"])


def test_a_gzipped_model_file_is_read_too(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "data.json.gz", "wt", encoding="utf-8") as file:
        json.dump({"b": 1, "a": [2]}, file)
    loader = PlainJSONFileLoader()
    assert loader.load_file(str(tmp_path / "data")) == {"b": 1, "a": [2]}
    assert loader.load_file(str(tmp_path / "absent")) is None


def test_every_operation_the_code_calls_on_a_pruned_service_is_kept() -> None:
    called = [action.split(":", 1) for action in actions_in_code()]  # tools/iam.py reads them
    kept: dict[str, frozenset[str]] = {**KEPT, **kept_operations()}
    for service, operations in kept.items():
        prefix = ServiceModel(Loader().load_service_model(service, "service-2"), service)
        calls = {operation for iam, operation in called if iam == prefix.signing_name}
        assert calls, f"the code calls no {service} operation: it needs no pruned model"
        assert calls <= operations, f"{service}: called but pruned: {calls - operations}"


def test_the_services_only_the_kinds_call_keep_only_what_the_kinds_call() -> None:
    """Their clients' models keep the operations the kinds declare and every shape those
    reach; the readers' models (`whole()`) are whole (prose aside); every other model, and the
    endpoint data, is one object for both."""
    lean_loader = LeanLoader()
    kept = kept_operations()
    lean_loader.keep(kept)
    prefixes = {action.action.split(":")[0] for action in iam_actions()}
    assert {BOTOCORE_NAMES.get(p, p) for p in prefixes} >= kept.keys()
    for service, operations in kept.items():
        lean = lean_loader.load_service_model(service, "service-2")
        model = ServiceModel(lean, service)
        assert BOTOCORE_NAMES.get(model.signing_name, model.signing_name) == service
        assert set(lean["operations"]) == set(operations), service
        for name in operations:
            operation = model.operation_model(name)
            _resolve_all(operation.input_shape, set())
            _resolve_all(operation.output_shape, set())
        original = Loader().load_service_model(service, "service-2")
        assert len(lean["shapes"]) < len(original["shapes"]), service
        whole = lean_loader.whole().load_service_model(service, "service-2")
        assert whole == _prose_free(original), service
    for service in ("ecs", "ecr", "ec2"):
        lean = lean_loader.load_service_model(service, "service-2")
        assert lean_loader.whole().load_service_model(service, "service-2") is lean
    assert lean_loader.whole().load_data("endpoints") is lean_loader.load_data("endpoints")
