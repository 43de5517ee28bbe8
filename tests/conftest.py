"""Shared fixtures.

`aws` is opt-in: only tests that request it (or `usefixtures("aws")`) talk to moto's server.
The server starts once per session on 127.0.0.1; every `aws` test starts from a reset state
with an environment that cannot reach real AWS.

Every retry is instant in tests (`retry.set_testing`, as stamina's): the policies decide the
same, they only sleep no more. A test of the backoff itself asks for `real_retry_waits`.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator, Mapping

import boto3
import pytest

from ecr_sweeper import retry

retry.set_testing(True)

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    # HealthOmics' calls go to a `workflows-` host prefix, which only AWS's hosts have
    "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
}


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server, on a free loopback port, for the whole session."""
    from ecr_sweeper.demo.moto_patches import extend_moto, moto_server

    extend_moto()  # ListStateMachineVersions, which moto 5.2.5 lacks
    with moto_server() as url:
        assert url.startswith("http://127.0.0.1:")
        yield url


@pytest.fixture
def real_retry_waits() -> Iterator[None]:
    """Retries wait as their policy says (a fake clock keeps the test fast)."""
    retry.set_testing(False)
    try:
        yield
    finally:
        retry.set_testing(True)


def reset_moto(url: str) -> None:
    """Forget every account's resources."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"not moto's loopback server: {url}")
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        if response.status != 200:
            raise RuntimeError(f"moto reset failed: HTTP {response.status}")


def use_only(monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> None:
    """Replace every AWS_* variable by `env` (an emulator's, say), with no config or
    credentials file and no instance metadata, so nothing can reach real AWS."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    for key, value in {**FAKE_AWS_ENV, **env}.items():
        monkeypatch.setenv(key, value)


# The consumer services moto 5.2.5 does not implement (Lightsail, Braket, Clean Rooms ML,
# HealthOmics, Greengrass v2, GameLift's containers), or not in every region it
# lists (Elastic Beanstalk: not in ap-east-2 or mx-central-1); its server answers HTTP 500. Their
# census calls go to the project's emulator instead, which answers "none here": otherwise every
# plan against moto would (rightly) be blocked by an unanswered census.
NOT_IN_MOTO = (
    *("LIGHTSAIL", "ELASTIC_BEANSTALK", "BRAKET", "CLEANROOMSML", "OMICS", "GREENGRASSV2"),
    "GAMELIFT",  # moto has GameLift, but not its container group definitions (HTTP 500)
)


@pytest.fixture(scope="session")
def census_endpoint() -> Iterator[str]:
    """The emulator, for the census calls moto cannot answer (NOT_IN_MOTO)."""
    from awsim.scenario import Account, Scenario
    from awsim.server import run_emulator

    with run_emulator(Scenario(accounts=(Account("123456789012"),))) as emulator:
        yield emulator.endpoint_url


@pytest.fixture
def aws(moto_endpoint: str, census_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh moto state and an AWS_* environment pointing at it only. Yields the endpoint.

    Mirrors `ecr_sweeper.demo.run.isolate_from_aws`, but reversibly (monkeypatch).
    """
    reset_moto(moto_endpoint)
    use_only(
        monkeypatch,
        {
            "AWS_ENDPOINT_URL": moto_endpoint,
            **{f"AWS_ENDPOINT_URL_{service}": census_endpoint for service in NOT_IN_MOTO},
        },
    )
    # boto3's default session caches credentials; start each test from a fresh one.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    from moto_helpers import forget_clients

    forget_clients()
    return moto_endpoint
