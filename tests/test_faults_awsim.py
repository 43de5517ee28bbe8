"""The fault matrix (issue 5) on the emulator: under each fault the plan is identical to the
fault-free plan of the same org (or fails closed with a clear error), and nothing in use is
deleted. Every run is bounded: small orgs, fast retries, deterministic faults (seeded)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from awsim import Faults, Quotas, emulated, generate_org_with_truth, run_emulator
from awsim.generate import OrgSummary
from awsim.scenario import Scenario
from conftest import use_only
from ecr_sweeper.aws.limits import Limits
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import AccountId, AccountTarget, Plan, Region, Sources
from ecr_sweeper.pipeline import apply_plan, make_plan
from ecr_sweeper.results import ApplyResult
from ecr_sweeper.retry import RetryPolicy
from planning import NO_RETENTION
from sweep import connected

SOURCES = emulated(Sources(service_revisions=True))  # no EventBridge/Lambda
# Short real waits: token buckets and expiring sessions need time to pass between attempts.
# Faults need real waiting between attempts: every test here has its policy's waits.
pytestmark = pytest.mark.usefixtures("real_retry_waits")
RETRY = RetryPolicy(attempts=12, base_seconds=0.02, max_seconds=0.3)
Key = tuple[str, str, str, str]


@pytest.fixture(scope="module")
def org() -> tuple[Scenario, OrgSummary]:
    return generate_org_with_truth(accounts=3, regions=2, services_per_region=12, images_total=900)


def targets(scenario: Scenario) -> list[AccountTarget]:
    return [
        AccountTarget(
            AccountId(a.id),
            # every account in every region of the org (an account given no regions would
            # mean "every enabled region", which asks EC2, not served by the emulator)
            tuple(sorted({Region(r.name) for b in scenario.accounts for r in b.regions})),
            role_arn=f"arn:aws:iam::{a.id}:role/EcrSweeper",
        )
        for a in scenario.accounts
    ]


def sweep(
    scenario: Scenario,
    env: pytest.MonkeyPatch,
    faults: Faults,
    quotas: Quotas | None = None,
    *,
    apply: bool = False,
    limits: Limits | None = None,
) -> tuple[Plan, ApplyResult | None, set[Key], int]:
    """Plan (and apply) under `faults`; return the plan, the apply result, what the emulator
    deleted, and how many calls it throttled."""
    with run_emulator(scenario, faults=faults, quotas=quotas or Quotas.unlimited()) as emu:
        use_only(env, emu.env())

        async def run(connections: Connections) -> tuple[Plan, ApplyResult | None]:
            plan = await make_plan(
                targets(scenario), NO_RETENTION, connections, datetime.now(UTC), sources=SOURCES
            )
            result = await apply_plan(plan, connections, datetime.now(UTC)) if apply else None
            return plan, result

        plan, result = connected(run, retry=RETRY, limits=limits)
        return plan, result, set(emu.deleted()), emu.throttled_count()


def verdicts(plan: Plan) -> tuple[set[Key], set[Key]]:
    def keys(decisions: object) -> set[Key]:
        return {
            (d.repository.account_id, d.repository.region, d.repository.name, d.digest)
            for d in decisions  # type: ignore[attr-defined]
        }

    return keys(plan.deletions), keys(plan.kept)


@pytest.fixture(scope="module")
def baseline(org: tuple[Scenario, OrgSummary]) -> tuple[set[Key], set[Key]]:
    scenario, _ = org
    with pytest.MonkeyPatch.context() as env:
        plan, _, _, _ = sweep(scenario, env, Faults())
    assert not plan.errors
    deletions, kept = verdicts(plan)
    assert deletions
    assert kept
    return deletions, kept


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(Faults(seed=1, throttle_rate=0.3), id="30%-throttled"),
        pytest.param(Faults(seed=2, error_5xx_rate=0.02), id="2%-5xx"),
        pytest.param(Faults(seed=3, error_5xx_rate=0.2), id="20%-5xx"),
        pytest.param(Faults(seed=4, drop_rate=0.05), id="5%-dropped-connections"),
        pytest.param(Faults(seed=5, credential_max_calls=40), id="credentials-expire-mid-scan"),
    ],
)
def test_plan_under_faults_is_identical_to_the_fault_free_plan(
    org: tuple[Scenario, OrgSummary],
    baseline: tuple[set[Key], set[Key]],
    monkeypatch: pytest.MonkeyPatch,
    faults: Faults,
) -> None:
    scenario, summary = org
    plan, result, deleted, _ = sweep(scenario, monkeypatch, faults, apply=True)
    assert plan.errors == ()
    assert verdicts(plan) == baseline
    assert result is not None
    assert result.complete
    assert deleted == baseline[0]
    assert not deleted & summary.in_use


def test_tight_quotas_are_met_by_slowing_down_not_by_failing(
    org: tuple[Scenario, OrgSummary],
    baseline: tuple[set[Key], set[Key]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario, _ = org
    tight = Quotas.uniform(10, 5)
    plan, _, _, throttled = sweep(scenario, monkeypatch, Faults(), tight)
    assert plan.errors == ()
    assert verdicts(plan) == baseline
    assert throttled > 0  # the quotas did bind
    # Another starting rate (it paces the APIs without a known bucket; known buckets start at
    # their documented rate) gives the same plan: throttling changes when, never what. How
    # the controller meets a bucket is tested on a fake clock in test_limits.py.
    paced, _, _, _ = sweep(scenario, monkeypatch, Faults(), tight, limits=Limits(initial_rate=10.0))
    assert paced.errors == ()
    assert verdicts(paced) == baseline


def test_a_disabled_region_fails_closed_and_names_it(
    org: tuple[Scenario, OrgSummary], monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario, _ = org
    account = scenario.accounts[1].id
    region = scenario.accounts[1].regions[-1].name
    faults = Faults(denied_account_regions=frozenset({(account, region)}))
    plan, result, deleted, _ = sweep(scenario, monkeypatch, faults, apply=True)
    assert plan.blocked
    assert plan.deletions == ()
    assert any(e.account_id == account and e.region == region for e in plan.errors)
    assert deleted == set()
    assert result is not None
    assert result.outcome.deleted == []
