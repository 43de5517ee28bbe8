"""Behaviour of the whole pipeline against moto's server over HTTP: one test per trap.

Each test seeds accounts through the demo role, plans (and where it matters applies), and
checks the exact plan contents as (account, region, repository, digest) sets, then the
repositories' contents after apply.
"""

from __future__ import annotations

import time

import pytest

from ecr_sweeper import wording
from ecr_sweeper.demo.run import image_index, image_manifest, push, push_index
from ecr_sweeper.model import Patterns, Plan, Policy
from moto_helpers import (
    API,
    APP,
    EU,
    MOTO_DEFAULT_ACCOUNT,
    REGISTRY,
    US,
    client,
    ecr,
    ecs,
    keys,
    org_targets,
    present,
    remaining,
    repository,
    seed_org,
    service,
    sweep_apply,
    sweep_plan,
    target,
    uri,
)

pytestmark = pytest.mark.usefixtures("aws")


def reasons(plan: Plan) -> dict[str, str]:
    """Digest → reason, over kept and deleted images."""
    return {d.digest: wording.reason(d.reason) for d in (*plan.kept, *plan.deletions)}


def test_cross_account_registry_image_used_by_another_account_is_kept() -> None:
    api = repository(REGISTRY, US, API, "v1", "v2")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v2"})

    # The registry account alone sees no use of v2; the run's usage set must be global.
    alone = sweep_plan([target(REGISTRY, US)])
    assert keys(alone.deletions) == {(REGISTRY, US, API, api["v1"]), (REGISTRY, US, API, api["v2"])}

    plan = sweep_plan([target(REGISTRY, US), target(APP, US)])
    assert plan.errors == ()
    assert keys(plan.deletions) == {(REGISTRY, US, API, api["v1"])}
    assert keys(plan.kept) == {(REGISTRY, US, API, api["v2"])}
    assert reasons(plan)[api["v2"]].startswith("in use: tag 'v2' used by task definition apps-api")

    result = sweep_apply(plan)
    assert keys(result.outcome.deleted) == {(REGISTRY, US, API, api["v1"])}
    assert result.complete
    assert remaining(REGISTRY, US, API) == {api["v2"]}


def test_digest_pin_keeps_that_digest_while_its_tag_mates_are_deleted() -> None:
    api = repository(REGISTRY, US, API, "v1", "v2", "v3")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}@{api['v2']}"})

    plan = sweep_plan([target(REGISTRY, US), target(APP, US)])
    assert plan.errors == ()
    assert keys(plan.deletions) == {(REGISTRY, US, API, api[v]) for v in ("v1", "v3")}
    assert keys(plan.kept) == {(REGISTRY, US, API, api["v2"])}
    assert reasons(plan)[api["v2"]].startswith("in use: digest pinned by task definition")

    sweep_apply(plan)
    assert remaining(REGISTRY, US, API) == {api["v2"]}


def test_tag_and_digest_reference_keeps_the_digest_and_the_tags_current_target() -> None:
    # `repo:v3@<digest of v1>`: the runtime pulls v1's digest, but v3 is what the tag names.
    api = repository(REGISTRY, US, API, "v1", "v2", "v3")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v3@{api['v1']}"})

    plan = sweep_plan([target(REGISTRY, US), target(APP, US)])
    assert plan.errors == ()
    assert keys(plan.deletions) == {(REGISTRY, US, API, api["v2"])}
    assert keys(plan.kept) == {(REGISTRY, US, API, api[v]) for v in ("v1", "v3")}
    assert reasons(plan)[api["v1"]].startswith("in use: digest pinned by")
    assert reasons(plan)[api["v3"]].startswith("in use: tag 'v3' used by")

    sweep_apply(plan)
    assert remaining(REGISTRY, US, API) == {api["v1"], api["v3"]}


def test_reference_without_tag_means_latest() -> None:
    worker = repository(APP, US, "worker", "build-1", "latest", "build-2")
    service(APP, US, "worker", {"worker": uri(APP, US, "worker")})

    plan = sweep_plan([target(APP, US)])
    assert plan.errors == ()
    assert keys(plan.kept) == {(APP, US, "worker", worker["latest"])}
    assert keys(plan.deletions) == {(APP, US, "worker", worker[t]) for t in ("build-1", "build-2")}
    assert reasons(plan)[worker["latest"]].startswith("in use: tag 'latest' used by")

    sweep_apply(plan)
    assert remaining(APP, US, "worker") == {worker["latest"]}


