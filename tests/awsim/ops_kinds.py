"""The REST-JSON consumers moto lacks: Braket hybrid jobs (SearchJobs, GetJob), Clean Rooms ML
configured model algorithms (ListConfiguredModelAlgorithms, GetConfiguredModelAlgorithm),
HealthOmics workflows (ListWorkflows: the census; its `workflows-` host prefix is off in the
emulator's environment, AWS_DISABLE_HOST_PREFIX_INJECTION) and IoT Greengrass v2 components
(ListComponents, ListComponentVersions, GetComponent). Records are kept as the Get calls answer
them (Emulator.add_braket_job, add_cleanrooms_ml_algorithm, add_omics_workflow,
add_greengrass_component); a listing answers the members its item shape has (botocore's
model), sorted by key and paged with `nextToken`."""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, StructureShape

from .context import Ctx, Handler
from .wire import AwsError, page_sorted

# (signing service, method, path pattern, operation); the first that matches routes a request.
ROUTES: tuple[tuple[str, str, re.Pattern[str], str], ...] = tuple(
    (service, method, re.compile(pattern), operation)
    for service, method, pattern, operation in (
        ("braket", "POST", r"/jobs", "SearchJobs"),
        ("braket", "GET", r"/job/(?P<jobArn>.+)", "GetJob"),
        ("cleanrooms-ml", "GET", r"/configured-model-algorithms", "ListConfiguredModelAlgorithms"),
        (
            "cleanrooms-ml",
            "GET",
            r"/configured-model-algorithms/(?P<configuredModelAlgorithmArn>.+)",
            "GetConfiguredModelAlgorithm",
        ),
        ("omics", "GET", r"/workflow", "ListWorkflows"),
        ("greengrass", "GET", r"/greengrass/v2/components", "ListComponents"),
        (
            "greengrass",
            "GET",
            r"/greengrass/v2/components/(?P<arn>.+)/versions",
            "ListComponentVersions",
        ),
        ("greengrass", "GET", r"/greengrass/v2/components/(?P<arn>.+)", "GetComponent"),
    )
)
# botocore's name of each signing service here
MODELS = {
    "braket": "braket",
    "cleanrooms-ml": "cleanroomsml",
    "omics": "omics",
    "greengrass": "greengrassv2",
}


def route(method: str, path: str, service: str | None) -> tuple[str, str, dict[str, str]] | None:
    """(service, operation, path parameters) of a request this module answers, else None."""
    for signing, verb, pattern, operation in ROUTES:
        if signing == service and verb == method and (m := pattern.fullmatch(path.rstrip("/"))):
            return service, operation, m.groupdict()
    return None


@cache
def _item_members(service: str, operation: str, key: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model(MODELS[service])
    output = model.operation_model(operation).output_shape
    assert isinstance(output, StructureShape)
    items = output.members[key]
    assert isinstance(items, ListShape)
    assert isinstance(items.member, StructureShape)
    return frozenset(items.member.members)


def _store(ctx: Ctx, collection: str) -> dict[str, dict[str, Any]]:
    return ctx.state.region(ctx.account, ctx.region).consumers.setdefault(collection, {})


def lister(service: str, operation: str, collection: str, key: str, *, keep: Any = None) -> Handler:
    """A listing of `collection` (records kept by key), in the shape of `operation`'s items;
    `keep(record, request)` filters."""

    def handler(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        records = _store(ctx, collection)
        names = sorted(k for k, r in records.items() if keep is None or keep(r, req))
        size = int(req.get("maxResults", 100))
        page, token = page_sorted(names, req.get("nextToken"), size, f"{service}:{operation}")
        members = _item_members(service, operation, key)
        items = [{k: v for k, v in records[n].items() if k in members} for n in page]
        return {key: items, **({"nextToken": token} if token else {})}

    return handler


@cache
def _output_members(service: str, operation: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model(MODELS[service])
    output = model.operation_model(operation).output_shape
    assert isinstance(output, StructureShape)
    return frozenset(output.members)


def getter(service: str, operation: str, collection: str, member: str) -> Handler:
    """A Get call answering the record `member` names, as its output shape has it (a record
    also holds what only its listing's items have, e.g. a Braket job's `device`)."""

    def handler(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
        record = _store(ctx, collection).get(str(req.get(member)))
        if record is None:
            raise AwsError("ResourceNotFoundException", f"{req.get(member)} not found", 404)
        members = _output_members(service, operation)
        return {k: v for k, v in record.items() if k in members}

    return handler


def list_component_versions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    if str(req.get("arn")) not in _store(ctx, "greengrass-components"):
        raise AwsError("ResourceNotFoundException", f"{req.get('arn')} not found", 404)
    versions: dict[str, Any] = lister(
        "greengrass",
        "ListComponentVersions",
        "greengrass-versions",
        "componentVersions",
        keep=lambda record, request: record["_component"] == request.get("arn"),
    )(ctx, req)
    return versions


def get_component(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    record = _store(ctx, "greengrass-versions").get(str(req.get("arn")))
    if record is None:
        raise AwsError("ResourceNotFoundException", f"{req.get('arn')} not found", 404)
    recipe = base64.b64encode(json.dumps(record["_recipe"]).encode()).decode()
    return {"recipeOutputFormat": "JSON", "recipe": recipe, "tags": {}}


HANDLERS: dict[str, dict[str, Handler]] = {
    "braket": {
        "SearchJobs": lister("braket", "SearchJobs", "braket-jobs", "jobs"),
        "GetJob": getter("braket", "GetJob", "braket-jobs", "jobArn"),
    },
    "cleanrooms-ml": {
        "ListConfiguredModelAlgorithms": lister(
            "cleanrooms-ml",
            "ListConfiguredModelAlgorithms",
            "cleanrooms-ml-algorithms",
            "configuredModelAlgorithms",
        ),
        "GetConfiguredModelAlgorithm": getter(
            "cleanrooms-ml",
            "GetConfiguredModelAlgorithm",
            "cleanrooms-ml-algorithms",
            "configuredModelAlgorithmArn",
        ),
    },
    "omics": {
        "ListWorkflows": lister(
            "omics",
            "ListWorkflows",
            "omics-workflows",
            "items",
            keep=lambda record, request: request.get("type") in (None, record.get("type")),
        )
    },
    "greengrass": {
        "ListComponents": lister(
            "greengrass", "ListComponents", "greengrass-components", "components"
        ),
        "ListComponentVersions": list_component_versions,
        "GetComponent": get_component,
    },
}
