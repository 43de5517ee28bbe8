"""Quotas (token buckets) and injected faults: throttling, 5xx, dropped connections, expired
credentials, access denied, latency -- plus aiobotocore through ``AWS_ENDPOINT_URL``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import botocore.exceptions
import pytest
from botocore.exceptions import ClientError

from awsim import (
    Account,
    Emulator,
    Faults,
    Image,
    Quotas,
    RateLimit,
    Region,
    Repository,
    Scenario,
    run_emulator,
)
from awsim.fixtures import assume, client

MGMT, WL = "111111111111", "222222222222"
R, R2 = "us-east-1", "eu-west-1"
REPO = Repository("team/app", images=tuple(Image(tags=(f"t{i}",), key=str(i)) for i in range(5)))


def _scenario() -> Scenario:
    regions = (Region(R, repositories=(REPO,)), Region(R2, repositories=(REPO,)))
    return Scenario((Account(MGMT, regions=regions), Account(WL, regions=regions)))


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with run_emulator(_scenario(), quotas=Quotas.unlimited()) as e:
        yield e


@pytest.fixture(autouse=True)
def _clean(emu: Emulator) -> Iterator[None]:
    emu.set_faults(Faults())
    emu.set_quotas(Quotas.unlimited())
    emu.reset_stats()
    yield
    emu.set_faults(Faults())
    emu.set_quotas(Quotas.unlimited())


def test_token_bucket_per_account_region_operation(emu: Emulator) -> None:
    emu.set_quotas(Quotas(rates={"ecr:DescribeRepositories": RateLimit(rate=1.0, burst=3.0)}))
    ecr = client(emu.endpoint_url, "ecr")
    for _ in range(3):
        ecr.describe_repositories()
    with pytest.raises(ClientError) as e:
        ecr.describe_repositories()
    assert _code(e) == "ThrottlingException"
    assert e.value.response["Error"]["Message"] == "Rate exceeded"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Other operation, other region, other account: separate buckets.
    ecr.list_images(repositoryName="team/app")
    client(emu.endpoint_url, "ecr", R2).describe_repositories()
    client(emu.endpoint_url, "ecr", creds=assume(emu.endpoint_url, WL)).describe_repositories()
    time.sleep(1.1)  # refill at 1/s
    ecr.describe_repositories()
    assert emu.throttled_count(account=MGMT, region=R, operation="DescribeRepositories") == 1
    assert emu.call_count(account=MGMT, region=R, operation="DescribeRepositories") == 5


def test_ecs_actions_of_one_category_share_its_bucket(emu: Emulator) -> None:
    """ECS throttles per category of actions (the ECS throttling page): ListTasks and
    DescribeTasks ("cluster resource read") drain one bucket; DescribeServices has its own."""
    emu.set_quotas(Quotas(rates={"ecs:cluster resource read": RateLimit(rate=0.01, burst=3.0)}))
    ecs = client(emu.endpoint_url, "ecs")

    def answer(call: Callable[..., object], **params: object) -> str:
        """The error code (admitted calls fail too: the emulator has no such cluster)."""
        with pytest.raises(ClientError) as e:
            call(cluster="nowhere", **params)
        return _code(e)

    admitted = "ClusterNotFoundException"
    assert answer(ecs.list_tasks) == admitted
    assert answer(ecs.list_tasks) == admitted
    assert answer(ecs.describe_tasks, tasks=["t"]) == admitted
    assert answer(ecs.list_tasks) == "ThrottlingException"
    assert answer(ecs.describe_tasks, tasks=["t"]) == "ThrottlingException"
    assert answer(ecs.describe_services, services=["s"]) == admitted  # service read: its own
    assert emu.throttled_count(account=MGMT, region=R, operation="ListTasks") == 1
    assert emu.throttled_count(account=MGMT, region=R, operation="DescribeTasks") == 1


def test_throttle_shapes_per_protocol(emu: Emulator) -> None:
    emu.set_faults(Faults(throttle_rate=1.0))
    with pytest.raises(ClientError) as e:
        client(emu.endpoint_url, "sts").get_caller_identity()
    assert _code(e) == "Throttling"
    assert e.value.response["Error"]["Message"] == "Rate exceeded"
    with pytest.raises(ClientError) as e:
        client(emu.endpoint_url, "organizations").list_accounts()
    assert _code(e) == "TooManyRequestsException"
    with pytest.raises(ClientError) as e:
        client(emu.endpoint_url, "ecs").list_clusters()
    assert _code(e) == "ThrottlingException"


def _outcomes(emu: Emulator, n: int) -> list[str]:
    ecr = client(emu.endpoint_url, "ecr")
    out = []
    for _ in range(n):
        try:
            ecr.describe_images(repositoryName="team/app")
            out.append("ok")
        except ClientError as e:
            out.append(str(e.response["Error"]["Code"]))
    return out


def test_throttle_storm_is_deterministic(emu: Emulator) -> None:
    emu.set_faults(Faults(throttle_rate=0.3, seed=7))
    first = _outcomes(emu, 150)
    share = first.count("ThrottlingException") / len(first)
    assert 0.18 < share < 0.42
    emu.reset_stats()  # per-key call counters restart -> identical fates
    assert _outcomes(emu, 150) == first
    emu.reset_stats()
    emu.set_faults(Faults(throttle_rate=0.3, seed=8))
    assert _outcomes(emu, 150) != first


def test_5xx(emu: Emulator) -> None:
    emu.set_faults(Faults(error_5xx_rate=1.0))
    statuses = set()
    for _ in range(12):
        with pytest.raises(ClientError) as e:
            client(emu.endpoint_url, "ecr").describe_repositories()
        statuses.add((e.value.response["ResponseMetadata"]["HTTPStatusCode"], _code(e)))
    assert statuses == {(500, "ServerException"), (503, "ServiceUnavailable")}
    # botocore retries 5xx: with 50% failures and retries enabled calls eventually pass.
    emu.set_faults(Faults(error_5xx_rate=0.5))
    retrying = client(emu.endpoint_url, "ecr", attempts=10)
    for _ in range(10):
        retrying.describe_repositories()
    assert emu.fault_counts()["5xx"] > 0


def test_faults_limited_to_operations_and_accounts(emu: Emulator) -> None:
    emu.set_faults(Faults(error_5xx_rate=1.0, operations=frozenset({"DescribeImages"})))
    ecr = client(emu.endpoint_url, "ecr")
    ecr.list_images(repositoryName="team/app")
    with pytest.raises(ClientError):
        ecr.describe_images(repositoryName="team/app")
    emu.set_faults(Faults(throttle_rate=1.0, accounts=frozenset({WL})))
    ecr.describe_images(repositoryName="team/app")
    with pytest.raises(ClientError):
        client(emu.endpoint_url, "ecr", creds=assume(emu.endpoint_url, WL)).describe_images(
            repositoryName="team/app"
        )


def test_dropped_connection(emu: Emulator) -> None:
    emu.set_faults(Faults(drop_rate=1.0, operations=frozenset({"ListImages"})))
    with pytest.raises((botocore.exceptions.HTTPClientError, botocore.exceptions.ConnectionError)):
        client(emu.endpoint_url, "ecr").list_images(repositoryName="team/app")
    assert emu.fault_counts()["dropped"] == 1
    client(emu.endpoint_url, "ecr").describe_images(repositoryName="team/app")  # server still fine


def test_credentials_expire_after_n_calls(emu: Emulator) -> None:
    emu.set_faults(Faults(credential_max_calls=2))
    ecr = client(emu.endpoint_url, "ecr", creds=assume(emu.endpoint_url, WL))
    ecr.describe_repositories()
    ecr.describe_repositories()
    with pytest.raises(ClientError) as e:
        ecr.describe_repositories()
    assert _code(e) == "ExpiredTokenException"


def test_credentials_expire_after_ttl(emu: Emulator) -> None:
    emu.set_faults(Faults(credential_ttl_s=0.3))
    creds = assume(emu.endpoint_url, WL)
    sts = client(emu.endpoint_url, "sts", creds=creds)
    assert sts.get_caller_identity()["Account"] == WL
    time.sleep(0.4)
    with pytest.raises(ClientError) as e:
        sts.get_caller_identity()
    assert _code(e) == "ExpiredToken"
    with pytest.raises(ClientError) as e:
        client(emu.endpoint_url, "ecs", creds=creds).list_clusters()
    assert _code(e) == "ExpiredTokenException"
    # expire_sessions(): immediate expiry on demand.
    emu.set_faults(Faults())
    fresh = client(emu.endpoint_url, "ecr", creds=assume(emu.endpoint_url, WL))
    fresh.describe_repositories()
    emu.expire_sessions()
    with pytest.raises(ClientError) as e:
        fresh.describe_repositories()
    assert _code(e) == "ExpiredTokenException"


def test_access_denied_account_and_region(emu: Emulator) -> None:
    emu.set_faults(Faults(denied_accounts=frozenset({WL})))
    with pytest.raises(ClientError) as e:
        assume(emu.endpoint_url, WL)
    assert _code(e) == "AccessDenied"
    emu.set_faults(Faults(denied_account_regions=frozenset({(WL, R2)})))
    creds = assume(emu.endpoint_url, WL)
    client(emu.endpoint_url, "ecr", R, creds=creds).describe_repositories()
    with pytest.raises(ClientError) as e:
        client(emu.endpoint_url, "ecr", R2, creds=creds).describe_repositories()
    assert _code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        client(emu.endpoint_url, "ecs", R2, creds=creds).list_clusters()
    assert _code(e) == "AccessDeniedException"


def test_latency(emu: Emulator) -> None:
    emu.set_faults(Faults(latency_s=0.15, latency_jitter_s=0.05))
    ecr = client(emu.endpoint_url, "ecr")
    t = time.monotonic()
    ecr.describe_repositories()
    assert 0.15 <= time.monotonic() - t < 1.5


def test_aiobotocore_via_aws_endpoint_url_concurrently(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 concurrent calls with 200 ms latency finish in well under the serial 40 s."""
    for k, v in emu.env().items():
        monkeypatch.setenv(k, v)
    emu.set_faults(Faults(latency_s=0.2))

    async def main() -> list[int]:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import AioSession

        session = AioSession()
        async with session.create_client("sts") as sts:
            c = (await sts.assume_role(RoleArn=f"arn:aws:iam::{WL}:role/x", RoleSessionName="aio"))[
                "Credentials"
            ]
        async with session.create_client(
            "ecr",
            aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"],
            config=AioConfig(max_pool_connections=200),
        ) as ecr:
            rs = await asyncio.gather(
                *(ecr.describe_images(repositoryName="team/app") for _ in range(200))
            )
        return [len(r["imageDetails"]) for r in rs]

    t = time.monotonic()
    assert asyncio.run(asyncio.wait_for(main(), 30)) == [5] * 200
    assert time.monotonic() - t < 10
    assert emu.call_count(account=WL, operation="DescribeImages") == 200
    assert emu.stats()["max_in_flight"] > 50
