"""Credentials and clients: the base session, assumed roles, and one aiobotocore client per
service × region for the whole run, shared by every account: its model, endpoint and
connection pool. Each account calls it through a view signed with that account's credentials
(`AccountClient`; for ECS and ECR a `WireClient`, see wire.py). A client of its own per
account × region × service cost ~9 ms of CPU and ~0.3 MB to build, hundreds of times a run.

The base credentials come from the standard AWS chain (environment, profile, web identity,
instance role). In each target account we assume the target's role; the assumed credentials
refresh themselves before they expire. Endpoints follow the standard AWS settings, so
`AWS_ENDPOINT_URL` points every client at moto's server or the emulator. Every botocore client
refuses a success answer that is not its operation's (aws/answers.py): botocore would read a
proxy's HTML page as an empty answer.
"""

from __future__ import annotations

import inspect
import os
import re
from collections import defaultdict
from collections.abc import Callable, Collection
from contextlib import AsyncExitStack
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import anyio
from aiobotocore.config import AioConfig
from aiobotocore.credentials import AioCredentials, AioRefreshableCredentials
from aiobotocore.session import AioSession
from botocore import xform_name
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.model import ServiceModel
from botocore.parsers import ResponseParserError

from ecr_sweeper.aws.answers import MALFORMED, guard_answers
from ecr_sweeper.aws.consumers.registry import kept_operations
from ecr_sweeper.aws.lean import LeanOperation, lean_enough
from ecr_sweeper.aws.limits import Api, Limits, error_code
from ecr_sweeper.aws.models import share_loader
from ecr_sweeper.aws.transport import SharedTLSSession
from ecr_sweeper.aws.wire import OPERATIONS, WireClient, plain_request
from ecr_sweeper.model import AccountId, AccountTarget, Region
from ecr_sweeper.retry import RetryPolicy
from ecr_sweeper.words import one_line

SESSION_NAME = "ecr-sweeper"
ROLE_SESSION_SECONDS = 3600  # the cap for chained roles, and the default


# botocore retries are off: Api.call retries (see limits.py), so attempts never multiply.
_CLIENT_OPTIONS: dict[str, Any] = {
    "http_session_cls": SharedTLSSession,
    "retries": {"mode": "standard", "total_max_attempts": 1},
    # Our requests are fixed in code and AWS validates them anyway; client-side validation is
    # a measurable share of the CPU each call costs.
    "parameter_validation": False,
    "connect_timeout": 10,
    # An endpoint that accepts and never answers costs this per attempt; Api.call stops
    # retrying an account × region that stays unreachable (RetryPolicy.unreachable_seconds).
    "read_timeout": 30,
    # ECS and ECR clients of every account share one pool per endpoint (see client()), so
    # it must hold the calls of many accounts at once; the gates in limits.py bound them.
    "max_pool_connections": 512,
    "user_agent_extra": "ecr-sweeper",
}
CLIENT_CONFIG = AioConfig(**_CLIENT_OPTIONS)
# A host prefix (HealthOmics' `workflows-`) names a host of AWS's own endpoints: with an
# endpoint of the user's (AWS_ENDPOINT_URL: moto, the emulator, LocalStack), the prefixed
# host does not exist, so a client there sends its calls to the endpoint as given.
OVERRIDDEN_ENDPOINT_CONFIG = AioConfig(**_CLIENT_OPTIONS, inject_host_prefix=False)


def _create_client(session: AioSession, service: str, region: Region) -> Any:
    """The client context of `service` (its stubs type each service by a literal name)."""
    create: Any = session.create_client
    config = OVERRIDDEN_ENDPOINT_CONFIG if _endpoint_overridden(service) else CLIENT_CONFIG
    return create(service, region_name=region, config=config)


def _endpoint_overridden(service: str) -> bool:
    """Whether the environment gives `service` an endpoint of its own choosing (the SDKs'
    AWS_ENDPOINT_URL, or AWS_ENDPOINT_URL_<SERVICE>)."""
    suffix = service.upper().replace("-", "_")
    return bool(os.environ.get("AWS_ENDPOINT_URL") or os.environ.get(f"AWS_ENDPOINT_URL_{suffix}"))


