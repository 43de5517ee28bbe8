"""Helpers and pytest fixtures for awsim's own tests (import them into a test module).

A ``conftest.py`` under ``tests/awsim`` would not apply to ``tests/emulator/test_awsim_*.py``,
and the project's ``tests/conftest.py`` is not ours, so test modules do
``from awsim.fixtures import ...``.
"""

from __future__ import annotations

import socket
from typing import Any

import boto3
from botocore.config import Config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(
    endpoint_url: str,
    service: str,
    region: str = "us-east-1",
    *,
    creds: dict[str, str] | None = None,
    attempts: int = 1,
    timeout: float = 10.0,
) -> Any:
    """A sync boto3 client for ``service``; ``attempts=1`` means botocore never retries, so a
    test sees exactly what the server answered.  ``creds`` is an STS ``Credentials`` dict."""
    kw: dict[str, Any] = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if creds:
        kw = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    cfg = Config(
        retries={"total_max_attempts": attempts, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=timeout,
        max_pool_connections=20,
    )
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region, config=cfg, **kw)


def assume(
    endpoint_url: str, account: str, role: str = "sweeper", region: str = "us-east-1"
) -> dict[str, str]:
    out: dict[str, str] = client(endpoint_url, "sts", region).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="awsim-test"
    )["Credentials"]
    return out


def pages(
    method: Any,
    result_key: str,
    token_key: str = "nextToken",  # noqa: S107 - a parameter name, not a secret
    **kw: Any,
) -> list[list[Any]]:
    """Call a list API until the token runs out; returns every page (empty ones included)."""
    out = []
    for _ in range(10_000):
        resp = method(**kw)
        out.append(resp[result_key])
        tok = resp.get(token_key)
        if not tok:
            return out
        kw[token_key] = tok
    raise AssertionError("pagination did not terminate")
