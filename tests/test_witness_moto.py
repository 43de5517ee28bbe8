"""The pull witness on moto's server, patched as the demo patches it (moto records no pull
time: `moto_patches.record_pull` records one in its state; ListPullTimeUpdateExclusions lists
none): plan → apply → re-plan deletes exactly what nothing uses and nothing pulled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ecr_sweeper import wording
from ecr_sweeper.demo.moto_patches import record_pull
from moto_helpers import (
    API,
    APP,
    REGISTRY,
    US,
    keys,
    remaining,
    repository,
    service,
    sweep_apply,
    sweep_plan,
    target,
    uri,
)

pytestmark = pytest.mark.usefixtures("aws")


def test_an_image_pulled_by_something_no_reader_knows_survives_plan_apply_replan() -> None:
    api = repository(REGISTRY, US, API, "v1", "v2", "v3", "v4")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v4"})
    now = datetime.now(UTC)
    record_pull(REGISTRY, US, API, api["v1"], now - timedelta(days=3))  # a laptop, say
    record_pull(REGISTRY, US, API, api["v2"], now - timedelta(days=45))  # too long ago
    record_pull(REGISTRY, US, API, api["v4"], now - timedelta(days=1))  # the service
    targets = [target(REGISTRY, US), target(APP, US)]

    plan = sweep_plan(targets)
    assert not plan.blocked
    reasons: dict[str, str] = {d.digest: wording.reason(d.reason) for d in plan.kept}
    assert reasons[api["v1"]] == "kept: pulled 3 days ago; no consumer this run read uses it"
    assert reasons[api["v4"]].startswith("in use: tag 'v4'")
    assert keys(plan.deletions) == {(REGISTRY, US, API, api["v2"]), (REGISTRY, US, API, api["v3"])}
    (summary,) = plan.unexplained_pulls
    assert (summary.repository.name, summary.images) == (API, 1)
    exclusions = {f"{e.place.account_id}/{e.place.region}": e for e in plan.pull_exclusions}
    assert exclusions[f"{REGISTRY}/{US}"].principals == ()  # the patched moto lists none
    assert exclusions[f"{REGISTRY}/{US}"].error is None

    result = sweep_apply(plan)
    assert result.complete
    assert remaining(REGISTRY, US, API) == {api["v1"], api["v4"]}
    assert sweep_plan(targets).deletions == ()