BOOTSTRAP_REGION = Region("us-east-1")  # where to ask an account which regions it has
BASE = AccountId("base")  # the base credentials' clients, in Connections._clients


async def enabled_regions(target: AccountTarget, connections: Connections) -> tuple[Region, ...]:
    """The regions enabled in the target account (EC2 DescribeRegions, opted-in or default)."""
    ec2 = await connections.client(target, BOOTSTRAP_REGION, "ec2")
    answer = await connections.api(target.account_id, BOOTSTRAP_REGION).call(
        ec2.describe_regions, AllRegions=False
    )
    return tuple(sorted(Region(r["RegionName"]) for r in answer.get("Regions", [])))


# The credentials of the account whose call is being made through a shared client.
_SIGNING_AS: ContextVar[Any] = ContextVar("ecr_sweeper_signing_as")


class _CallersCredentials(AioCredentials):
    """The credentials of a shared client: those of the account whose `AccountClient` makes
    the call (botocore asks for them when it signs, within the call)."""

    def __init__(self) -> None:
        super().__init__("", "", None, method="ecr-sweeper-per-call")

    async def get_frozen_credentials(self) -> Any:  # type: ignore[override] # aiobotocore's are async
        credentials = _SIGNING_AS.get(None)
        if credentials is None:
            raise RuntimeError("a shared client was called outside an AccountClient")
        return await credentials.get_frozen_credentials()


class AccountClient:
    """One account's view of a client shared by every account. Its operations are sent
    lean (lean.py), signed with this account's `credentials`; an operation lean.py cannot
    send, and the client's other coroutine methods (presigning), go through botocore signed
    as the account; anything else (`meta`, `exceptions`) is the shared client's."""

    def __init__(self, shared: Any, credentials: Any, *, lean: bool = True) -> None:
        self.meta = shared.meta
        self._shared = shared
        self._credentials = credentials
        self._lean = lean  # False: every operation through botocore (the benchmark compares)
        self._operations: dict[str, Any] = {}
        by_wire = _by_wire(self.meta.service_model) if lean else frozenset()
        self._wire = WireClient(shared, credentials, by_wire) if by_wire else None

    def __getattr__(self, name: str) -> Any:
        if name in self._operations:
            return self._operations[name]
        attribute = getattr(self._shared, name)
        api_name = self.meta.method_to_api_mapping.get(name)
        operation = api_name and self.meta.service_model.operation_model(api_name)
        if self._wire is not None and name in self._wire.operations:
            call: Any = getattr(self._wire, name)
        elif operation and self._lean and lean_enough(operation):
            call = LeanOperation(self, name, self._shared, self._credentials)
        elif api_name is not None or inspect.iscoroutinefunction(attribute):
            # botocore's operation methods return a coroutine without being coroutine functions
            call = _AsAccount(self, name, attribute)
        else:
            return attribute
        self._operations[name] = call
        return call


_BY_WIRE: dict[tuple[str, ...], frozenset[str]] = {}


def _by_wire(model: ServiceModel) -> frozenset[str]:
    """The operations of `model` an AccountClient sends through wire.py: those of an AWS JSON
    service (SageMaker, CodeBuild, EventBridge…: the census asks every account × region) that
    lean.py could send and whose request wire.py writes as botocore does; none for a service
    of another protocol (lean.py sends those). Once per model (a pruned model and the whole
    one of the same version have different operations)."""
    key = (model.service_name, model.api_version, *model.operation_names)
    if key not in _BY_WIRE:
        operations: set[str] = set()
        if model.resolved_protocol == "json":
            for api_name in model.operation_names:
                operation = model.operation_model(api_name)
                if lean_enough(operation) and plain_request(operation.input_shape):
                    operations.add(xform_name(api_name))
        _BY_WIRE[key] = frozenset(operations)
    return _BY_WIRE[key]


class _AsAccount:
    """A shared client's method called through botocore as one account, shaped like a
    botocore client method (``__self__``, ``__name__``) so `Api.rate_for` paces it the same."""

    def __init__(self, client: AccountClient, name: str, method: Callable[..., Any]) -> None:
        self.__self__ = client
        self.__name__ = name
        self._method = method

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        token = _SIGNING_AS.set(self.__self__._credentials)
        try:
            return await self._method(*args, **kwargs)
        finally:
            _SIGNING_AS.reset(token)


