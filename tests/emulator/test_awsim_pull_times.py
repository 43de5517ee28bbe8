"""What the pull witness reads, as the emulator serves it (moto serves none of it: it records no
`lastRecordedPullTime` and has no ListPullTimeUpdateExclusions), and Amazon Inspector's
coverage (its second witness; moto's inspector2 has no coverage): answers checked against
botocore's model (the raw JSON, as test_awsim_conformance checks the kinds moto lacks), paging,
a denied call, and the pull times and statuses a scenario sets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from awsim import UTC, Account, Faults, Image, Quotas, Region, Repository, Scenario, run_emulator
from awsim.fixtures import client
from emulator.test_awsim_conformance import _conforms, _raw

A = "111111111111"
US, EU = "us-east-1", "eu-west-1"
T0 = datetime(2025, 5, 1, tzinfo=UTC)
SCANNERS = tuple(f"arn:aws:iam::{A}:role/scanner-{n}" for n in (3, 1, 2))
PULLED = Image(tags=("pulled",), last_pull=T0 + timedelta(days=2), key="pulled")
THAWING = Image(tags=("thawing",), status="ACTIVATING", key="thawing")
SEEN = Image(tags=("seen",), in_use_count=2, last_in_use=T0 + timedelta(days=1), key="seen")
ALSO_SEEN = Image(tags=("also",), in_use_count=1, key="also")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    scenario = Scenario(
        (
            Account(
                A,
                regions=(
                    Region(
                        US,
                        repositories=(Repository("app", (PULLED, THAWING, SEEN, ALSO_SEEN)),),
                        pull_time_exclusions=SCANNERS,
                        inspector_ecr=True,
                    ),
                    Region(EU),
                ),
            ),
        )
    )
    with run_emulator(scenario, quotas=Quotas.unlimited()) as emu:
        yield emu.endpoint_url


def test_pull_time_update_exclusions_follow_the_model(endpoint: str) -> None:
    operation, body = _raw(endpoint, "ecr", lambda c: c.list_pull_time_update_exclusions())
    assert body == {"pullTimeUpdateExclusions": sorted(SCANNERS)}
    assert _conforms(operation.output_shape, body) == []


def test_pull_time_update_exclusions_page_and_belong_to_their_region(endpoint: str) -> None:
    ecr = client(endpoint, "ecr")
    first = ecr.list_pull_time_update_exclusions(maxResults=2)
    assert first["pullTimeUpdateExclusions"] == sorted(SCANNERS)[:2]
    rest = ecr.list_pull_time_update_exclusions(maxResults=2, nextToken=first["nextToken"])
    assert rest["pullTimeUpdateExclusions"] == sorted(SCANNERS)[2:]
    assert "nextToken" not in rest
    there = client(endpoint, "ecr", region=EU).list_pull_time_update_exclusions()
    assert there["pullTimeUpdateExclusions"] == []
    with pytest.raises(ClientError) as too_many:
        ecr.list_pull_time_update_exclusions(maxResults=1001)
    assert too_many.value.response["Error"]["Code"] == "InvalidParameterException"


def test_pull_times_and_statuses_follow_the_model(endpoint: str) -> None:
    operation, body = _raw(
        endpoint,
        "ecr",
        lambda c: c.describe_images(repositoryName="app", filter={"imageStatus": "ANY"}),
    )
    assert _conforms(operation.output_shape, body) == []
    details = {
        d["imageDigest"]: d
        for d in client(endpoint, "ecr").describe_images(
            repositoryName="app", filter={"imageStatus": "ANY"}
        )["imageDetails"]
    }
    assert details[PULLED.digest]["lastRecordedPullTime"] == T0 + timedelta(days=2)
    assert "lastRecordedPullTime" not in details[THAWING.digest]
    assert details[THAWING.digest]["imageStatus"] == "ACTIVATING"


def test_a_denied_exclusion_list_is_access_denied() -> None:
    scenario = Scenario((Account(A, regions=(Region(US, pull_time_exclusions=SCANNERS),)),))
    faults = Faults(denied_operations=frozenset({"ListPullTimeUpdateExclusions"}))
    with run_emulator(scenario, faults=faults, quotas=Quotas.unlimited()) as emu:
        ecr: Any = client(emu.endpoint_url, "ecr")
        with pytest.raises(ClientError) as denied:
            ecr.list_pull_time_update_exclusions()
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"


COVERAGE = {
    "resourceType": [{"comparison": "EQUALS", "value": "AWS_ECR_CONTAINER_IMAGE"}],
    "accountId": [{"comparison": "EQUALS", "value": A}],
    "ecrImageInUseCount": [{"lowerInclusive": 1}],
}


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.batch_get_account_status(accountIds=[A]),
        lambda c: c.list_coverage(filterCriteria=COVERAGE),
    ],
    ids=["BatchGetAccountStatus", "ListCoverage"],
)
def test_inspector_answers_follow_the_model(endpoint: str, call: Any) -> None:
    operation, body = _raw(endpoint, "inspector2", call)
    assert body
    assert _conforms(operation.output_shape, body) == []


def test_inspector_scans_ecr_where_the_scenario_says_and_pages_its_coverage(endpoint: str) -> None:
    here = client(endpoint, "inspector2")
    (state,) = here.batch_get_account_status(accountIds=[A])["accounts"]
    assert state["resourceState"]["ecr"]["status"] == "ENABLED"
    there = client(endpoint, "inspector2", region=EU)
    (state,) = there.batch_get_account_status(accountIds=[A])["accounts"]
    assert state["resourceState"]["ecr"]["status"] == "DISABLED"
    assert there.list_coverage(filterCriteria=COVERAGE)["coveredResources"] == []
    first = here.list_coverage(filterCriteria=COVERAGE, maxResults=1)
    rest = here.list_coverage(filterCriteria=COVERAGE, maxResults=1, nextToken=first["nextToken"])
    assert "nextToken" not in rest
    covered = {
        r["resourceId"]: r["resourceMetadata"]["ecrImage"]
        for r in (*first["coveredResources"], *rest["coveredResources"])
    }
    repository = f"arn:aws:ecr:{US}:{A}:repository/app"
    assert covered == {
        f"{repository}/{SEEN.digest}": {
            "tags": ["seen"],
            "inUseCount": 2,
            "lastInUseAt": T0 + timedelta(days=1),
        },
        f"{repository}/{ALSO_SEEN.digest}": {"tags": ["also"], "inUseCount": 1},
    }
    everything = here.list_coverage(
        filterCriteria={**COVERAGE, "ecrImageInUseCount": [{"lowerInclusive": 0}]}
    )
    assert len(everything["coveredResources"]) == 4
