"""aws/wire.py against the AWS JSON 1.1 protocol tests and against botocore's own parser.

* Conformance: every case of botocore's copy of the AWS JSON 1.1 protocol tests
  (`tests/unit/protocols/{input,output}/json*.json`, in `../shared/protocol-data/botocore`
  beside the checkout; never copied into the project) goes through a `WireClient` over loopback
  HTTP and is compared as botocore's `tests/unit/test_protocols.py` compares it: the request's
  method, URI, headers and body (bodies as JSON values, which is what the Smithy tests specify
  for `application/json`; botocore's runner compares its own serializer's bytes), and the
  parsed answer or error (`Error.Code`/`Message` plus the error shape's members, timestamps as
  epoch seconds, `ResponseMetadata` left out). A case is skipped only when it uses a feature
  no operation wire.py sends has (computed from the ECS and ECR models), with that reason.
* Differential: answers generated (hypothesis) from the output shapes of every operation in
  `OPERATIONS` parse to what botocore's JSON parser makes of them.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import botocore.session
import pytest
from aiobotocore.credentials import AioCredentials
from aiobotocore.session import AioSession
from botocore import xform_name
from botocore.exceptions import ClientError
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.parsers import JSONParser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_sweeper.aws.answers import MalformedAnswerError
from ecr_sweeper.aws.consumers.registry import kept_operations
from ecr_sweeper.aws.session import CLIENT_CONFIG, _by_wire
from ecr_sweeper.aws.wire import OPERATIONS, WireClient, output_walk, parse_answer
from loopback import Answer, Request, loopback

PROTOCOLS = (
    Path(__file__).parents[3] / "shared/protocol-data/botocore/tests/unit/protocols"
).resolve()
SUITES = sorted(p for kind in ("input", "output") for p in (PROTOCOLS / kind).glob("json*.json"))
CREDENTIALS = AioCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


# --------------------------------------------------------------------------- features


def _static_features(shape: Shape | None, found: set[str], seen: frozenset[str]) -> None:
    """Every feature reachable from `shape` (what an operation could send or answer)."""
    if shape is None:
        return
    found.update(_own_features(shape))
    if shape.name in seen:
        return
    seen |= {shape.name}
    for name, child in _children(shape):
        if name is not None and child.serialization.get("name", name) != name:
            found.add("members renamed on the wire (jsonName)")
        if child.metadata.get("idempotencyToken"):
            found.add("idempotency tokens")
        if child.serialization.get("hostLabel"):
            found.add("host labels")
        _static_features(child, found, seen)


def _used_features(shape: Shape | None, value: Any, found: set[str], *, request: bool) -> None:
    """The features a case's parameters (or answer) actually use, walking them by `shape`."""
    if shape is None or value is None:
        return
    found.update(_own_features(shape, request=request))
    any_shape: Any = shape
    if shape.type_name == "structure" and not any_shape.is_document_type:
        if not isinstance(value, dict):
            return
        for name, child in any_shape.members.items():
            key = name if request else child.serialization.get("name", name)
            if child.metadata.get("idempotencyToken") and request:
                found.add("idempotency tokens")  # filled in when absent
            if key in value:
                if child.serialization.get("name", name) != name:
                    found.add("members renamed on the wire (jsonName)")
                _used_features(child, value[key], found, request=request)
    elif shape.type_name == "list" and isinstance(value, list):
        for item in value:
            _used_features(any_shape.member, item, found, request=request)
    elif shape.type_name == "map" and isinstance(value, dict):
        for item in value.values():
            _used_features(any_shape.value, item, found, request=request)


# Request members that are not JSON as Python gives them: what a serializer must convert.
# (Strings, numbers, booleans, lists, maps, structures, unions and documents are.)
_CONVERTED = {"blob": "blob members in a request", "float": "floats in a request"}
_CONVERTED["double"] = _CONVERTED["float"]


def _own_features(shape: Shape, *, request: bool = True) -> set[str]:
    """The features of one shape a client must implement (an answer's every type is parsed
    by wire.py's walk, so only a request's conversions and traits count)."""
    found: set[str] = set()
    if shape.serialization.get("jsonvalue"):
        found.add("JSON values in strings (jsonvalue)")
    if request and shape.type_name in _CONVERTED:
        found.add(_CONVERTED[shape.type_name])
    if request and shape.type_name == "timestamp":
        fmt = shape.serialization.get("timestampFormat") or "unixTimestamp"
        found.add(f"{fmt} timestamps in a request")
    return found