class CredentialsError(Exception):
    """The target account cannot be reached with the credentials at hand."""


# The up-front identity check: one call, no retries, short timeouts, so missing credentials or
# a dead endpoint is one line within seconds instead of an error per account × region × phase.
PREFLIGHT_READ_TIMEOUT = 10
PREFLIGHT_CONFIG = AioConfig(
    retries={"mode": "standard", "total_max_attempts": 1},
    connect_timeout=5,
    read_timeout=PREFLIGHT_READ_TIMEOUT,
    user_agent_extra="ecr-sweeper",
)


def base_session() -> AioSession:
    """A session with the base credentials (the standard AWS chain). A command makes one and
    gives it to `caller_account` and then `Connections`, so the credentials (a web identity
    exchange, say) are resolved once. Its models are the process's (models.py)."""
    session = AioSession()
    share_loader(session).keep(kept_operations())
    return session


async def caller_account(base: AioSession | None = None) -> AccountId:
    """The account of the base credentials (sts:GetCallerIdentity), or a CredentialsError
    that says in one line what is wrong: no credentials, an endpoint that cannot be reached
    or does not answer, or credentials AWS refuses."""
    session = base or base_session()
    try:
        region = session.get_config_variable("region") or BOOTSTRAP_REGION
    except BotoCoreError as exc:  # AWS_PROFILE names no profile, say
        raise CredentialsError(f"cannot check the base credentials: {one_line(str(exc))}") from exc
    create: Any = session.create_client
    try:
        async with create("sts", region_name=region, config=PREFLIGHT_CONFIG) as sts:
            endpoint = sts.meta.endpoint_url
            identity = await _ask_identity(sts, endpoint)
    except ValueError as exc:  # botocore's "Invalid endpoint: localhost:5000"
        given = str(exc).removeprefix("Invalid endpoint: ")
        raise CredentialsError(
            f"the endpoint {given!r} (AWS_ENDPOINT_URL or the profile's endpoint_url) is "
            "not a URL: write it with its scheme, like http://localhost:5000"
        ) from exc
    except OSError as exc:  # a credentials file the chain names: AWS_WEB_IDENTITY_TOKEN_FILE…
        raise CredentialsError(
            f"cannot read the base credentials: {exc.filename or ''}: {exc.strerror or exc} "
            "(AWS_WEB_IDENTITY_TOKEN_FILE, AWS_SHARED_CREDENTIALS_FILE or the profile's files)"
        ) from exc
    except NoCredentialsError as exc:
        raise CredentialsError(
            "no AWS credentials found (environment, AWS_PROFILE, web identity, instance role)"
        ) from exc
    except ClientError as exc:
        # GetCallerIdentity itself, or the exchange behind the credentials (web identity, a
        # profile's role): str() names the operation and carries AWS's message.
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        detail = str(exc).rstrip(": ")
        if not exc.response.get("Error", {}).get("Message"):
            detail += f" (HTTP {status}, no message)"
        raise CredentialsError(f"the base credentials were refused: {detail}") from exc
    except BotoCoreError as exc:
        raise CredentialsError(f"cannot check the base credentials: {one_line(str(exc))}") from exc
    return AccountId(str(identity["Account"]))


async def _ask_identity(sts: Any, endpoint: str) -> dict[str, Any]:
    """sts:GetCallerIdentity, its failures to reach or understand the endpoint in one line."""
    try:
        identity: dict[str, Any] = await sts.get_caller_identity()
    except (EndpointConnectionError, ConnectTimeoutError) as exc:
        raise CredentialsError(f"cannot connect to the STS endpoint {endpoint}: {exc}") from exc
    except ReadTimeoutError as exc:
        raise CredentialsError(
            f"the STS endpoint {endpoint} did not answer within {PREFLIGHT_READ_TIMEOUT} s"
        ) from exc
    except ResponseParserError as exc:  # botocore quotes the body after ": b'"
        quoted = re.split(r":\s*b['\"]", str(exc), maxsplit=1)
        body = quoted[-1].rstrip("'\"")
        raise CredentialsError(
            f"the endpoint {endpoint} does not answer like AWS STS (is it an AWS endpoint, "
            f"moto or the emulator?): not AWS XML: {one_line(body)!r}"
        ) from exc
    except ClientError as exc:
        if error_code(exc) == MALFORMED or _not_aws(exc):
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            raise CredentialsError(
                f"the endpoint {endpoint} does not answer like AWS STS (is it an AWS endpoint, "
                f"moto or the emulator?): HTTP {status}: {one_line(str(exc))}"
            ) from exc
        raise
    return identity


