"""The images of Kubernetes objects, read by each kind's schema (pure: kube/objects.py)."""

from __future__ import annotations

import pytest

from awsim import kube_objects as k
from ecr_sweeper.kube.objects import ImageUse, ObjectShapeError, images_of, resolved_reference

REPO = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/payments/api"
DIGEST = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("image_id", "expected"),
    [
        (f"docker-pullable://{REPO}@{DIGEST}", (REPO, DIGEST)),
        (f"{REPO}@{DIGEST}", (REPO, DIGEST)),
        (f"docker://{REPO}@{DIGEST}", (REPO, DIGEST)),
        (DIGEST, None),  # a local image id, not a registry digest
        (f"docker://{DIGEST}", None),
        (f"{REPO}:v1", None),
    ],
)
def test_resolved_reference_forms(image_id: str, expected: tuple[str, str] | None) -> None:
    assert resolved_reference(image_id) == expected


def test_every_container_list_status_digest_and_image_volume_of_a_pod() -> None:
    pod = k.pod(
        "payments",
        "api-1",
        [("api", f"{REPO}:v1")],
        init=[("migrate", f"{REPO}:m1")],
        ephemeral=[("debug", f"{REPO}:debug")],
        image_ids={"api": f"{REPO}@{DIGEST}", "migrate": f"docker-pullable://{REPO}@{DIGEST}"},
    )
    pod["spec"]["volumes"] = [{"name": "models", "image": {"reference": f"{REPO}:models"}}]
    uses = images_of("Pod", pod)
    assert uses == [
        ImageUse(f"{REPO}:v1", "pod payments/api-1 container api"),
        ImageUse(f"{REPO}:m1", "pod payments/api-1 init container migrate"),
        ImageUse(f"{REPO}:debug", "pod payments/api-1 ephemeral container debug"),
        ImageUse(f"{REPO}:models", "pod payments/api-1 image volume models"),
        ImageUse(f"{REPO}:v1", "pod payments/api-1 container api", DIGEST),
        ImageUse(f"{REPO}:m1", "pod payments/api-1 init container migrate", DIGEST),
    ]


def test_a_status_digest_of_another_repository_is_kept_as_its_own_reference() -> None:
    other = "333333333333.dkr.ecr.eu-west-1.amazonaws.com/mirror/api"
    pod = k.pod("p", "a", [("api", f"{REPO}:v1")], image_ids={"api": f"{other}@{DIGEST}"})
    assert images_of("Pod", pod)[-1] == ImageUse(
        f"{other}@{DIGEST}", "pod p/a container api", DIGEST
    )


def test_labels_and_annotations_never_count_as_images() -> None:
    deployment = k.deployment("p", "api", [("api", f"{REPO}:v1")])
    deployment["metadata"]["annotations"]["image"] = f"{REPO}:not-this"
    deployment["spec"]["template"]["metadata"]["labels"]["image"] = "also-not"
    assert [u.image for u in images_of("Deployment", deployment)] == [f"{REPO}:v1"]


def test_cron_job_controller_revision_and_knative_paths() -> None:
    cron = k.cron_job("r", "monthly", [("r", f"{REPO}:cron")], "@monthly")
    assert [u.image for u in images_of("CronJob", cron)] == [f"{REPO}:cron"]
    revision = k.controller_revision("s", "StatefulSet", "db", [("db", f"{REPO}:db1")], 1)
    (use,) = images_of("ControllerRevision", revision)
    assert use.where.startswith("controllerrevision s/db-")
    assert use.where.endswith("of statefulset db revision 1 container db")
    knative = k.knative_revision("fn", "hello-1", f"{REPO}:fn", f"{REPO}@{DIGEST}")
    assert [u.image for u in images_of("Revision.serving.knative.dev", knative)] == [
        f"{REPO}:fn",
        f"{REPO}@{DIGEST}",
    ]


def test_a_rollout_with_a_workload_ref_has_no_template_of_its_own() -> None:
    rollout = k.rollout("w", "front", [("f", f"{REPO}:v1")])
    del rollout["spec"]["template"]
    rollout["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "f"}
    assert images_of("Rollout", rollout) == []


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("spec", "template"), ["not", "a", "template"]),
        (("spec", "template", "spec", "containers"), {"api": "x"}),
        (("spec", "template", "spec", "initContainers"), ["x"]),
    ],
)
def test_a_field_of_the_wrong_type_is_an_error_not_an_empty_object(
    path: tuple[str, ...], bad: object
) -> None:
    deployment = k.deployment("p", "api", [("api", f"{REPO}:v1")])
    node = deployment
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = bad
    with pytest.raises(ObjectShapeError):
        images_of("Deployment", deployment)