def _children(shape: Shape) -> Iterator[tuple[str | None, Shape]]:
    any_shape: Any = shape
    if shape.type_name == "structure" and not any_shape.is_document_type:
        yield from any_shape.members.items()
    elif shape.type_name == "list":
        yield None, any_shape.member
    elif shape.type_name == "map":
        yield None, any_shape.key
        yield None, any_shape.value


def _operation_features(operation: OperationModel, *, request: bool) -> set[str]:
    found: set[str] = set()
    if request:
        _static_features(operation.input_shape, found, frozenset())
        if operation.endpoint:
            found.add("endpoint host prefixes")
        if operation.request_compression:
            found.add("request compression")
    else:
        _static_features(operation.output_shape, found, frozenset())
        for error in operation.error_shapes:
            _static_features(error, found, frozenset())
    return found


def wire_features(*, request: bool) -> set[str]:
    """What the operations wire.py sends have, in their requests or in their answers."""
    session = botocore.session.get_session()
    found: set[str] = set()
    # ECS's and ECR's, and the AWS JSON services' operations a sweep calls (AccountClient)
    sent = dict(OPERATIONS)
    for service, names in kept_operations().items():
        model = session.get_service_model(service)
        if service not in sent and model.resolved_protocol == "json":
            sent[service] = frozenset(xform_name(n) for n in names) & _by_wire(model)
    for service, wanted in sent.items():
        model = session.get_service_model(service)
        for api_name in model.operation_names:
            if xform_name(api_name) in wanted:
                found |= _operation_features(model.operation_model(api_name), request=request)
    return found


# --------------------------------------------------------------------------- the cases


class Case:
    """One protocol test case, with the model it runs against."""

    def __init__(self, path: Path, suite: dict[str, Any], case: dict[str, Any], n: int) -> None:
        self.kind = path.parent.name  # input | output
        self.id = f"{self.kind}/{path.name}:{case.get('id') or case['description']}"
        self.case = case
        description = copy.deepcopy({k: v for k, v in suite.items() if k != "cases"})
        description["metadata"] = {"endpointPrefix": "protocoltest", **description["metadata"]}
        self.name = case["given"]["name"]
        description["operations"] = {self.name: case["given"]}
        # A service name per case: wire.py builds its walks once per (service, version).
        self.model = ServiceModel(description, service_name=f"protocoltest{n}")
        self.operation = self.model.operation_model(self.name)
        self.client_endpoint = suite.get("clientEndpoint")

    def missing(self, request_features: set[str], answer_features: set[str]) -> list[str]:
        """The features this case uses that no operation of wire.py has."""
        used: set[str] = set()
        if self.kind == "input":
            _used_features(self.operation.input_shape, self.case["params"], used, request=True)
            if self.operation.endpoint:
                used.add("endpoint host prefixes")
            if self.operation.request_compression:
                used.add("request compression")
            return sorted(used - request_features)
        shape = self.answer_shape()
        body = self.case["response"].get("body") or ""
        try:
            value = json.loads(body) if body.strip() else {}
        except ValueError:
            value = {}
        _used_features(shape, value, used, request=False)
        return sorted(used - answer_features)

    def answer_shape(self) -> Shape | None:
        if "error" in self.case:
            return self.model.shape_for_error_code(self.case.get("errorCode", ""))
        return self.operation.output_shape


def load_cases() -> list[Case]:
    cases: list[Case] = []
    for path in SUITES:
        for suite in json.loads(path.read_text("utf-8")):
            for case in suite["cases"]:
                cases.append(Case(path, suite, case, len(cases)))
    return cases


