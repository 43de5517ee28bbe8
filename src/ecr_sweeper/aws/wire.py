"""A lean caller for the ECS and ECR operations a sweep makes by the thousand.

Why it exists: profiled on the benchmark (issue 5), botocore spends about 1.5 ms of CPU on
every call before and after the network (user-agent assembly, ~20 event hooks, endpoint
rules, email-style header objects, SigV4 through those headers, shape-by-shape parsing,
dateutil time zones for every timestamp). A sweep makes ~17,000 calls for a 30-account org,
so that, not AWS, bounded it. ECS and ECR speak AWS JSON 1.1, which is small: a JSON body,
an ``X-Amz-Target`` header, a SigV4 signature. This module does exactly that for the
operations in `OPERATIONS` and nothing else:

* the request goes through the HTTP session of an aiobotocore client of the service and region
  (one per endpoint, shared by every account), so the connection pool, TLS settings, CA
  bundle, proxies, timeouts and the mapping of transport failures to botocore's exceptions
  (which `limits.is_retryable` knows) are aiobotocore's;
* endpoint, region, signing name and target prefix are read off that client, so they follow
  every standard AWS setting; the credentials are the account's (refreshable ones included);
* the signature is SigV4 as botocore computes it (tests compare the two, header for header);
* the answer is the JSON body, with every member the service model calls a timestamp turned
  into an aware datetime, as botocore's parser does; errors raise botocore's ``ClientError``
  with the code, message and HTTP status botocore would give.

Every other service and operation (STS, Organizations, EC2, Lambda, EventBridge, Scheduler)
still goes through aiobotocore unchanged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import platform
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast
from urllib.parse import quote, urlsplit

import botocore
from botocore import xform_name
from botocore.awsrequest import AWSPreparedRequest, HTTPHeaders
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.model import ServiceModel
from botocore.utils import parse_timestamp

from ecr_sweeper import __version__

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
        }
    ),
}

USER_AGENT = (
    f"ecr-sweeper/{__version__} botocore/{botocore.__version__} Python/{platform.python_version()}"
)
_DEFAULT_PORTS = {"https": 443, "http": 80}
FROZEN_FOR = 10.0  # seconds a WireClient signs with the same credentials before asking again


# --------------------------------------------------------------------------- signing


def host_header(url: str) -> str:
    """The host as SigV4 signs it: the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        return f"{host}:{parts.port}"
    return host


@lru_cache(maxsize=256)
def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret_key}".encode(), day.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


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
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
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


def timestamp_members(model: ServiceModel) -> frozenset[str]:
    """Member names the model types as timestamps in any structure of the service."""
    names: set[str] = set()
    for shape_name in model.shape_names:
        shape: Any = model.shape_for(shape_name)
        if shape.type_name == "structure":
            names.update(m for m, s in shape.members.items() if s.type_name == "timestamp")
    return frozenset(names)


def parse_answer(body: bytes, stamps: frozenset[str]) -> dict[str, Any]:
    """The JSON answer, timestamps as aware datetimes (AWS sends epoch seconds)."""
    if not body:
        return {}

    def hook(obj: dict[str, Any]) -> dict[str, Any]:
        for key in stamps.intersection(obj):
            value = obj[key]
            if isinstance(value, int | float):
                obj[key] = datetime.fromtimestamp(value, UTC)
            elif isinstance(value, str):
                obj[key] = parse_timestamp(value)
        return obj

    answer: dict[str, Any] = json.loads(body, object_hook=hook)
    return answer


def client_error(status: int, headers: dict[str, str], body: bytes, operation: str) -> ClientError:
    """The ClientError botocore raises for a JSON-protocol error answer."""
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    code = str(parsed.get("__type") or headers.get("x-amzn-errortype") or status)
    code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    message = parsed.get("message", parsed.get("Message", ""))
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {
            "RequestId": headers.get("x-amzn-requestid", ""),
            "HTTPStatusCode": status,
            "HTTPHeaders": headers,
        },
    }
    return ClientError(response, operation)


# --------------------------------------------------------------------------- the client


class WireClient:
    """Stands in for an aiobotocore ECS or ECR client of one account: the operations in
    `OPERATIONS`, signed with that account's `credentials`.

    `endpoint` is an aiobotocore client of the service in the region, shared by every
    account: its endpoint, model and HTTP session (so one connection pool per endpoint serves
    all accounts), never its credentials. Any other operation is an AttributeError, not a call
    with the endpoint client's credentials.
    """

    def __init__(self, endpoint: Any, credentials: Any) -> None:
        self.meta = endpoint.meta
        model: ServiceModel = endpoint.meta.service_model
        self._operations = OPERATIONS[model.service_name]
        self._api_names, self._stamps = _model_facts(model)
        self._target = model.metadata["targetPrefix"]
        self._content_type = f"application/x-amz-json-{model.metadata['jsonVersion']}"
        self._service = model.signing_name
        self._region = endpoint.meta.region_name
        self._url = endpoint.meta.endpoint_url.rstrip("/") + "/"
        self._host = host_header(self._url)
        self._path = quote(urlsplit(self._url).path, safe="/~")
        self._http = endpoint._endpoint.http_session  # aiobotocore keeps it private
        self._credentials = credentials
        self._frozen: Any = None
        self._frozen_expiry: Any = None
        self._frozen_until = 0.0

    def __getattr__(self, name: str) -> Any:
        if name in self._operations:
            return _Operation(self, name, self._api_names[name])
        raise AttributeError(
            f"{self._service}.{name} is not a call ecr-sweeper sends over the wire"
        )

    async def call(self, api_name: str, params: dict[str, Any]) -> dict[str, Any]:
        """One call: sign, send through the client's HTTP session, parse."""
        frozen = await self._frozen_credentials()
        body = json.dumps(params, separators=(",", ":")).encode()
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
            now=datetime.now(UTC),
            path=self._path,
        )
        headers["User-Agent"] = USER_AGENT
        # aiobotocore's send only iterates the headers: a plain dict spares botocore's
        # email-based HTTPHeaders, a measurable share of the CPU per call.
        request = AWSPreparedRequest(
            "POST", self._url, cast("HTTPHeaders", headers), body, stream_output=False
        )
        response = await self._http.send(request)
        content: bytes = await response.content
        if response.status_code >= 300:
            raise client_error(response.status_code, dict(response.headers), content, api_name)
        return parse_answer(content, self._stamps)

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


_FACTS: dict[tuple[str, str], tuple[dict[str, str], frozenset[str]]] = {}


def _model_facts(model: ServiceModel) -> tuple[dict[str, str], frozenset[str]]:
    """(snake_case name -> API name for `OPERATIONS`, timestamp members), once per service
    model version: each client has its own model object, the facts are the same."""
    key = (model.service_name, model.api_version)
    if key not in _FACTS:
        wanted = OPERATIONS[model.service_name]
        api_names = {xform_name(api): api for api in model.operation_names}
        _FACTS[key] = (
            {n: a for n, a in api_names.items() if n in wanted},
            timestamp_members(model),
        )
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
