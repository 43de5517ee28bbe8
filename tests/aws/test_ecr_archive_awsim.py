"""The inventory reads ECR's archive by the service model's shapes (`imageStatus`,
`lastArchivedAt`, `lastActivatedAt`), against the emulator over HTTP (moto implements none of
it), and an archived image index, which cannot be pulled, leaves its repository readable."""

from __future__ import annotations

from datetime import UTC, datetime

import sweep
import test_sweep_awsim
from awsim import Account, Image, Platform, Region, Repository, Scenario
from ecr_sweeper.aws.ecr import scan_inventory
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.model import Image as Read
from ecr_sweeper.model import InventoryScan
from ecr_sweeper.model import Region as RegionName
from test_sweep_awsim import US, StartEmulator, target

emulator = test_sweep_awsim.emulator  # the fixture, shared

A = "111111111111"
PLAIN = Image(tags=("v1",), key="plain")
GONE = Image(tags=("v0",), key="gone")
MULTI = Image(tags=("multi",), platforms=(Platform("amd64"), Platform("arm64")), key="multi")


def _inventory() -> dict[str, Read]:
    account = target(A)

    async def work(connections: Connections) -> InventoryScan:
        ecr = await connections.client(account, RegionName(US), "ecr")
        api = connections.api(account.account_id, RegionName(US))
        return await scan_inventory(account, RegionName(US), ecr, api)

    scan = sweep.connected(work)
    (repository,) = scan.repositories
    assert repository.error is None
    return {image.digest: image for image in repository.images}


def _move(digest: str, target_class: str) -> None:
    import boto3

    boto3.client("ecr", region_name=US).update_image_storage_class(
        repositoryName="app", imageId={"imageDigest": digest}, targetStorageClass=target_class
    )


def test_status_and_archive_times_are_read_and_an_archived_index_is_not_pulled(
    emulator: StartEmulator,
) -> None:
    scenario = Scenario(
        (Account(A, (Region(US, repositories=(Repository("app", (PLAIN, GONE, MULTI)),)),)),)
    )
    with emulator(scenario) as emu:
        before = datetime.now(UTC).replace(microsecond=0)
        _move(GONE.digest, "ARCHIVE")
        _move(MULTI.digest, "ARCHIVE")  # an index: BatchGetImage cannot read it now
        _move(PLAIN.digest, "ARCHIVE")
        emu.set_activation_delay(3600)
        _move(PLAIN.digest, "STANDARD")
        images = _inventory()
    plain, gone, multi = images[PLAIN.digest], images[GONE.digest], images[MULTI.digest]
    assert (plain.archived, plain.activating) == (True, True)
    assert plain.archived_at is not None
    assert plain.activated_at is not None
    assert before <= plain.archived_at <= plain.activated_at
    assert (gone.archived, gone.activating, gone.activated_at) == (True, False, None)
    assert gone.archived_at is not None
    assert gone.archived_at >= before
    assert multi.archived
    assert multi.is_index
    assert multi.children == ()  # not readable while archived; its manifests are still listed
    assert {c.digest for c in MULTI.children} <= set(images)
    for child in MULTI.children:
        assert not images[child.digest].archived
        assert images[child.digest].archived_at is None
