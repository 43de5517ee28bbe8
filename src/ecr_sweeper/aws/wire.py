"""A lean caller for the ECS and ECR operations a sweep makes by the thousand.

Why it exists: profiled on the benchmark (issue 5), botocore spends about 1.5 ms of CPU on
every call before and after the network (user-agent assembly, ~20 event hooks, endpoint
rules, email-style header objects, SigV4 through those headers, shape-by-shape parsing,
dateutil time zones for every timestamp). A sweep makes ~17,000 calls for a 30-account org,
so that, not AWS, bounded it. ECS and ECR speak AWS JSON 1.1, which is small: a JSON body,
an ``X-Amz-Target`` header, a SigV4 signature. This module does exactly that for the
operations in `OPERATIONS` (and, for an account's client of another AWS JSON service, the
operations whose requests it writes as botocore does: session._by_wire) and nothing else:

* the request goes through the HTTP session of an aiobotocore client of the service and region
  (one per endpoint, shared by every account), so the TLS settings, CA bundle, proxies,
  timeouts and connection limit are aiobotocore's; transport.py sends it over http1.py's
  keep-alive connections (through aiohttp with a proxy), and maps transport failures to
  botocore's exceptions as aiobotocore does (which `limits.is_retryable` knows);
* endpoint, region, signing name and target prefix are read off that client, so they follow
  every standard AWS setting; the credentials are the account's (refreshable ones included);
* the signature is SigV4 as botocore computes it (tests compare the two, header for header);
* the request body and the answer follow the operation's shapes as botocore's serializer and
  parser do (the walk of each output shape is built once): modeled members only, `null`
  members dropped, timestamps where the shape says timestamp and nowhere else (a docker label
  named ``createdAt`` stays a string), documents untouched; errors raise botocore's
  ``ClientError`` with the code, message, status and modeled members botocore would give;
  a success status whose body is not the operation's JSON answer raises
  `answers.MalformedAnswerError` (botocore would give an empty answer).
  tests/aws/test_wire_protocol.py runs the AWS JSON 1.1 protocol tests through it.

Every other service's operations go through lean.py (botocore's own serializer and parser,
without its event system); the base credentials' STS and Organizations calls go through
aiobotocore unchanged.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import hashlib
import hmac
import http.client
import json
import platform
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast
from urllib.parse import quote, urlsplit

import botocore
from botocore import xform_name
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.utils import parse_timestamp, parse_to_aware_datetime

from ecr_sweeper import __version__
from ecr_sweeper.aws.answers import MalformedAnswerError, answer_problem
from ecr_sweeper.aws.transport import Poster
from ecr_sweeper.words import one_line

# The calls a sweep makes (snake_case, as botocore names them). Anything else goes to botocore.
OPERATIONS: dict[str, frozenset[str]] = {
    "ecs": frozenset(
        {
            "list_clusters",
            "list_services",
            "describe_services",
            "list_service_deployments",
            "describe_service_revisions",
            "list_tasks",
            "describe_tasks",
            "list_task_definitions",
            "describe_task_definition",
            "list_daemons",
            "describe_daemon",
            "describe_daemon_revisions",
            "describe_daemon_deployments",
            "list_daemon_task_definitions",
            "describe_daemon_task_definition",
        }
    ),
    "ecr": frozenset(
        {
            "describe_repositories",
            "describe_images",
            "batch_get_image",
            "get_repository_policy",
            "list_tags_for_resource",
            "batch_delete_image",
            "update_image_storage_class",  # apply --quarantine, restore (ECR's archive)
            "describe_registry",  # replication rules (census: deletions replayed elsewhere)
            "list_pull_time_update_exclusions",  # the pull witness: whose pulls do not count
        }
    ),
}

USER_AGENT = (
    f"ecr-sweeper/{__version__} botocore/{botocore.__version__} Python/{platform.python_version()}"
)
FROZEN_FOR = 10.0  # seconds a WireClient signs with the same credentials before asking again


# --------------------------------------------------------------------------- signing


@lru_cache(maxsize=256)
def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret_key}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@lru_cache(maxsize=4)
def _amz_date(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


_SECOND: list[Any] = [None, None]  # the last whole second asked for, and its datetime


def signing_time() -> datetime:
    """Now, to the second (SigV4's precision): the same datetime for every call of a second,
    so its ``X-Amz-Date`` is written once (strftime per call was ~1% of a sweep's CPU)."""
    second = int(time.time())
    if second != _SECOND[0]:
        _SECOND[:] = [second, datetime.fromtimestamp(second, UTC)]
    now: datetime = _SECOND[1]
    return now


def sign(
    headers: dict[str, str],
    body: bytes,
    *,
    access_key: str,
    secret_key: str,
    token: str | None,
    region: str,
    service: str,
    now: datetime,
    path: str = "/",
) -> None:
    """Add ``X-Amz-Date``, the session token and ``Authorization`` (SigV4) to a POST to
    `path` (the endpoint's, already URI-encoded; ``/`` for AWS's own endpoints).

    Every header present is signed (the request is ours, nothing is added after signing
    except ``User-Agent``, which SigV4 leaves out like botocore does).
    """
    stamp = _amz_date(now)
    headers["X-Amz-Date"] = stamp
    if token:
        headers["X-Amz-Security-Token"] = token
    signed = sorted((k.lower(), " ".join(v.split())) for k, v in headers.items())
    canonical = "\n".join(
        (
            "POST",
            path,
            "",
            "".join(f"{k}:{v}\n" for k, v in signed),
            ";".join(k for k, _ in signed),
            hashlib.sha256(body).hexdigest(),
        )
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest())
    )
    key = _signing_key(secret_key, stamp[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(k for k, _ in signed)}, Signature={signature}"
    )


# --------------------------------------------------------------------------- answers

Convert = Callable[[Any], Any]
# Shape types a walk leaves as JSON gives them. A type it knows neither as these nor as one it
# converts is refused when the walk is built, so an operation with such a member cannot be
# added to `OPERATIONS` without teaching this module to parse it.
_AS_IS = frozenset({"string", "integer", "long", "boolean", "double", "float"})
# Members AWS answers that botocore 1.43.117's models do not know yet, kept as JSON gives them
# (by shape, so a user's key of the same name elsewhere is still dropped): a replication rule
# that replays deletions in its destinations (aws/ecr.py, invariant 11 of plan.py).
NEWER_THAN_MODEL: dict[str, frozenset[str]] = {"ReplicationRule": frozenset({"deleteReplication"})}


def output_walk(shape: Shape | None) -> Convert:
    """The conversion of a JSON answer to what botocore's parser makes of it for `shape`,
    built once (per operation): only modeled members are kept (under their model names),
    `null` members are dropped, timestamps become aware UTC datetimes where the shape says
    timestamp and nowhere else, documents are left as they are, an unknown union member is
    reported as botocore does (`SDK_UNKNOWN_MEMBER`)."""
    if shape is None:
        return lambda _: {}
    walk = _walk(shape, {})
    if walk is None:
        raise TypeError(f"output shape {shape.name} is not a structure")
    return walk


def _walk(shape: Shape, built: dict[str, Convert]) -> Convert | None:
    """The conversion of one shape's JSON value; None where it is the value itself."""
    kind = shape.type_name
    if kind in _AS_IS or (kind == "structure" and cast("Any", shape).is_document_type):
        return None
    if kind in _SCALAR_WALKS:
        return _SCALAR_WALKS[kind]
    if kind == "structure":
        return _structure(cast("StructureShape", shape), built)
    if kind not in ("list", "map"):
        raise NotImplementedError(f"wire.py does not parse {kind} members ({shape.name})")
    inner = _walk(cast("Any", shape).member if kind == "list" else cast("Any", shape).value, built)
    if inner is None:
        return None
    if kind == "list":
        return lambda value: [None if v is None else inner(v) for v in value]
    return lambda value: {k: None if v is None else inner(v) for k, v in value.items()}


def _structure(shape: StructureShape, built: dict[str, Convert]) -> Convert:
    if shape.name in built:  # a recursive shape: the walk being built
        return built[shape.name]
    members: dict[str, tuple[str, Convert | None]] = {}
    union = shape.is_tagged_union

    def convert(value: Any) -> Any:
        if not isinstance(value, dict):
            raise TypeError(f"{shape.name}: expected a JSON object, got {type(value).__name__}")
        if union and (unknown := _unknown_union_member(shape.name, value, members)):
            return {"SDK_UNKNOWN_MEMBER": {"name": unknown}}
        parsed: dict[str, Any] = {}
        for key, raw in value.items():
            member = members.get(key)
            if member is not None and raw is not None:
                name, walk = member
                parsed[name] = raw if walk is None else walk(raw)
        return parsed

    built[shape.name] = convert
    for name, member_shape in shape.members.items():
        wire_name = member_shape.serialization.get("name", name)
        members[wire_name] = (name, _walk(member_shape, built))
    for name in NEWER_THAN_MODEL.get(shape.name, ()):
        members.setdefault(name, (name, None))
    return convert


def _unknown_union_member(name: str, value: dict[str, Any], members: dict[str, Any]) -> str | None:
    """The tag of a union answer whose member this model does not know, else None."""
    set_members = [k for k, v in value.items() if k != "__type" and v is not None]
    if len(set_members) != 1:
        raise ValueError(f"{name}: a union answer must have exactly one member set")
    return None if set_members[0] in members else set_members[0]


def _timestamp(value: Any) -> datetime:
    """An aware UTC datetime, from epoch seconds (what AWS sends) or a string form."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    parsed: datetime = parse_timestamp(value)
    return parsed.astimezone(UTC)


_SCALAR_WALKS: dict[str, Convert] = {"timestamp": _timestamp, "blob": base64.b64decode}


def parse_answer(body: bytes, walk: Convert) -> dict[str, Any]:
    """A success answer, parsed by its output shape's walk. An empty body is an empty answer;
    a body that is not JSON raises ValueError, one that is not the output's TypeError."""
    if not body:
        return {}
    answer = json.loads(body)
    if not isinstance(answer, dict):
        raise TypeError(f"expected a JSON object, got {type(answer).__name__}")
    parsed: dict[str, Any] = walk(answer)
    return parsed


def _metadata(status: int, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "RequestId": headers.get("x-amzn-requestid", ""),
        "HTTPStatusCode": status,
        "HTTPHeaders": headers,
    }


def _error_code(body: dict[str, Any], headers: dict[str, str]) -> str | None:
    """`__type` (as botocore reads it), else the `x-amzn-errortype` header, else a `code`
    member (where the AWS JSON protocol also puts it), without namespace or URI."""
    for found in (body.get("__type"), headers.get("x-amzn-errortype"), body.get("code")):
        if isinstance(found, str) and found:
            return found.split(":", 1)[0].rsplit("#", 1)[-1]
    return None


def client_error(
    status: int,
    headers: dict[str, str],
    body: bytes,
    operation: str,
    modeled: Callable[[str], Convert | None] = lambda _: None,
) -> ClientError:
    """The ClientError botocore raises for an AWS JSON error answer (`headers` with lower-case
    names). A body that is not JSON keeps its text as the message (a proxy's, a load
    balancer's); a 5xx with an empty or HTML body gets the status and its reason phrase.
    `modeled` gives the walk of an error code's own shape: its members join the response,
    as botocore adds them."""
    parsed: dict[str, Any] = {}
    text = body.decode("utf-8", "replace")
    if body:
        try:
            loaded = json.loads(body)
        except ValueError:
            loaded = {"message": text}
        parsed = loaded if isinstance(loaded, dict) else {}
    code = _error_code(parsed, headers)
    generic = not text.strip() or text.strip()[:1] == "<"
    if code is None and status >= 500 and generic:
        code, message = str(status), http.client.responses.get(status, "")
    else:
        message = parsed.get("message", parsed.get("Message", ""))
    response: Any = {
        "Error": {"Code": code or str(status), "Message": one_line(str(message))},
        "ResponseMetadata": _metadata(status, headers),
    }
    if code is not None and (walk := modeled(code)) is not None:
        # A body that does not fit the error's shape: its code and message still stand.
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            response.update(walk(parsed))
    return ClientError(response, operation)


def serialize(params: dict[str, Any], shape: Shape | None) -> bytes:
    """The JSON body of a request, by its input shape: `None` members left out, timestamps
    as epoch seconds (AWS JSON's default; whole seconds as an integer, as botocore sends)."""
    return json.dumps(_serialized(params, shape) if shape else {}, separators=(",", ":")).encode()


def _serialized(value: Any, shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "structure" and not cast("Any", shape).is_document_type:
        members = cast("StructureShape", shape).members
        return {
            k: _serialized(v, members[k]) if k in members else v
            for k, v in value.items()
            if v is not None
        }
    if kind == "list":
        return [_serialized(v, cast("Any", shape).member) for v in value]
    if kind == "map":
        return {k: _serialized(v, cast("Any", shape).value) for k, v in value.items()}
    if kind == "timestamp":
        moment = parse_to_aware_datetime(value)
        seconds = calendar.timegm(moment.timetuple())
        return (seconds * 10**6 + moment.microsecond) / 10**6 if moment.microsecond else seconds
    return value


def plain_request(shape: Shape | None) -> bool:
    """Whether `serialize` writes a request of `shape` as botocore's JSON serializer does: no
    member it would convert (blobs, floats, timestamps in a format other than epoch seconds,
    JSON values in strings). The AWS JSON protocol tests check the rest."""
    return _plain(shape, set()) if shape is not None else True


def _plain(shape: Shape, seen: set[str]) -> bool:
    if shape.name in seen:
        return True
    seen.add(shape.name)
    kind, trait = shape.type_name, shape.serialization
    converted = kind in ("blob", "float", "double") or bool(trait.get("jsonvalue"))
    if kind == "timestamp":
        converted = trait.get("timestampFormat", "unixTimestamp") != "unixTimestamp"
    any_shape: Any = shape
    inside: list[Shape] = []
    if kind == "structure" and not any_shape.is_document_type:
        inside = list(any_shape.members.values())
    elif kind == "list":
        inside = [any_shape.member]
    elif kind == "map":
        inside = [any_shape.key, any_shape.value]
    return not converted and all(_plain(member, seen) for member in inside)


# --------------------------------------------------------------------------- the client


class WireClient:
    """Stands in for an aiobotocore ECS or ECR client of one account: the operations in
    `OPERATIONS` (or `operations`), signed with that account's `credentials`.

    `endpoint` is an aiobotocore client of the service in the region, shared by every
    account: its endpoint, model and HTTP session (so one pool of connections per endpoint
    serves all accounts), never its credentials. Any other operation is an AttributeError,
    not a call with the endpoint client's credentials.
    """

    def __init__(
        self, endpoint: Any, credentials: Any, operations: frozenset[str] | None = None
    ) -> None:
        self.meta = endpoint.meta
        model: ServiceModel = endpoint.meta.service_model
        self._facts = _model_facts(model, operations or OPERATIONS[model.service_name])
        self._target = model.metadata["targetPrefix"]
        self._content_type = f"application/x-amz-json-{model.metadata['jsonVersion']}"
        self._service = model.signing_name
        self._region = endpoint.meta.region_name
        self._url = endpoint.meta.endpoint_url.rstrip("/") + "/"
        self._path = quote(urlsplit(self._url).path, safe="/~")
        # The endpoint client's HTTP session (aiobotocore keeps it private).
        self._post = Poster(endpoint._endpoint.http_session, self._url)
        self._host = self._post.host
        self._credentials = credentials
        self._frozen: Any = None
        self._frozen_expiry: Any = None
        self._frozen_until = 0.0

    @property
    def operations(self) -> Collection[str]:
        """The operations it sends (snake_case, as botocore names them)."""
        return self._facts.operations.keys()

    def __getattr__(self, name: str) -> Any:
        if name in self._facts.operations:
            operation = _Operation(self, name, self._facts.operations[name].api_name)
            setattr(self, name, operation)  # found as an attribute from now on
            return operation
        raise AttributeError(
            f"{self._service}.{name} is not a call ecr-sweeper sends over the wire"
        )

    async def call(self, api_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """One call: serialize and sign, send through the client's HTTP session, parse."""
        facts = self._facts.by_api_name[api_name]
        frozen = await self._frozen_credentials()
        body = serialize(params, facts.input_shape)
        headers = {
            "Content-Type": self._content_type,
            "Host": self._host,
            "X-Amz-Target": f"{self._target}.{api_name}",
        }
        sign(
            headers,
            body,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
            region=self._region,
            service=self._service,
            now=signing_time(),
            path=self._path,
        )
        headers["User-Agent"] = USER_AGENT
        answer = await self._post(headers, body)
        content, status = answer.body, answer.status
        if status >= 301:  # as botocore: 300 itself is read as a success
            raise client_error(status, answer.headers, content, api_name, self._facts.error_walk)
        if not content.strip() and (why := answer_problem("json", facts.operation, content)):
            raise MalformedAnswerError(status, answer.headers, content, api_name, why)
        try:  # parsed once: a body that is not a JSON object is refused here
            return parse_answer(content, facts.output)
        except (ValueError, TypeError) as exc:
            why = f"that is not a {api_name} answer ({exc})"
            raise MalformedAnswerError(status, answer.headers, content, api_name, why) from exc

    async def _frozen_credentials(self) -> Any:
        """The credentials to sign with, asked of botocore at most every `FROZEN_FOR` seconds.

        botocore's check costs a tzlocal() per call (a visible share of the CPU per call). It
        refreshes assumed-role credentials 15 minutes before they expire, so keys used a few
        seconds longer are still valid for minutes; and when AWS says they expired
        (`Connections._expire` moves their expiry), the next call asks botocore again.
        """
        if self._credentials is None:
            raise NoCredentialsError()
        expiry = getattr(self._credentials, "_expiry_time", None)
        now = time.monotonic()
        if self._frozen is None or now >= self._frozen_until or expiry is not self._frozen_expiry:
            self._frozen = await self._credentials.get_frozen_credentials()
            self._frozen_expiry = getattr(self._credentials, "_expiry_time", None)
            self._frozen_until = now + FROZEN_FOR
        return self._frozen


@dataclass(frozen=True, slots=True)
class _OperationFacts:
    api_name: str
    operation: OperationModel
    input_shape: Shape | None
    output: Convert


@dataclass(slots=True)
class _ModelFacts:
    """What a service's wire operations need, built once per service model version."""

    model: ServiceModel
    operations: dict[str, _OperationFacts]  # by snake_case name
    by_api_name: dict[str, _OperationFacts]
    errors: dict[str, Convert | None] = field(default_factory=dict)

    def error_walk(self, code: str) -> Convert | None:
        """The walk of the shape the model gives error `code`, or None (built on first use)."""
        if code not in self.errors:
            lookup: Any = self.model.shape_for_error_code  # typed as taking an int, takes a code
            shape = lookup(code)
            self.errors[code] = output_walk(shape) if shape is not None else None
        return self.errors[code]


_FACTS: dict[tuple[str, str, frozenset[str]], _ModelFacts] = {}


def _model_facts(model: ServiceModel, wanted: frozenset[str]) -> _ModelFacts:
    """The facts of `wanted` operations, once per service model version: each client has its
    own model object, the facts are the same."""
    key = (model.service_name, model.api_version, wanted)
    if key not in _FACTS:
        operations = {}
        for api_name in model.operation_names:
            name = xform_name(api_name)
            if name in wanted:
                operation: OperationModel = model.operation_model(api_name)
                operations[name] = _OperationFacts(
                    api_name,
                    operation,
                    operation.input_shape,
                    output_walk(operation.output_shape),
                )
        by_api_name = {facts.api_name: facts for facts in operations.values()}
        _FACTS[key] = _ModelFacts(model, operations, by_api_name)
    return _FACTS[key]


class _Operation:
    """A bound operation, shaped like a botocore client method (``__self__``, ``__name__``)
    so `Api.rate_for` keys its pacing the same way for both."""

    def __init__(self, client: WireClient, name: str, api_name: str) -> None:
        self.__self__ = client
        self.__name__ = name
        self._api_name = api_name

    async def __call__(self, **params: Any) -> dict[str, Any]:
        return await self.__self__.call(self._api_name, params)
