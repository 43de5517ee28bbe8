"""Referrers and hosts (issue 11 §7).

* cosign signatures kept in another repository (`COSIGN_REPOSITORY`) follow their subject
  across the repositories of the registry, with a reason that says what is true;
* an OCI referrer's subject is learnt from DescribeImages (`subjectManifestDigest`) or, for a
  manifest that could be one and says nothing, from BatchGetImage;
* a registry host with `:443` is the same registry (tests/test_imageref.py and
  tests/test_external_lists.py);
* a plan file whose `created_at` has no time zone is one clear error.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import use_only
from ecr_sweeper import wording
from ecr_sweeper.aws.ecr import _images
from ecr_sweeper.aws.limits import Api
from ecr_sweeper.model import (
    AccountId,
    AccountTarget,
    Digest,
    Patterns,
    Plan,
    Policy,
    Region,
    Repository,
    ScanError,
    Usage,
)
from ecr_sweeper.plan import build_plan
from ecr_sweeper.planfile import PlanFileError, checksum, plan_to_json, read_plan
from ecr_sweeper.retry import RetryPolicy
from loopback import Answer, Request, ecr_client, loopback
from planning import NO_RETENTION, NOW, digest, image, inventory, key, uri, usage_scan, use
from sweep import sweeper
from test_plan_properties import repositories

TARGETS = [AccountTarget(AccountId("111111111111"), (Region("us-east-1"),))]
APP, SIGS = key("app"), key("signatures")


def cosign(subject_seed: str, suffix: str = "sig") -> str:
    return f"sha256-{digest(subject_seed).removeprefix('sha256:')}.{suffix}"


def plan_of(*repos: Repository, targets: list[AccountTarget] = TARGETS) -> Plan:
    usage = usage_scan(use(uri(APP, ":live")))
    return build_plan([usage], inventory(*repos), NO_RETENTION, NOW, targets)


def verdict(plan: Plan, seed: str) -> tuple[bool, str]:
    """(deleted?, reason) of the image made from `seed`."""
    for deleted, decisions in ((True, plan.deletions), (False, plan.kept)):
        for d in decisions:
            if d.digest == digest(seed):
                return deleted, wording.reason(d.reason)
    raise AssertionError(f"{seed} is not in the plan")


def repos(*signatures: Any) -> tuple[Repository, Repository]:
    app = Repository(APP, (image("live", "live"), image("dead", "dead")))
    return app, Repository(SIGS, tuple(signatures))


def test_a_signature_in_another_repository_of_a_kept_image_is_kept() -> None:
    for order in (1, -1):  # whichever repository is judged first
        plan = plan_of(*repos(image("sig", cosign("live")))[::order])
        deleted, reason = verdict(plan, "sig")
        assert not deleted
        assert reason == (
            f"kept: cosign referrer (signature, SBOM, attestation) of kept image "
            f"{digest('live')} in 111111111111/us-east-1/app"
        )


def test_a_signature_of_a_deleted_image_elsewhere_goes_with_it_saying_so() -> None:
    plan = plan_of(*repos(image("sig", cosign("dead"))))
    assert verdict(plan, "dead")[0]
    deleted, reason = verdict(plan, "sig")
    assert deleted
    assert reason == (
        f"delete: cosign referrer (signature, SBOM, attestation) of image {digest('dead')}, "
        f"deleted from 111111111111/us-east-1/app"
    )


def test_a_signature_of_an_image_no_repository_holds_is_deleted_only_after_a_full_read() -> None:
    plan = plan_of(*repos(image("sig", cosign("nowhere"))))
    deleted, reason = verdict(plan, "sig")
    assert deleted
    assert "which no repository of this registry holds" in reason
    # The run did not read every repository of the registry: the subject may be in one.
    filtered = [replace(TARGETS[0], repositories=Patterns(("app", "signatures")))]
    deleted, reason = verdict(
        plan_of(*repos(image("sig", cosign("nowhere"))), targets=filtered), "sig"
    )
    assert not deleted
    assert "may be in a repository of this registry that this run did not read" in reason


def test_an_unreadable_repository_of_the_registry_keeps_such_a_signature() -> None:
    app, signatures = repos(image("sig", cosign("nowhere")))
    broken = Repository(key("broken"), (), "AccessDenied")
    plan = plan_of(app, signatures, broken)
    assert not verdict(plan, "sig")[0]


def test_the_same_digest_in_another_region_is_not_this_registry() -> None:
    west = Repository(key("app", region="eu-west-1"), (image("nowhere", "x", days_old=1),))
    targets = [AccountTarget(AccountId("111111111111"), (Region("us-east-1"), Region("eu-west-1")))]
    plan = plan_of(*repos(image("sig", cosign("nowhere"))), west, targets=targets)
    deleted, reason = verdict(plan, "sig")
    assert deleted
    assert "no repository of this registry holds" in reason


def test_what_hangs_off_such_a_signature_follows_it() -> None:
    sig = image("sig", cosign("live"))
    attestation = image("att", cosign("sig", "att"))  # a signature of the signature
    plan = plan_of(*repos(sig, attestation))
    deleted, reason = verdict(plan, "att")
    assert not deleted
    assert reason == f"kept: referrer (signature, SBOM, attestation) of kept image {digest('sig')}"
    plan = plan_of(*repos(image("sig", cosign("dead")), attestation))
    assert verdict(plan, "att") == (
        True,
        "delete: referrer (signature, SBOM, attestation) of an image deleted or gone",
    )


def test_a_blocked_plan_keeps_such_a_signature_too() -> None:
    usage = usage_scan(use(uri(APP, ":live")), error="AccessDenied")
    app, signatures = repos(image("sig", cosign("dead")))
    plan = build_plan([usage], inventory(app, signatures), NO_RETENTION, NOW, TARGETS)
    assert plan.deletions == ()


def test_an_inventory_error_of_the_account_counts_for_every_region() -> None:
    app, signatures = repos(image("sig", cosign("nowhere")))
    scans = inventory(app, signatures)
    error = ScanError("inventory", AccountId("111111111111"), None, "ecr", "unreachable")
    scans[0] = replace(scans[0], errors=(error,))
    plan = build_plan([usage_scan(use(uri(APP, ":live")))], scans, NO_RETENTION, NOW, TARGETS)
    assert not verdict(plan, "sig")[0]


# --------------------------------------------------------------------------- the inventory


SUBJECT = digest("live")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def _detail(seed: str, **extra: Any) -> dict[str, Any]:
    return {
        "imageDigest": digest(seed),
        "imagePushedAt": 1_700_000_000,
        "imageSizeInBytes": 10,
        "imageManifestMediaType": OCI_MANIFEST,
        **extra,
    }


def _inventory_over_http(details: list[dict[str, Any]]) -> tuple[Any, list[str]]:
    """`_images` of one repository, on a loopback server that answers DescribeImages with
    `details` and BatchGetImage with a manifest whose subject is SUBJECT."""

    def answer(request: Request) -> Answer:
        target = request.headers["x-amz-target"].rpartition(".")[2]
        if target == "DescribeImages":
            body: dict[str, Any] = {"imageDetails": details}
        else:
            asked = json.loads(request.body)["imageIds"]
            manifest = {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "subject": {"digest": SUBJECT},
            }
            body = {
                "images": [
                    {
                        "imageId": i,
                        "imageManifest": json.dumps(manifest),
                        "imageManifestMediaType": OCI_MANIFEST,
                    }
                    for i in asked
                ],
                "failures": [],
            }
        return Answer(
            200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(body).encode()
        )

    async def run(url: str) -> Any:
        async with ecr_client(url) as client:
            return (await _images(client, Api(1, RetryPolicy()), APP)).images()

    with loopback() as server:
        server.answer = answer
        images = anyio.run(run, server.url)
        calls = [r.headers["x-amz-target"].rpartition(".")[2] for r in server.requests]
    return images, calls


def test_the_subject_ecr_reports_is_used_without_reading_the_manifest() -> None:
    images, calls = _inventory_over_http(
        [_detail("soci", artifactMediaType=OCI_CONFIG, subjectManifestDigest=SUBJECT)]
    )
    assert [i.subject for i in images] == [SUBJECT]
    assert calls == ["DescribeImages"]


@pytest.mark.parametrize(
    "extra",
    [{}, {"artifactMediaType": "application/vnd.dev.cosign.artifact.sig.v1+json"}],
    ids=["no-artifact-media-type", "an-artifact"],
)
def test_a_manifest_that_could_be_a_referrer_is_read_for_its_subject(extra: dict[str, Any]) -> None:
    images, calls = _inventory_over_http([_detail("sig", **extra)])
    assert [i.subject for i in images] == [SUBJECT]
    assert calls == ["DescribeImages", "BatchGetImage"]


def test_a_runnable_image_is_not_read() -> None:
    images, calls = _inventory_over_http([_detail("app", artifactMediaType=OCI_CONFIG)])
    assert [i.subject for i in images] == [None]
    assert calls == ["DescribeImages"]


def test_a_referrer_reported_by_ecr_follows_its_kept_subject_in_the_plan() -> None:
    images, _ = _inventory_over_http(
        [
            _detail("live", artifactMediaType=OCI_CONFIG),
            _detail("soci", artifactMediaType=OCI_CONFIG, subjectManifestDigest=SUBJECT),
        ]
    )
    live = replace(images[0], tags=("live",))
    plan = build_plan(
        [usage_scan(use(uri(APP, ":live")))],
        inventory(Repository(APP, (live, images[1]))),
        NO_RETENTION,
        NOW,
        TARGETS,
    )
    assert plan.deletions == ()
    assert verdict(plan, "soci")[1].startswith("kept: referrer")


# --------------------------------------------------------------------------- plan files


def _naive_plan_file(tmp_path: Path, created_at: str) -> Path:
    plan = build_plan(
        [usage_scan()], inventory(Repository(APP, (image("v1", "v1"),))), NO_RETENTION, NOW, TARGETS
    )
    data = plan_to_json(plan)
    data["created_at"] = created_at
    data["checksum"] = checksum(data)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), "utf-8")
    return path


def test_a_plan_created_at_without_time_zone_is_one_clear_error(tmp_path: Path) -> None:
    path = _naive_plan_file(tmp_path, "2026-11-01T12:00:00")
    with pytest.raises(PlanFileError) as caught:
        read_plan(path)
    assert str(caught.value) == (
        f"{path}: not a valid plan: created_at: '2026-11-01T12:00:00' has no time zone "
        f"(expected e.g. 2026-11-01T12:00:00+00:00)"
    )


def test_apply_refuses_it_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _naive_plan_file(tmp_path, "2026-11-01T12:00:00")
    use_only(monkeypatch, {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"})  # nothing listens there
    result = sweeper("apply", "plan.json", "--yes", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "created_at: '2026-11-01T12:00:00' has no time zone" in result.stderr


def test_a_signature_of_a_signature_kept_elsewhere_is_kept() -> None:
    """Repository C signs the signature in B, which signs the image in A: C waits for B."""
    app, signatures = repos(image("sig", cosign("live")))
    chain = Repository(key("chain"), (image("sig2", cosign("sig")),))
    for order in (1, -1):
        plan = plan_of(*(app, signatures, chain)[::order])
        assert not verdict(plan, "sig")[0]
        deleted, reason = verdict(plan, "sig2")
        assert not deleted
        assert "itself a referrer of an image in another repository" in reason


@st.composite
def _registries(draw: st.DrawFn) -> tuple[list[Repository], list[Usage], Policy]:
    """Repositories A (and one in another region) and a signature repository B whose cosign
    tags name digests of A, of the other region, or of nothing."""
    a = draw(repositories(key("a")))
    west = draw(repositories(key("a", region="eu-west-1")))
    subjects = [i.digest for i in (*a.images, *west.images)] + [digest("nowhere")]
    chosen = draw(st.lists(st.sampled_from(subjects), max_size=6, unique=True))
    b = Repository(
        key("b"),
        tuple(
            image(f"sig-{n}", f"sha256-{s.removeprefix('sha256:')}.sig")
            for n, s in enumerate(chosen)
        ),
    )
    tags = [t for i in a.images for t in i.tags]
    usages = [use(uri(a.key, f":{t}")) for t in draw(st.lists(st.sampled_from(tags or ["x"])))]
    policy = Policy(keep_last=draw(st.integers(0, 3)), min_age_days=draw(st.integers(0, 30)))
    return [a, west, b], usages, policy


@settings(max_examples=100, deadline=None)
@given(_registries(), st.randoms(use_true_random=False))
def test_cosign_referrers_follow_their_subject_across_repositories(
    registry: tuple[list[Repository], list[Usage], Policy], rng: Any
) -> None:
    repos_, usages, policy = registry
    targets = [AccountTarget(AccountId("111111111111"), (Region("us-east-1"), Region("eu-west-1")))]
    shuffled = list(repos_)
    rng.shuffle(shuffled)
    plans = [
        build_plan([usage_scan(*usages)], inventory(*order), policy, NOW, targets)
        for order in (repos_, shuffled)
    ]
    assert plans[0] == plans[1]  # whatever order the repositories are judged in
    plan = plans[0]
    east = {(d.digest, d.repository.region) for d in plan.kept if d.repository.name == "a"}
    east_all = {i.digest for i in repos_[0].images}
    for d in plan.deletions:
        if d.repository.name != "b":
            continue
        subject = Digest("sha256:" + d.tags[0].removeprefix("sha256-").removesuffix(".sig"))
        assert (subject, "us-east-1") not in east  # never the signature of a kept image
        assert subject not in east_all or "deleted from" in wording.reason(d.reason)
