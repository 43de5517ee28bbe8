"""Scenario model (manifests, digests), the synthetic org generator and the process mode."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from botocore.exceptions import ClientError

from awsim import (
    Account,
    Faults,
    Image,
    Platform,
    Region,
    Repository,
    Scenario,
    generate_org,
    spawn_emulator,
)
from awsim.fixtures import client
from awsim.generate import generate_org_with_truth
from awsim.manifests import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST


def test_digest_is_sha256_of_manifest() -> None:
    img = Image(tags=("v1",))
    assert img.digest == "sha256:" + hashlib.sha256(img.manifest).hexdigest()
    assert json.loads(img.manifest)["mediaType"] == DOCKER_MANIFEST == img.media_type
    assert Image(tags=("v1",)).digest == img.digest  # same content, same digest
    assert Image(tags=("v1",), key="other").digest != img.digest


@pytest.mark.parametrize(
    ("fmt", "index_mt", "child_mt"),
    [("oci", OCI_INDEX, OCI_MANIFEST), ("docker", DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)],
)
def test_index_children(fmt: str, index_mt: str, child_mt: str) -> None:
    idx = Image(
        tags=("m",), platforms=(Platform("amd64"), Platform("arm64", variant="v8")), fmt=fmt
    )
    doc = json.loads(idx.manifest)
    assert idx.media_type == index_mt
    assert doc["mediaType"] == index_mt
    assert idx.is_index
    assert [m["digest"] for m in doc["manifests"]] == [c.digest for c in idx.children]
    assert [m["size"] for m in doc["manifests"]] == [len(c.manifest) for c in idx.children]
    assert doc["manifests"][1]["platform"] == {
        "architecture": "arm64",
        "os": "linux",
        "variant": "v8",
    }
    for c in idx.children:
        assert c.media_type == child_mt
        assert c.tags == ()
        assert c.digest == "sha256:" + hashlib.sha256(c.manifest).hexdigest()
    repo = Repository("r1", images=(idx,))
    assert [i.digest for i in repo.all_images()] == [
        idx.children[0].digest,
        idx.children[1].digest,
        idx.digest,
    ]


def test_referrer_subject() -> None:
    base = Image(tags=("v1",))
    sig = Image(subject=base, fmt="oci")
    doc = json.loads(sig.manifest)
    assert doc["subject"] == {
        "mediaType": base.media_type,
        "size": len(base.manifest),
        "digest": base.digest,
    }
    assert doc["artifactType"] == sig.artifact_media_type


def test_account_id_validation() -> None:
    with pytest.raises(ValueError, match="12 digits"):
        Account("123")


def test_generate_org_is_deterministic_realistic_and_fast() -> None:
    t = time.monotonic()
    scn, truth = generate_org_with_truth(
        accounts=30, regions=3, services_per_region=40, images_total=50_000, seed=3
    )
    assert time.monotonic() - t < 15
    assert 47_000 <= truth.images <= 53_000
    assert truth.accounts == 30
    assert truth.services == 28 * 3 * 40
    again, _ = generate_org_with_truth(
        accounts=30, regions=3, services_per_region=40, images_total=50_000, seed=3
    )
    assert again == scn
    other = generate_org(accounts=3, regions=1, services_per_region=5, images_total=300, seed=4)
    assert other != generate_org(
        accounts=3, regions=1, services_per_region=5, images_total=300, seed=5
    )

    stored = {
        (a.id, r.name, repo.name, i.digest)
        for a in scn.accounts
        for r in a.regions
        for repo in r.repositories
        for i in repo.all_images()
    }
    assert truth.in_use <= stored
    assert len(truth.in_use) > 1000
    assert any(acct == truth.registry_account for acct, *_ in truth.in_use)  # cross-account use
    svcs = [s for a in scn.accounts for r in a.regions for c in r.clusters for s in c.services]
    assert any(len(s.deployments) == 2 for s in svcs)
    assert any(s.task_sets for s in svcs)
    images = [
        cd.image
        for a in scn.accounts
        for r in a.regions
        for td in r.task_definitions
        for cd in td.containers
    ]
    assert any("@sha256:" in i for i in images)
    assert any(".dkr.ecr." not in i for i in images)
    stored_imgs = [
        i for a in scn.accounts for r in a.regions for repo in r.repositories for i in repo.images
    ]
    assert any(i.is_index for i in stored_imgs)
    assert any(i.subject is not None for i in stored_imgs)
    assert any(not i.tags for i in stored_imgs)


def test_spawn_emulator_generated_org() -> None:
    with spawn_emulator(
        generate={"accounts": 4, "regions": 1, "services_per_region": 5, "images_total": 400},
        quotas="unlimited",
    ) as emu:
        assert emu.pid > 0
        org = client(emu.endpoint_url, "organizations")
        assert len(org.list_accounts()["Accounts"]) == 4
        stats = emu.stats()
        assert stats["total_calls"] == 1
        assert stats["calls"][0][3] == "ListAccounts"
        emu.set_faults(Faults(throttle_rate=1.0))
        with pytest.raises(ClientError) as e:
            client(emu.endpoint_url, "ecr").describe_repositories()
        assert e.value.response["Error"]["Code"] == "ThrottlingException"
        assert emu.stats()["total_throttled"] == 1
        emu.reset_stats()
        assert emu.stats()["total_calls"] == 0


def test_spawn_emulator_pickled_scenario() -> None:
    img = Image(tags=("v1",))
    scn = Scenario(
        (
            Account(
                "111111111111",
                regions=(Region("us-east-1", repositories=(Repository("app", images=(img,)),)),),
            ),
        )
    )
    with spawn_emulator(scn) as emu:
        ecr = client(emu.endpoint_url, "ecr")
        assert (
            ecr.batch_delete_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])["failures"]
            == []
        )
        assert emu.image_digests("111111111111", "us-east-1", "app") == set()
        assert emu.deleted() == [("111111111111", "us-east-1", "app", img.digest)]