def test_same_repository_name_in_two_regions_keeps_only_the_used_regions_image() -> None:
    in_us = repository(APP, US, "worker", "1.0")
    in_eu = repository(APP, EU, "worker", "1.0")
    assert in_us["1.0"] != in_eu["1.0"]
    service(APP, EU, "worker", {"worker": f"{uri(APP, EU, 'worker')}:1.0"})

    plan = sweep_plan([target(APP, US, EU)])
    assert plan.errors == ()
    assert keys(plan.kept) == {(APP, EU, "worker", in_eu["1.0"])}
    assert keys(plan.deletions) == {(APP, US, "worker", in_us["1.0"])}

    sweep_apply(plan)
    assert remaining(APP, EU, "worker") == {in_eu["1.0"]}
    assert remaining(APP, US, "worker") == set()


def test_multi_arch_children_follow_their_index_and_indexes_are_deleted_first() -> None:
    registry = ecr(REGISTRY, US)
    registry.create_repository(repositoryName="web")
    old = push_index(registry, "web", "web-1.0", ("1.0",))  # [index, amd64, arm64]
    new = push_index(registry, "web", "web-2.0", ("2.0",))
    service(APP, US, "web", {"web": f"{uri(REGISTRY, US, 'web')}:2.0"})

    plan = sweep_plan([target(REGISTRY, US), target(APP, US)])
    assert plan.errors == ()
    assert keys(plan.kept) == {(REGISTRY, US, "web", d) for d in new}
    assert keys(plan.deletions) == {(REGISTRY, US, "web", d) for d in old}
    why = reasons(plan)
    for child in new[1:]:
        assert why[child] == f"kept: manifest of kept image index {new[0]}"
    for child in old[1:]:
        assert why[child] == "delete: manifest of an image index that is deleted"
    # AWS refuses to delete a manifest an index still lists: the index goes first.
    order = [d.digest for d in plan.deletions]
    assert order[0] == old[0]
    assert plan.deletions[0].is_index
    assert not any(d.is_index for d in plan.deletions[1:])

    result = sweep_apply(plan)
    assert result.complete
    assert result.outcome.still_referenced == []
    assert keys(result.outcome.deleted) == keys(plan.deletions)
    assert remaining(REGISTRY, US, "web") == set(new)


def test_images_outside_private_ecr_are_ignored_without_error() -> None:
    # An ECR repository named like the Docker Hub image: the Docker Hub reference must not
    # protect it (it is another registry), while the ECR reference next to it does.
    nginx = repository(REGISTRY, US, "nginx", "1.25", "stable", "mine")
    service(
        APP,
        US,
        "web",
        {
            "hub": "nginx:1.25",
            "hub-long": "docker.io/library/redis:7",
            "public": "public.ecr.aws/nginx/nginx:stable",
            "ghcr": "ghcr.io/acme/tool:1.2",
            "own": f"{uri(REGISTRY, US, 'nginx')}:mine",
        },
    )

    plan = sweep_plan([target(REGISTRY, US), target(APP, US)])
    assert plan.errors == ()
    assert not plan.blocked
    assert keys(plan.kept) == {(REGISTRY, US, "nginx", nginx["mine"])}
    assert keys(plan.deletions) == {(REGISTRY, US, "nginx", nginx[t]) for t in ("1.25", "stable")}


def test_repository_names_with_slashes() -> None:
    name = "docker-hub/library/nginx"
    nginx = repository(REGISTRY, US, name, "1.24", "1.25")
    service(APP, US, "proxy", {"proxy": f"{uri(REGISTRY, US, name)}:1.25"})

    plan = sweep_plan([target(REGISTRY, US), target(APP, US)])
    assert plan.errors == ()
    assert keys(plan.kept) == {(REGISTRY, US, name, nginx["1.25"])}
    assert keys(plan.deletions) == {(REGISTRY, US, name, nginx["1.24"])}
    assert {str(d.repository) for d in plan.deletions} == {f"{REGISTRY}/{US}/{name}"}

    sweep_apply(plan)
    assert remaining(REGISTRY, US, name) == {nginx["1.25"]}


