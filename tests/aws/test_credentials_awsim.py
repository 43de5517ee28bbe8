"""Credentials, end to end through the `ecr-sweeper` command against the awsim emulator.

* GitLab OIDC: with only AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_SESSION_NAME set
  (no keys), botocore's standard web-identity provider calls AssumeRoleWithWebIdentity on the
  endpoint AWS_ENDPOINT_URL names, and the sweeper assumes each target's role with those
  credentials.
* No credential is ever printed or written: the base keys, the web identity token, and every
  session the emulator issued stay out of stdout, stderr, the plan file and the journal, on the
  success paths (plan, show, explain, apply) and the failure paths (AssumeRole denied, calls
  denied, the web identity exchange denied).

Every command runs as a subprocess (`python -m ecr_sweeper`), so what is checked is what a CI
log would show. The emulator serves no EventBridge, Scheduler or Lambda: those sources are off.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from awsim import (
    Account,
    Cluster,
    Container,
    ContainerDefinition,
    Emulator,
    Faults,
    Image,
    Quotas,
    Region,
    Repository,
    Scenario,
    Service,
    Task,
    TaskDefinition,
    image_uri,
    run_emulator,
)
from awsim.context import Ctx
from awsim.ops_sts import STS_HANDLERS
from awsim.server import AwsimServer

MGMT, TEAM, DENIED = "111111111111", "222222222222", "333333333333"
US = "us-east-1"
USED = Image(tags=("v1",), key="used")
OLD = Image(tags=("v0",), key="old")
UNTAGGED = Image(key="untagged")
CI_ROLE = f"arn:aws:iam::{MGMT}:role/GitLabSweeper"
TARGET_ROLE = f"arn:aws:iam::{TEAM}:role/EcrSweeper"
SESSION_NAME = "gitlab-4242-987654"
# A JWT-shaped token (header.payload.signature, base64url); AWS checks the signature, awsim
# only that one is there.
ID_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImF3c2ltIn0"
    ".eyJzdWIiOiJwcm9qZWN0X3BhdGg6Z3JvdXAvcHJvamVjdDpyZWZfdHlwZTpicmFuY2g6cmVmOm1haW4ifQ"
    ".SIGNATUREsignatureLEAKcheck0123456789"
)
# Distinctive base credentials: any appearance in output is a leak.
BASE_KEY_ID = "AKIALEAKCHECK7Q2XZ9W"
BASE_SECRET = "SECRETsecretLEAKcheck/0123456789+abcdefXYZ"
BASE_TOKEN = "TOKENtokenLEAKcheckIQoJb3JpZ2luX2VjEK3//////////wEaCXVzLWVhc3QtMSJH"
POLICY_FLAGS = ["--min-age-days", "0", "--keep-last", "0", "--no-schedules", "--no-lambdas"]
# and the other consumers the emulator does not serve (see awsim.emulated)
POLICY_FLAGS += ["--no-batch", "--no-step-functions", "--no-codebuild", "--no-sagemaker"]
POLICY_FLAGS += ["--no-emr", "--no-pipes"]


def scenario() -> Scenario:
    """The management account (where the CI role lives), a team account whose service runs
    `app:v1` (v0 and an untagged image are unused), and an account nobody may assume into."""
    uri = image_uri(TEAM, US, "app", tag="v1")
    region = Region(
        US,
        clusters=(
            Cluster(
                "prod",
                services=(Service("web", task_definition="app:1"),),
                tasks=(Task("app:1", (Container("app", uri, USED.digest),), service="web"),),
            ),
        ),
        task_definitions=(TaskDefinition("app", 1, (ContainerDefinition("app", uri),)),),
        repositories=(Repository("app", (USED, OLD, UNTAGGED)),),
    )
    return Scenario(
        (
            Account(MGMT),
            Account(TEAM, (region,)),
            Account(DENIED, (Region(US),), assume_role_denied=True),
        )
    )


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with run_emulator(scenario(), quotas=Quotas.unlimited()) as emulator:
        yield emulator


StsCall = tuple[str, str, str, str, str]  # action, RoleArn, RoleSessionName, token, caller


@pytest.fixture
def sts_calls(monkeypatch: pytest.MonkeyPatch) -> list[StsCall]:
    """Every AssumeRole* request the emulator answers, in order, with who made it."""
    calls: list[StsCall] = []
    for action in ("AssumeRole", "AssumeRoleWithWebIdentity"):
        handler = STS_HANDLERS[action]

        def recording(
            ctx: Ctx, req: dict[str, Any], action: str = action, handler: Any = handler
        ) -> Any:
            calls.append(
                (
                    action,
                    req.get("RoleArn", ""),
                    req.get("RoleSessionName", ""),
                    req.get("WebIdentityToken", ""),
                    ctx.caller_arn,
                )
            )
            return handler(ctx, req)

        monkeypatch.setitem(STS_HANDLERS, action, recording)
    return calls


def aws_env(emulator: Emulator, **settings: str) -> dict[str, str]:
    """The environment of a command: nothing of the caller's AWS setup, the emulator as the
    endpoint of every service, and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        env.pop(proxy, None)
    env.update(
        AWS_ENDPOINT_URL=emulator.endpoint_url,
        AWS_DEFAULT_REGION=US,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(settings)
    return env


def sweeper(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecr_sweeper", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def plan_args(*accounts: str, output: str = "plan.json") -> list[str]:
    args = ["plan"]
    for account in accounts:
        args += ["--account", account]
    return [*args, "--region", US, "--role-name", "EcrSweeper", *POLICY_FLAGS, "--output", output]


def digests(plan_file: Path, key: str) -> set[str]:
    data = json.loads(plan_file.read_text(encoding="utf-8"))
    return {d["image_digest"] for d in data[key]}


def issued_secrets(emulator: Emulator) -> list[str]:
    """Access key id, secret key and session token of every session the emulator issued."""

    def collect(server: AwsimServer) -> list[str]:
        return [
            value
            for s in server.sessions.values()
            for value in (s.access_key_id, s.secret_access_key, s.session_token)
        ]

    return emulator.run(collect)


# --------------------------------------------------------------------------- GitLab OIDC


def test_plan_with_gitlab_web_identity_and_no_keys(
    emu: Emulator, sts_calls: list[StsCall], tmp_path: Path
) -> None:
    token_file = tmp_path / "id_token"
    token_file.write_text(ID_TOKEN, encoding="utf-8")
    env = aws_env(
        emu,
        AWS_ROLE_ARN=CI_ROLE,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_SESSION_NAME=SESSION_NAME,
    )
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} & set(env)

    result = sweeper(env, tmp_path, *plan_args(TEAM))

    assert result.returncode == 0, result.stderr
    plan_file = tmp_path / "plan.json"
    assert digests(plan_file, "deletions") == {OLD.digest, UNTAGGED.digest}
    assert digests(plan_file, "kept") == {USED.digest}
    # The token went to STS at the emulator (AWS_ENDPOINT_URL is honoured by the web-identity
    # provider too), then the target role was assumed *with the web identity session*.
    # The exchange is unsigned (awsim takes a request without an access key for its base
    # identity); the AssumeRole is signed by the session the exchange returned.
    unsigned = f"arn:aws:iam::{MGMT}:user/awsim"
    ci_session = f"arn:aws:sts::{MGMT}:assumed-role/GitLabSweeper/{SESSION_NAME}"
    assert sts_calls == [
        ("AssumeRoleWithWebIdentity", CI_ROLE, SESSION_NAME, ID_TOKEN, unsigned),
        ("AssumeRole", TARGET_ROLE, "ecr-sweeper", "", ci_session),
    ]
    assert emu.call_count(operation="AssumeRoleWithWebIdentity") == 1
    assert emu.call_count(operation="AssumeRole") == 1
    assert emu.call_count(operation="AssumeRole", account=MGMT) == 1  # as the CI role
    # One up-front check of the base credentials (the web identity session), no more: the
    # token was exchanged once, for the check and the run.
    assert emu.call_count(operation="GetCallerIdentity") == 1
    # Every ECS and ECR call (and every census and EKS call: EC2 regions, EKS, Lightsail…) ran
    # as the target account's role.
    assert emu.call_count(service="ecr", account=TEAM) > 0
    assert emu.call_count(service="ecs", account=TEAM) > 0
    assert emu.call_count(service="eks", account=TEAM) > 0
    every = emu.call_count()
    assert every - emu.call_count(service="sts") == emu.call_count(account=TEAM)
    # Nothing was deleted by a plan, and the token was not echoed anywhere.
    assert emu.deleted() == []
    assert_no_secrets(
        [ID_TOKEN, *issued_secrets(emu)],
        {"stdout": result.stdout, "stderr": result.stderr},
        [plan_file],
    )


def test_web_identity_denied_is_a_clear_error_without_the_token(
    emu: Emulator, sts_calls: list[StsCall], tmp_path: Path
) -> None:
    """A CI role that does not trust the token (here: a role in an account that denies it):
    a configuration error (exit 1) in one line, before any scan, that names the exchange and
    the role, prints no token and writes no plan."""
    token_file = tmp_path / "id_token"
    token_file.write_text(ID_TOKEN, encoding="utf-8")
    denied_role = f"arn:aws:iam::{DENIED}:role/GitLabSweeper"
    env = aws_env(
        emu,
        AWS_ROLE_ARN=denied_role,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_SESSION_NAME=SESSION_NAME,
    )

    result = sweeper(env, tmp_path, *plan_args(TEAM))

    assert result.returncode == 1, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith("error: the base credentials were refused")
    assert "AssumeRoleWithWebIdentity" in line
    assert denied_role in line
    assert {c[0] for c in sts_calls} == {"AssumeRoleWithWebIdentity"}  # never got further
    assert not (tmp_path / "plan.json").exists()
    assert_no_secrets([ID_TOKEN], {"stdout": result.stdout, "stderr": result.stderr}, [])


# --------------------------------------------------------------------------- no secrets in logs


def flat(text: str) -> str:
    """Output without whitespace: rich wraps long lines, which must not hide a secret."""
    return re.sub(r"\s+", "", text)


def assert_no_secrets(secrets: list[str], outputs: dict[str, str], files: list[Path]) -> None:
    assert secrets
    texts = dict(outputs)
    for path in files:
        texts[str(path)] = path.read_text(encoding="utf-8")
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"a credential appears in {where}"
            assert secret not in flat(text), f"a credential appears (wrapped) in {where}"


def test_the_leak_check_sees_a_wrapped_secret(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text("ok", encoding="utf-8")
    assert_no_secrets([BASE_SECRET], {"stderr": "fine"}, [out])
    wrapped = f"error: {BASE_SECRET[:20]}\n  {BASE_SECRET[20:]}"
    with pytest.raises(AssertionError, match="wrapped"):
        assert_no_secrets([BASE_SECRET], {"stderr": wrapped}, [out])


def test_no_command_prints_or_writes_a_credential(emu: Emulator, tmp_path: Path) -> None:
    env = aws_env(
        emu,
        AWS_ACCESS_KEY_ID=BASE_KEY_ID,
        AWS_SECRET_ACCESS_KEY=BASE_SECRET,
        AWS_SESSION_TOKEN=BASE_TOKEN,
    )
    outputs: dict[str, str] = {}

    def run(name: str, *args: str, expect: int) -> subprocess.CompletedProcess[str]:
        result = sweeper(env, tmp_path, *args)
        outputs[f"{name} stdout"] = result.stdout
        outputs[f"{name} stderr"] = result.stderr
        assert result.returncode == expect, f"{name}: {result.stderr}"
        return result

    # Success: plan, show, explain, apply.
    run("plan", *plan_args(TEAM), expect=0)
    plan_file = tmp_path / "plan.json"
    assert digests(plan_file, "deletions") == {OLD.digest, UNTAGGED.digest}
    run("show", "show", "plan.json", "--details", expect=0)
    explained = run("explain", "explain", "plan.json", "v0", expect=0)
    assert OLD.digest in explained.stdout
    run("explain-missing", "explain", "plan.json", "no-such-tag", expect=1)

    # Failure: the target account's calls are denied while applying -> the re-check is
    # blocked, nothing is deleted, and the errors (with the caller's ARN) are printed.
    emu.set_faults(Faults(denied_accounts=frozenset({TEAM})))
    blocked = run("apply-denied", "apply", "plan.json", "--yes", expect=3)
    assert "AccessDenied" in blocked.stderr
    assert emu.deleted() == []
    emu.set_faults(Faults())

    applied = run("apply", "apply", "plan.json", "--yes", expect=0)
    assert "deleted 2" in applied.stdout
    assert {d[3] for d in emu.deleted()} == {OLD.digest, UNTAGGED.digest}
    journal = tmp_path / "plan.json.journal"
    assert journal.exists()

    # Failure: AssumeRole into an account is denied -> blocked plan, error printed.
    denied = run("plan-denied", *plan_args(TEAM, DENIED, output="denied.json"), expect=3)
    assert f"arn:aws:iam::{DENIED}:role/EcrSweeper" in flat(denied.stderr)
    assert "AccessDenied" in denied.stderr
    run("show-denied", "show", "denied.json", expect=0)
    run("apply-blocked-plan", "apply", "denied.json", "--yes", expect=3)

    # Failure: every ECS/ECR call of the account is denied after the role was assumed.
    emu.set_faults(Faults(denied_account_regions=frozenset({(TEAM, US)})))
    calls_denied = run("plan-calls-denied", *plan_args(TEAM, output="calls.json"), expect=3)
    assert "AccessDeniedException" in calls_denied.stderr
    emu.set_faults(Faults())

    # The base keys reached the emulator (they signed the AssumeRole calls as the management
    # account), and sessions were issued: they are what must not appear.
    assert emu.call_count(operation="AssumeRole", account=MGMT) >= 4
    secrets = [BASE_KEY_ID, BASE_SECRET, BASE_TOKEN, *issued_secrets(emu)]
    assert len(secrets) >= 3 + 3 * 4
    files = sorted(p for p in tmp_path.iterdir() if p.is_file())
    assert {p.name for p in files} >= {"plan.json", "plan.json.journal", "denied.json"}
    assert_no_secrets(secrets, outputs, files)
