"""One scenario, two independent AWS implementations: the same sweep against moto's server and
against the project's emulator plans the same deletions and keeps the same images.

The scenario is written once (awsim's `Scenario`): the emulator serves it as it is, and
`awsim.moto_seed` creates it in moto through moto's own API (repositories, images with their
manifests and digests, task definitions, a cluster, a service and its task). Only what both
serve is read: ECS services, tasks and task definitions, and the ECR inventory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime

import pytest

import sweep
from awsim import Cluster, Image, Repository, Scenario, emulated, image_uri
from awsim.moto_seed import seed_moto
from ecr_sweeper.demo.moto_patches import moto_sources
from ecr_sweeper.model import Plan, Sources
from planning import NO_RETENTION
from test_sweep_awsim import (  # noqa: F401 - `emulator` is a fixture this module uses
    US,
    A,
    StartEmulator,
    emulator,
    one_region,
    service_using,
    target,
)

# What both read: the ECS and ECR readers (moto answers no service revisions, and the emulator
# serves no EventBridge, Scheduler, Lambda…: see each one's switches).
SOURCES = moto_sources(emulated(Sources(service_revisions=False)))
Seeded = Callable[[Scenario], AbstractContextManager[None]]


def scenario() -> Scenario:
    """A service runs app:v2; app:v1, app:v3 and old:x are used by nothing."""
    used = image_uri(A, US, "app", tag="v2")
    service, td, task = service_using("web", "web", used, None)
    app = Repository(
        "app", tuple(Image(tags=(tag,), key=f"app-{tag}") for tag in ("v1", "v2", "v3"))
    )
    old = Repository("old", (Image(tags=("x",), key="old-x"),))
    cluster = Cluster("prod", services=(service,), tasks=(task,))
    return one_region(app, old, clusters=(cluster,), tds=(td,))


@pytest.fixture(params=["moto", "emulator"])
def backend(request: pytest.FixtureRequest) -> Seeded:
    """`with backend(scenario):` the AWS environment points at that implementation, serving
    the scenario (moto freshly reset and seeded; the emulator started with it)."""
    if request.param == "moto":
        endpoint: str = request.getfixturevalue("aws")

        @contextmanager
        def on_moto(scenario: Scenario) -> Iterator[None]:
            seed_moto(endpoint, scenario)
            yield

        return on_moto
    start: StartEmulator = request.getfixturevalue("emulator")

    @contextmanager
    def on_emulator(scenario: Scenario) -> Iterator[None]:
        with start(scenario):
            yield

    return on_emulator


def verdicts(
    plan: Plan,
) -> tuple[set[tuple[str, tuple[str, ...]]], set[tuple[str, tuple[str, ...]]]]:
    """(deleted, kept) as (repository, tags): moto and the emulator store the same manifests."""
    return (
        {(d.repository.name, d.tags) for d in plan.deletions},
        {(d.repository.name, d.tags) for d in plan.kept},
    )


def test_the_same_scenario_plans_the_same_on_moto_and_the_emulator(backend: Seeded) -> None:
    # Images moto stores are pushed now: the plan's clock is now, with no retention by age.
    with backend(scenario()):
        plan = sweep.plan([target(A)], NO_RETENTION, sources=SOURCES, now=datetime.now(UTC))
    assert not plan.blocked, plan.findings
    assert plan.errors == ()
    deleted, kept = verdicts(plan)
    assert deleted == {("app", ("v1",)), ("app", ("v3",)), ("old", ("x",))}
    assert kept == {("app", ("v2",))}