def test_keep_last_keeps_the_newest_unused_top_level_image() -> None:
    registry = ecr(APP, US)
    registry.create_repository(repositoryName="app")
    older = {
        t: push(registry, "app", image_manifest(f"app-{t}"), (t,)) for t in ("v1", "v2", "used")
    }
    # An unused index: its children are not top-level images and must not count as "newest".
    index = push_index(registry, "app", "app-multi", ("multi",))
    time.sleep(1.05 - time.time() % 1)  # moto's push times have 1 s resolution
    newest = push(registry, "app", image_manifest("app-v3"), ("v3",))
    pushed = {
        d["imageDigest"]: d["imagePushedAt"]
        for d in registry.describe_images(repositoryName="app")["imageDetails"]
    }
    assert all(pushed[newest] > at for digest, at in pushed.items() if digest != newest)
    service(APP, US, "app", {"app": f"{uri(APP, US, 'app')}:used"})

    plan = sweep_plan([target(APP, US)], Policy(keep_last=1, min_age_days=0))
    assert plan.errors == ()
    assert keys(plan.kept) == {(APP, US, "app", newest), (APP, US, "app", older["used"])}
    assert reasons(plan)[newest] == "kept: among the 1 most recently pushed"
    assert keys(plan.deletions) == {(APP, US, "app", d) for d in (older["v1"], older["v2"], *index)}


def test_min_age_keeps_everything_just_pushed() -> None:
    api = repository(REGISTRY, US, API, "v1", "v2")
    registry = ecr(REGISTRY, US)
    untagged = push(registry, API, image_manifest("untagged"))

    plan = sweep_plan([target(REGISTRY, US)], Policy(keep_last=0, min_age_days=1))
    assert plan.errors == ()
    assert plan.deletions == ()
    assert keys(plan.kept) == {(REGISTRY, US, API, d) for d in (api["v1"], api["v2"], untagged)}
    assert set(reasons(plan).values()) == {"kept: pushed less than 1 days ago"}


def test_replan_after_apply_deletes_nothing_more() -> None:
    org = seed_org()
    first = sweep_plan(org_targets())
    assert first.errors == ()
    assert keys(first.deletions) == org.unused
    assert keys(first.kept) == org.used

    result = sweep_apply(first)
    assert result.complete
    assert result.skipped == []
    assert keys(result.outcome.deleted) == org.unused

    second = sweep_plan(org_targets())
    assert second.errors == ()
    assert second.deletions == ()
    assert keys(second.kept) == org.used
    assert present(org.used) == org.used
    assert present(org.unused) == set()


def test_unparsable_image_blocks_every_deletion_and_names_the_image() -> None:
    org = seed_org()
    service(APP, EU, "broken", {"broken": "Not A Valid Image!"})

    plan = sweep_plan(org_targets())
    assert plan.blocked
    assert plan.deletions == ()
    assert keys(plan.kept) == org.used | org.unused
    usage_errors = [e for e in plan.errors if e.scope == "usage"]
    assert len(usage_errors) == 1
    assert (usage_errors[0].account_id, usage_errors[0].region) == (APP, EU)
    assert "Not A Valid Image!" in usage_errors[0].message
    for key in org.unused:
        assert reasons(plan)[key[3]].endswith("(fail closed)")


def test_apply_of_a_good_plan_deletes_nothing_when_the_recheck_is_blocked() -> None:
    org = seed_org()
    good = sweep_plan(org_targets())
    assert keys(good.deletions) == org.unused

    service(APP, EU, "broken", {"broken": "Not A Valid Image!"})
    result = sweep_apply(good)
    assert result.fresh.blocked
    assert result.outcome.deleted == []
    assert result.outcome.failed == []
    assert keys(d for d, _ in result.skipped) == org.unused
    assert all("fail closed" in why for _, why in result.skipped)
    assert present(org.used | org.unused) == org.used | org.unused


def test_account_without_role_whose_base_credentials_are_elsewhere_blocks() -> None:
    api = repository(REGISTRY, US, API, "v1")

    plan = sweep_plan([target(REGISTRY, US), target(APP, US, role=False)])
    assert plan.blocked
    assert plan.deletions == ()
    assert keys(plan.kept) == {(REGISTRY, US, API, api["v1"])}
    errors = [e for e in plan.errors if e.scope == "usage"]
    assert errors  # one per region whose usage is read (MOTO_SOURCES: us-east-1, eu-west-1)
    for error in errors:
        assert error.account_id == APP
        assert APP in error.subject
        assert f"base credentials belong to account {MOTO_DEFAULT_ACCOUNT}" in error.message

    # Control: without a role, the base credentials' own account is swept normally.
    base = ecr(MOTO_DEFAULT_ACCOUNT, US)  # the base credentials, no role
    base.create_repository(repositoryName="own")
    own = push(base, "own", image_manifest("own"), ("1",))
    control = sweep_plan([target(MOTO_DEFAULT_ACCOUNT, US, role=False)])
    assert control.errors == ()
    assert keys(control.deletions) == {(MOTO_DEFAULT_ACCOUNT, US, "own", own)}