def _not_aws(exc: ClientError) -> bool:
    """An error answer no AWS service gives: no error code of its own, only the status (an
    ordinary web server's 404 page, say)."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error_code(exc)) == str(status)


class Connections:
    """Owns every client of a run. Use as an async context manager; clients close on exit."""

    def __init__(
        self,
        base: AioSession | None = None,
        *,
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
        wire: bool = True,
    ) -> None:
        self._base = base or base_session()
        # Calls skip botocore's per-call machinery (ECS and ECR: wire.py, the others:
        # lean.py); False sends them all through botocore (the benchmark measures both).
        self._wire = wire
        # One model loader for every session (the shared clients' and the base's): the service
        # models are the same, and parsing them again costs seconds of CPU and tens of MB each.
        self._loader = self._base.get_component("data_loader")
        self.limits = limits or Limits()
        self.retry = retry or RetryPolicy()
        # Where "retrying <api> in <account>/<region> (attempt k/n: …)" lines go (the CLI's
        # progress display); None drops them.
        self.on_retry: Callable[[str], None] | None = None
        self._said: set[str] = set()  # the lines said once per run (Api.first_time)
        self._stack = AsyncExitStack()
        # Each account's credentials (the base's, or its assumed role's, refreshable): all a
        # call of the account needs of it, since the clients are shared (signed per call).
        self._signers: dict[AccountId, Any] = {}
        self._credentials: dict[AccountId, AioRefreshableCredentials] = {}
        self._refreshed_at: dict[AccountId, float] = {}  # anyio clock of the last refresh
        self._credential_apis: list[Api] = []
        self._clients: dict[tuple[AccountId, Region, str], Any] = {}
        # The clients every account calls through (AccountClient): signed per call.
        self._shared_session = AioSession()
        self._shared_session.register_component("data_loader", self._loader)
        self._shared_session._credentials = _CallersCredentials()  # type: ignore[attr-defined]
        self._shared: dict[tuple[Region, str], Any] = {}
        self._closers: dict[tuple[Region, str], AsyncExitStack] = {}  # each shared client's
        self._shared_lock = anyio.Lock()
        self._apis: dict[tuple[AccountId, Region], Api] = {}
        # One lock per account: the first client there assumes the role, the others wait.
        self._locks: defaultdict[AccountId, anyio.Lock] = defaultdict(anyio.Lock)

    async def __aenter__(self) -> Connections:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.close_services(keep=())
            finally:
                await self._stack.__aexit__(None, None, None)

    async def close_services(self, keep: Collection[str]) -> None:
        """Close the clients of every service but those in `keep` (the accounts' views of
        them, the shared clients and their connections): once the usage is read, judging the
        inventory needs only ECR's, and the others' clients and idle connections are tens of
        MB. A service asked for again gets new clients."""
        for view in [k for k in self._clients if k[0] != BASE and k[2] not in keep]:
            del self._clients[view]
        async with self._shared_lock:
            for shared in [k for k in self._shared if k[1] not in keep]:
                del self._shared[shared]
                await self._closers.pop(shared).aclose()

    def api(self, account_id: AccountId, region: Region) -> Api:
        """The call gate for one account × region (shared by every task that calls there)."""
        key = (account_id, region)
        if key not in self._apis:
            self._apis[key] = Api(
                self.limits.calls_per_region,
                self.retry,
                self.limits,
                lambda started: self._expire(account_id, started),
                where=f"{account_id}/{region}",
                on_retry=self._report_retry,
                first_time=lambda line: self._first_time(f"{account_id} {line}"),
            )
        return self._apis[key]

    def _first_time(self, key: str) -> bool:
        """Whether `key` is seen for the first time in the run (then it is remembered)."""
        if key in self._said:
            return False
        self._said.add(key)
        return True

    def _report_retry(self, line: str) -> None:
        if self.on_retry is not None:
            self.on_retry(line)

    def _expire(self, account_id: AccountId, call_started: float) -> None:
        """AWS says the credentials a call of the account used had expired: unless they were
        refreshed since that call started (then the retry uses the new ones), make the next
        call refresh them. One refresh serves every call in flight."""
        credentials: Any = self._credentials.get(account_id)
        if credentials is None or self._refreshed_at.get(account_id, 0.0) > call_started:
            return
        # botocore refreshes when the expiry is near; it has no public "refresh now".
        credentials._expiry_time = datetime.now(UTC)

    @property
    def calls(self) -> int:
        """API calls made so far, retries included."""
        return sum(api.calls for api in (*self._apis.values(), *self._credential_apis))

    async def client(self, target: AccountTarget, region: Region, service: str) -> Any:
        """The run's client for `service` in the target account and region."""
        key = (target.account_id, region, service)
        async with self._locks[target.account_id]:
            if key not in self._clients:
                credentials = await self._credentials_for(target, region)
                shared = await self._shared_client(service, region)
                if self._wire and service in OPERATIONS:
                    self._clients[key] = WireClient(shared, credentials)
                else:
                    self._clients[key] = AccountClient(shared, credentials, lean=self._wire)
            return self._clients[key]

    async def _shared_client(self, service: str, region: Region) -> Any:
        async with self._shared_lock:
            if (region, service) not in self._shared:
                closer = AsyncExitStack()
                self._shared[region, service] = guard_answers(
                    await closer.enter_async_context(
                        _create_client(self._shared_session, service, region)
                    )
                )
                self._closers[region, service] = closer
            return self._shared[region, service]

    async def base_client(self, service: str, region: Region) -> Any:
        """A client with the base credentials (Organizations, STS for the roles)."""
        key = (BASE, region, service)
        async with self._locks[BASE]:
            if key not in self._clients:
                self._clients[key] = guard_answers(
                    await self._stack.enter_async_context(
                        _create_client(self._base, service, region)
                    )
                )
        return self._clients[key]

    async def _credentials_for(self, target: AccountTarget, region: Region) -> Any:
        """The credentials the account's calls are signed with (asked once per account)."""
        if target.account_id in self._signers:
            return self._signers[target.account_id]
        sts = await self.base_client("sts", region)
        # Credential calls get a gate of their own: a refresh happens while a call of the
        # account waits to be signed, holding one of the account's slots; if refreshing needed
        # such a slot too, a full gate would wait for itself forever.
        api = Api(1, self.retry, self.limits)
        self._credential_apis.append(api)
        if target.role_arn is None:
            identity = await api.call(sts.get_caller_identity)
            if identity.get("Account") != target.account_id:
                raise CredentialsError(
                    f"account {target.account_id}: no role to assume, and the base credentials "
                    f"belong to account {identity.get('Account')}; give --role-name or a role"
                )
            credentials: Any = await self._base.get_credentials()
            if credentials is None:
                raise NoCredentialsError()
        else:
            credentials = await self._assume(sts, api, target)
        self._signers[target.account_id] = credentials
        return credentials

    async def _assume(self, sts: Any, api: Api, target: AccountTarget) -> AioRefreshableCredentials:
        role_arn = target.role_arn
        extra = {"ExternalId": target.external_id} if target.external_id else {}

        async def fetch() -> dict[str, str]:
            answer = await api.call(
                sts.assume_role,
                RoleArn=role_arn,
                RoleSessionName=SESSION_NAME,
                DurationSeconds=ROLE_SESSION_SECONDS,
                **extra,
            )
            creds = answer["Credentials"]
            self._refreshed_at[target.account_id] = anyio.current_time()
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat(),
            }

        credentials = AioRefreshableCredentials.create_from_metadata(
            metadata=await fetch(), refresh_using=fetch, method="assume-role"
        )
        self._credentials[target.account_id] = credentials
        return credentials