def _epoch(value: Any) -> Any:
    """A parsed answer as the protocol tests write it: timestamps as epoch seconds, blobs as
    text (what botocore's runner does with its own answers)."""
    if isinstance(value, dict):
        return {k: _epoch(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epoch(v) for v in value]
    if isinstance(value, datetime):
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else seconds
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    return bool(actual == expected)


async def run_case(case: Case, server: Any, session: AioSession) -> str | None:
    """None when the case passes, else what differs."""
    path = ""
    if case.client_endpoint:
        path = case.client_endpoint.split("://", 1)[1].partition("/")[2]
    url = f"{server.url}/{path}" if path else server.url
    response = case.case.get("response", {})
    body = (response.get("body") or "").encode("utf-8")
    server.answer = lambda _: Answer(
        response.get("status_code", 200), dict(response.get("headers", {})), body
    )
    server.requests.clear()
    create: Any = session.create_client
    async with create(
        "sts",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id=CREDENTIALS.access_key,
        aws_secret_access_key=CREDENTIALS.secret_key,
        config=CLIENT_CONFIG,  # the sweep's: its HTTP session, its pools
    ) as real:
        endpoint = SimpleNamespace(
            meta=SimpleNamespace(
                service_model=case.model, region_name="us-east-1", endpoint_url=url
            ),
            _endpoint=real._endpoint,  # its HTTP session: aiobotocore's, for real
        )
        client = WireClient(endpoint, CREDENTIALS, frozenset({xform_name(case.name)}))
        try:
            parsed: Any = await client.call(case.name, case.case.get("params", {}))
        except ClientError as exc:
            parsed = exc.response
    if case.kind == "input":
        return _compare_request(server.requests[0], case.case["serialized"])
    return _compare_answer(parsed, case.case)


def _compare_request(request: Request, expected: dict[str, Any]) -> str | None:
    problems = []
    if request.method != expected.get("method", "POST"):
        problems.append(f"method {request.method} != {expected.get('method')}")
    if request.path != expected.get("uri", "/"):
        problems.append(f"URI {request.path!r} != {expected.get('uri')!r}")
    for name, value in expected.get("headers", {}).items():
        if request.headers.get(name.lower()) != value:
            problems.append(f"header {name}: {request.headers.get(name.lower())!r} != {value!r}")
    problems += [
        f"forbidden header {name} sent"
        for name in expected.get("forbidHeaders", [])
        if name.lower() in request.headers
    ]
    if "body" in expected:
        want = json.loads(expected["body"]) if expected["body"] else {}
        got = json.loads(request.body) if request.body else {}
        if got != want:
            problems.append(f"body {got!r} != {want!r}")
    return "; ".join(problems) or None


def _compare_answer(parsed: Any, case: dict[str, Any]) -> str | None:
    parsed = _epoch({k: v for k, v in parsed.items() if k != "ResponseMetadata"})
    if "error" in case:
        parsed["Error"] = {k: parsed["Error"][k] for k in ("Code", "Message")}
        expected = {
            "Error": {"Code": case.get("errorCode", ""), "Message": case.get("errorMessage", "")},
            **case["error"],
        }
    else:
        expected = case["result"]
    same = parsed.keys() == expected.keys() and all(_same(parsed[k], expected[k]) for k in expected)
    return None if same else f"parsed {parsed!r} != expected {expected!r}"


# `.ci/run` sets this: where the shared data is, the protocol test must run, not skip.
REQUIRE_SHARED = "ECR_SWEEPER_REQUIRE_SHARED_DATA"


def test_every_applicable_aws_json_1_1_protocol_case(
    capsys: pytest.CaptureFixture[str], record_property: Any
) -> None:
    if not SUITES:
        missing = f"the AWS JSON 1.1 protocol tests are not beside the checkout ({PROTOCOLS})"
        if os.environ.get(REQUIRE_SHARED):
            pytest.fail(f"{missing}, and {REQUIRE_SHARED} says they must be")
        pytest.skip(f"{missing}: botocore's shared protocol data lives outside the repository")
    cases = load_cases()
    request_features, answer_features = wire_features(request=True), wire_features(request=False)
    skipped: Counter[str] = Counter()
    failures: list[str] = []
    passed = 0

    async def run_all() -> None:
        nonlocal passed
        session = AioSession()
        with loopback() as server:
            for case in cases:
                if missing := case.missing(request_features, answer_features):
                    skipped[f"{case.kind}: {', '.join(missing)}"] += 1
                    continue
                if (problem := await run_case(case, server, session)) is not None:
                    failures.append(f"{case.id}: {problem}")
                else:
                    passed += 1

    anyio.run(run_all)
    reasons = "; ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
    summary = (
        f"AWS JSON 1.1 protocol tests: {len(cases)} cases, {passed} passed, "
        f"{len(failures)} failed, {sum(skipped.values())} skipped "
        f"(no wire.py operation has: {reasons})"
    )
    record_property("protocol_summary", summary)
    with capsys.disabled():
        print(f"\n{summary}")
    assert failures == [], "\n".join(failures)
    assert passed >= len(cases) // 2  # the skips stay the exception


# --------------------------------------------------------------------------- wire-level answers


def _ecr_wire(url: str, session: AioSession) -> Any:
    create: Any = session.create_client
    return create(
        "ecr",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="AK",
        aws_secret_access_key="SK",
        config=CLIENT_CONFIG,  # the sweep's: its HTTP session, its pools
    )


@pytest.mark.parametrize(
    "body", [b"<html><body>Sign in to the proxy</body></html>", b"[]", b"null"]
)
def test_a_success_status_with_a_body_that_is_not_the_answer_is_an_error(body: bytes) -> None:
    async def run() -> Any:
        with loopback() as server:
            server.answer = lambda _: Answer(200, {"Content-Type": "text/html"}, body)
            async with _ecr_wire(server.url, AioSession()) as endpoint:
                client = WireClient(endpoint, CREDENTIALS)
                try:
                    return await client.describe_images(repositoryName="app")
                except MalformedAnswerError as exc:
                    return exc

    outcome = anyio.run(run)
    assert isinstance(outcome, MalformedAnswerError)
    assert outcome.response["Error"]["Code"] == "MalformedAnswer"
    assert outcome.response["ResponseMetadata"]["HTTPStatusCode"] == 200


# --------------------------------------------------------------------------- differential

_MODELS = {s: botocore.session.get_session().get_service_model(s) for s in OPERATIONS}
_OUTPUTS = sorted(
    (service, api)
    for service, model in _MODELS.items()
    for api in model.operation_names
    if xform_name(api) in OPERATIONS[service]
)
_KEYS = st.sampled_from(["createdAt", "updatedAt", "name", "x", "registeredAt", "imagePushedAt"])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=6,
)
_EPOCH = st.integers(0, 4_000_000_000) | st.floats(0, 4_000_000_000, allow_nan=False).map(
    lambda f: round(f, 3)
)
_ISO = st.datetimes(datetime(1971, 1, 1), datetime(2100, 1, 1)).map(  # noqa: DTZ001 - naive bounds, as hypothesis takes them
    lambda d: d.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
)