def test_image_that_becomes_used_between_plan_and_apply_is_skipped() -> None:
    api = repository(REGISTRY, US, API, "v1", "v2", "v3")
    service(APP, US, "api", {"api": f"{uri(REGISTRY, US, API)}:v3"})
    targets = [target(REGISTRY, US), target(APP, US)]

    plan = sweep_plan(targets)
    assert keys(plan.deletions) == {(REGISTRY, US, API, api[v]) for v in ("v1", "v2")}

    service(APP, US, "rollback", {"api": f"{uri(REGISTRY, US, API)}:v1"})
    result = sweep_apply(plan)
    assert not result.fresh.blocked
    assert keys(result.outcome.deleted) == {(REGISTRY, US, API, api["v2"])}
    [(skipped, why)] = result.skipped
    assert skipped.digest == api["v1"]
    assert why.startswith("not deleted: now in use: tag 'v1' used by")
    assert "apps-rollback" in why
    assert remaining(REGISTRY, US, API) == {api["v1"], api["v3"]}


def test_repository_filter_limits_the_scope() -> None:
    inside = {
        name: repository(REGISTRY, US, name, "v1")["v1"]
        for name in ("platform/api", "platform/web")
    }
    outside = {name: repository(REGISTRY, US, name, "v1")["v1"] for name in ("other", "platformer")}
    scoped = target(REGISTRY, US, repositories=Patterns(include=("platform/*",)))

    plan = sweep_plan([scoped])
    assert plan.errors == ()
    assert plan.kept == ()
    assert keys(plan.deletions) == {(REGISTRY, US, n, d) for n, d in inside.items()}

    sweep_apply(plan)
    for name in inside:
        assert remaining(REGISTRY, US, name) == set()
    for name, digest in outside.items():
        assert remaining(REGISTRY, US, name) == {digest}


def test_child_manifest_shared_with_a_used_index_survives_its_unused_index() -> None:
    registry = ecr(REGISTRY, US)
    registry.create_repository(repositoryName="web")
    shared, old_only, new_only = (image_manifest(f"web/{n}") for n in ("shared", "old", "new"))
    children = [push(registry, "web", m) for m in (shared, old_only, new_only)]
    old = push(registry, "web", image_index({"amd64": shared, "arm64": old_only}), ("1.0",))
    new = push(registry, "web", image_index({"amd64": shared, "arm64": new_only}), ("2.0",))
    service(APP, US, "web", {"web": f"{uri(REGISTRY, US, 'web')}:2.0"})

    plan = sweep_plan([target(REGISTRY, US), target(APP, US)])
    assert plan.errors == ()
    assert keys(plan.kept) == {(REGISTRY, US, "web", d) for d in (new, children[0], children[2])}
    assert keys(plan.deletions) == {(REGISTRY, US, "web", d) for d in (old, children[1])}
    assert [d.digest for d in plan.deletions] == [old, children[1]]

    result = sweep_apply(plan)
    assert result.complete
    assert remaining(REGISTRY, US, "web") == {new, children[0], children[2]}


def test_standalone_task_and_deregistered_task_definitions_still_protect_images() -> None:
    api = repository(REGISTRY, US, API, "v1", "job", "sidecar", "unused")
    image = uri(REGISTRY, US, API)
    service_definition = service(APP, US, "api", {"api": f"{image}:v1"})

    # A standalone (non-service) Fargate task, e.g. a scheduled job.
    ec2 = client(APP, US, "ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="jobs", Description="jobs", VpcId=vpc)["GroupId"]
    tasks = ecs(APP, US)
    job_definition = tasks.register_task_definition(
        family="job",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "main", "image": f"{image}:job", "memory": 256},
            {"name": "sidecar", "image": f"{image}:sidecar", "memory": 256},
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    started = tasks.run_task(
        cluster="apps",
        taskDefinition=job_definition,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}
        },
    )
    assert started["failures"] == []
    # Deregistering a revision does not stop what already runs it.
    tasks.deregister_task_definition(taskDefinition=service_definition)
    tasks.deregister_task_definition(taskDefinition=job_definition)

    plan = sweep_plan([target(REGISTRY, US), target(APP, US)])
    assert plan.errors == ()
    assert keys(plan.kept) == {(REGISTRY, US, API, api[t]) for t in ("v1", "job", "sidecar")}
    assert keys(plan.deletions) == {(REGISTRY, US, API, api["unused"])}
    assert "used by task apps/" in reasons(plan)[api["job"]]
