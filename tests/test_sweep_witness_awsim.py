"""The pull witness end to end, against the awsim emulator over HTTP (moto records no pull
time): plan → apply → re-plan on an account whose registry has an image pulled recently that
no consumer this run read uses, one a service uses, one pulled long ago, and one being restored
from the archive; its pull-time update exclusions listed, or a denied list as one line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Protocol

import pytest

import sweep
from awsim import (
    UTC,
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
    emulated,
    image_uri,
    run_emulator,
)
from ecr_sweeper import wording
from ecr_sweeper.model import (
    AccountId,
    AccountRegion,
    AccountTarget,
    Code,
    Policy,
    PullExclusions,
    Sources,
    UnexplainedPulls,
)
from ecr_sweeper.model import Region as RegionName
from ecr_sweeper.report import pull_witness_lines

A, US = "111111111111", "us-east-1"
NOW = datetime(2025, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=200)
SOURCES = emulated(Sources(service_revisions=False))
POLICY = Policy(keep_last=0, min_age_days=0)  # only "in use" and the safety rules keep
SCANNER = f"arn:aws:iam::{A}:role/scanner"
NO_FAULTS = Faults()

UNEXPLAINED = Image(tags=("laptop",), pushed_at=OLD, last_pull=NOW - timedelta(days=3), key="u")
USED = Image(tags=("prod",), pushed_at=OLD, last_pull=NOW - timedelta(days=1), key="used")
STALE = Image(tags=("stale",), pushed_at=OLD, last_pull=NOW - timedelta(days=90), key="stale")
NEVER = Image(tags=("never",), pushed_at=OLD, key="never")
THAWING = Image(tags=("thawing",), pushed_at=OLD, status="ACTIVATING", key="thawing")
APP = Repository("app", (UNEXPLAINED, USED, STALE, NEVER, THAWING))


class StartEmulator(Protocol):
    def __call__(
        self, scenario: Scenario, *, faults: Faults = ...
    ) -> AbstractContextManager[Emulator]: ...


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> StartEmulator:
    """`with emulator(scenario) as emu:` with the AWS environment pointed at it only."""

    @contextmanager
    def start(scenario: Scenario, *, faults: Faults = NO_FAULTS) -> Iterator[Emulator]:
        with run_emulator(scenario, faults=faults, quotas=Quotas.unlimited()) as emu:
            for name in list(os.environ):
                if name.startswith("AWS_"):
                    monkeypatch.delenv(name)
            for name, value in emu.env().items():
                monkeypatch.setenv(name, value)
            monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
            monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
            monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
            yield emu

    return start


def scenario() -> Scenario:
    used = image_uri(A, US, "app", tag="prod")
    td = TaskDefinition("web", 1, (ContainerDefinition("app", used),))
    task = Task("web:1", (Container("app", used, USED.digest),), service="web")
    cluster = Cluster("prod", (Service("web", task_definition="web:1"),), (task,))
    region = Region(US, (cluster,), (td,), (APP,), pull_time_exclusions=(SCANNER,))
    return Scenario((Account(A, (region,)),))


TARGETS = [
    AccountTarget(AccountId(A), (RegionName(US),), role_arn=f"arn:aws:iam::{A}:role/EcrSweeper")
]


def test_an_unexplained_pull_is_kept_with_its_reason_and_summed_up(
    emulator: StartEmulator,
) -> None:
    with emulator(scenario()) as emu:
        reviewed = sweep.plan(TARGETS, POLICY, sources=SOURCES, now=NOW)
        assert not reviewed.blocked
        reasons: dict[str, str] = {d.digest: wording.reason(d.reason) for d in reviewed.kept}
        assert reasons == {
            UNEXPLAINED.digest: "kept: pulled 3 days ago; no consumer this run read uses it",
            USED.digest: reasons[USED.digest],
            THAWING.digest: "in use: being restored from the archive (imageStatus ACTIVATING)",
        }
        assert next(d for d in reviewed.kept if d.digest == USED.digest).reason.code is (
            Code.TAG_USED
        )
        assert {d.digest for d in reviewed.deletions} == {STALE.digest, NEVER.digest}
        key = reviewed.kept[0].repository
        assert reviewed.unexplained_pulls == (UnexplainedPulls(key, 1, NOW - timedelta(days=3)),)
        place = AccountRegion(AccountId(A), RegionName(US))
        assert reviewed.pull_exclusions == (PullExclusions(place, (SCANNER,)),)
        assert emu.call_count(operation="ListPullTimeUpdateExclusions") == 1
        assert pull_witness_lines(reviewed)[-1] == (f"{A}/{US}: pulls not recorded for {SCANNER}")

        result = sweep.apply(reviewed, now=NOW)
        assert result.complete
        assert {d.digest for d in result.outcome.deleted} == {STALE.digest, NEVER.digest}
        assert emu.image_digests(A, US, "app") == {
            UNEXPLAINED.digest,
            USED.digest,
            THAWING.digest,
        }
        again = sweep.plan(TARGETS, POLICY, sources=SOURCES, now=NOW)
        assert again.deletions == ()


def test_switched_off_the_witness_reads_no_exclusions_and_keeps_no_pull(
    emulator: StartEmulator,
) -> None:
    with emulator(scenario()) as emu:
        reviewed = sweep.plan(
            TARGETS,
            Policy(keep_last=0, min_age_days=0, pulled_within_days=0),
            sources=SOURCES,
            now=NOW,
        )
        assert UNEXPLAINED.digest in {d.digest for d in reviewed.deletions}
        assert reviewed.unexplained_pulls == ()
        assert reviewed.pull_exclusions == ()
        assert emu.call_count(operation="ListPullTimeUpdateExclusions") == 0


def test_a_denied_exclusion_list_is_one_line_and_blocks_nothing(
    emulator: StartEmulator,
) -> None:
    faults = Faults(denied_operations=frozenset({"ListPullTimeUpdateExclusions"}))
    with emulator(scenario(), faults=faults):
        reviewed = sweep.plan(TARGETS, POLICY, sources=SOURCES, now=NOW)
        assert not reviewed.blocked
        assert reviewed.errors == ()
        assert {d.digest for d in reviewed.deletions} == {STALE.digest, NEVER.digest}
        (exclusions,) = reviewed.pull_exclusions
        assert exclusions.error is not None
        assert "AccessDeniedException" in exclusions.error
        line = pull_witness_lines(reviewed)[-1]
        assert line.startswith(f"{A}/{US}: pull-time update exclusions not read (")
        assert "\n" not in line


# --------------------------------------------------------------------------- Amazon Inspector

EU = "eu-west-1"
SEEN = Image(tags=("seen",), pushed_at=OLD, in_use_count=3, last_in_use=NOW, key="seen")
UNSEEN = Image(tags=("unseen",), pushed_at=OLD, key="unseen")


def test_an_image_inspector_sees_in_use_is_held_and_named_where_it_scans_ecr_only(
    emulator: StartEmulator,
) -> None:
    """Inspector scans ECR in us-east-1 only: there its coverage holds the image it sees in
    use; in eu-west-1 the status check is the only Inspector call, and the same image goes."""
    regions = (
        Region(US, repositories=(Repository("app", (SEEN, UNSEEN)),), inspector_ecr=True),
        Region(EU, repositories=(Repository("app", (SEEN, UNSEEN)),)),
    )
    targets = [
        AccountTarget(
            AccountId(A), (RegionName(US), RegionName(EU)), f"arn:aws:iam::{A}:role/EcrSweeper"
        )
    ]
    with emulator(Scenario((Account(A, regions),))) as emu:
        reviewed = sweep.plan(targets, POLICY, sources=SOURCES, now=NOW)
        assert not reviewed.blocked
        kept = {(d.repository.region, d.digest): wording.reason(d.reason) for d in reviewed.kept}
        assert kept == {
            (US, SEEN.digest): (
                "kept: Amazon Inspector sees it in use (3 workloads, last 2025-06-01); no "
                "consumer this run read uses it"
            )
        }
        assert {(d.repository.region, d.digest) for d in reviewed.deletions} == {
            (US, UNSEEN.digest),
            (EU, SEEN.digest),
            (EU, UNSEEN.digest),
        }
        assert any(
            "Amazon Inspector sees it in use" in line and SEEN.digest in line
            for line in wording.warnings(reviewed.warnings)
        )
        assert emu.call_count(operation="BatchGetAccountStatus") == 2
        assert emu.call_count(operation="ListCoverage") == 1  # us-east-1 only