_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "timestamp": _EPOCH | _ISO,
    "integer": st.integers(-(2**40), 2**40),
    "long": st.integers(-(2**40), 2**40),
    "double": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "boolean": st.booleans(),
    "string": st.text(max_size=10) | _ISO,
}


def answers(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON values for `shape` as a service could send them: any member present, absent or
    null, keys the model does not know, user maps with timestamp-like keys."""
    any_shape: Any = shape
    kind = shape.type_name
    if kind in _SCALARS:
        return _SCALARS[kind]
    if kind == "list":
        return st.lists(answers(any_shape.member, depth + 1), max_size=2 if depth < 3 else 0)
    if kind == "map":
        return st.dictionaries(_KEYS, answers(any_shape.value, depth + 1), max_size=2)
    assert kind == "structure", kind
    if any_shape.is_document_type or depth > 4:
        return _JSON if any_shape.is_document_type else st.just({})
    members = {
        m.serialization.get("name", n): st.none() | answers(m, depth + 1)
        for n, m in any_shape.members.items()
    }
    if any_shape.is_tagged_union:
        return st.sampled_from(sorted(members)).flatmap(
            lambda k: members[k].filter(lambda v: v is not None).map(lambda v: {k: v})
        )
    return st.fixed_dictionaries({}, optional={**members, "unmodeledMember": _JSON})


def _walk_of(service: str, api: str) -> Any:
    """The walk wire.py builds for the operation (as each WireClient does, once)."""
    return output_walk(_MODELS[service].operation_model(api).output_shape)


def _without_metadata(parsed: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in parsed.items() if k != "ResponseMetadata"}


@pytest.mark.parametrize(("service", "api"), _OUTPUTS, ids=[f"{s}.{a}" for s, a in _OUTPUTS])
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_wire_parses_generated_answers_as_botocore_does(
    service: str, api: str, data: st.DataObject
) -> None:
    shape = _MODELS[service].operation_model(api).output_shape
    assert shape is not None
    body = json.dumps(data.draw(answers(shape), label="answer")).encode()
    reference = JSONParser().parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert parse_answer(body, _walk_of(service, api)) == _without_metadata(reference)


def test_a_timestamp_is_utc_and_equal_to_botocores() -> None:
    shape = _MODELS["ecr"].operation_model("DescribeImages").output_shape
    assert shape is not None
    body = b'{"imageDetails": [{"imagePushedAt": 1700000000.25}]}'
    ours = parse_answer(body, _walk_of("ecr", "DescribeImages"))["imageDetails"][0]
    theirs = JSONParser().parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert ours["imagePushedAt"].tzinfo is UTC
    assert ours == theirs["imageDetails"][0]
