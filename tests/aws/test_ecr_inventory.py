"""aws/ecr.py's inventory of large repositories: read side by side within the image budget, a
repository beyond its share waiting on disk (not in memory, and not for the others to end),
and whole again, in the order listed, to be judged."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import sweep
import test_sweep_awsim
from awsim import Account, Image, Scenario
from awsim import Region as EmulatedRegion
from awsim import Repository as EmulatedRepository
from ecr_sweeper.aws.ecr import DESCRIBE_IMAGES_PAGE, _images, scan_inventory
from ecr_sweeper.aws.limits import Api, ImageBudget, Share
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.aws.wire import WireClient
from ecr_sweeper.model import AccountId, InventoryScan, Region, RepositoryKey, RepositoryName
from ecr_sweeper.retry import RetryPolicy
from loopback import Answer, Request, ecr_client, loopback
from planning import digest
from test_sweep_awsim import US, StartEmulator, target

emulator = test_sweep_awsim.emulator  # the fixture, shared

PAGES = 4  # of DESCRIBE_IMAGES_PAGE images each, per repository
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"  # read no further


def _key(name: str) -> RepositoryKey:
    return RepositoryKey(AccountId("111111111111"), Region("us-east-1"), RepositoryName(name))


def _page(name: str, n: int) -> dict[str, Any]:
    details = [
        {
            "imageDigest": digest(f"{name}/{n}/{k}"),
            "imagePushedAt": 1_700_000_000 + k,
            "imageSizeInBytes": 10,
            "imageManifestMediaType": DOCKER_MANIFEST,
        }
        for k in range(DESCRIBE_IMAGES_PAGE)
    ]
    return {"imageDetails": details, **({"nextToken": str(n + 1)} if n + 1 < PAGES else {})}


class _Seen:
    """A share of the budget that notes the images the budget holds after each take."""

    def __init__(self, take: Share, held: list[int]) -> None:
        self._take = take
        self._held = held

    async def __call__(self, n: int) -> None:
        await self._take(n)
        self._held.append(self._take.budget.used)

    def fits(self, n: int) -> bool:
        return self._take.fits(n)


@pytest.mark.parametrize(
    ("limit", "most", "bound", "on_disk"),
    [
        # Each share may hold two pages: each repository goes to disk beyond them.
        (4, 2, 4, {"a": True, "b": True}),
        # The budget beside the oldest share ("a", which holds its four pages) is two pages:
        # the second repository goes to disk when its third page would wait for room.
        (2, 4, 6, {"a": False, "b": True}),
    ],
    ids=["beyond its share", "when the budget is full"],
)
def test_large_repositories_are_read_side_by_side_within_the_image_budget(
    limit: int, most: int, bound: int, on_disk: dict[str, bool]
) -> None:
    """Two repositories of four pages each, read at once with a budget of `limit` pages,
    `most` a share: the second puts the images it read on disk, rather than wait holding them
    for the first to end. So it asks for its third page before the first's last page is
    answered (the server holds that answer until then), the images in memory never pass
    `bound` pages, and each repository comes back whole, in the order listed."""
    second_goes_on = threading.Event()
    waited: list[bool] = []

    def answer(request: Request) -> Answer:
        asked = json.loads(request.body)
        name, n = asked["repositoryName"], int(asked.get("nextToken", 0))
        if (name, n) == ("b", 2):
            second_goes_on.set()
        if (name, n) == ("a", PAGES - 1):
            waited.append(second_goes_on.wait(10))
        body = json.dumps(_page(name, n)).encode()
        return Answer(200, {"Content-Type": "application/x-amz-json-1.1"}, body)

    budget = ImageBudget(limit * DESCRIBE_IMAGES_PAGE, most=most * DESCRIBE_IMAGES_PAGE)
    held: list[int] = []
    listed: dict[str, list[str]] = {}
    disk: dict[str, bool] = {}

    async def read(client: WireClient, api: Api, name: str) -> None:
        async with budget.share() as take:
            listing = await _images(client, api, _key(name), _Seen(take, held), budget.most)
            disk[name] = listing.on_disk
            listed[name] = [image.digest for image in listing.images()]

    async def run(url: str) -> None:
        async with ecr_client(url) as client:
            api = Api(4, RetryPolicy())
            with anyio.fail_after(60):
                async with anyio.create_task_group() as tg:
                    tg.start_soon(read, client, api, "a")
                    await anyio.sleep(0.05)  # "a" is the oldest share
                    tg.start_soon(read, client, api, "b")

    with loopback() as server:
        server.answer = answer
        anyio.run(run, server.url)
    assert waited == [True]
    assert max(held) <= bound * DESCRIBE_IMAGES_PAGE
    assert budget.used == 0
    assert disk == on_disk
    for name in ("a", "b"):
        assert listed[name] == [
            digest(f"{name}/{n}/{k}") for n in range(PAGES) for k in range(DESCRIBE_IMAGES_PAGE)
        ]


def test_images_that_cannot_be_read_back_from_disk_block_their_repository_only(
    emulator: StartEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repository whose images went to disk, and whose temporary file cannot be read back
    (here it is emptied under the run, just before it is made whole), is unreadable: its
    error, which says where, holds every image in it. The run goes on, and a repository read
    in memory beside it is read as usual."""
    big = EmulatedRepository(
        "big", tuple(Image(tags=(f"v{i}",), key=f"big{i}") for i in range(DESCRIBE_IMAGES_PAGE + 1))
    )
    small = EmulatedRepository("small", (Image(tags=("v1",), key="small"),))
    scenario = Scenario(
        (Account("111111111111", (EmulatedRegion(US, repositories=(big, small)),)),)
    )
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    emptied: list[str] = []

    @contextlib.asynccontextmanager
    async def whole() -> AsyncIterator[None]:
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
                if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path)):
                    os.truncate(f"/proc/self/fd/{fd}", 0)
                    emptied.append(fd)
        yield

    account = target("111111111111")
    budget = ImageBudget(DESCRIBE_IMAGES_PAGE, most=DESCRIBE_IMAGES_PAGE)

    async def work(connections: Connections) -> InventoryScan:
        ecr = await connections.client(account, Region(US), "ecr")
        api = connections.api(account.account_id, Region(US))
        return await scan_inventory(account, Region(US), ecr, api, budget=budget, whole=whole)

    with emulator(scenario):
        scan = sweep.connected(work)
    assert emptied  # the big repository went to disk
    by_name = {str(repository.key.name): repository for repository in scan.repositories}
    assert by_name["small"].error is None
    assert [image.tags for image in by_name["small"].images] == [("v1",)]
    failed = by_name["big"]
    assert failed.images == ()
    assert failed.error is not None
    assert failed.error.startswith(f"reading its images back from a temporary file in {tmp_path}: ")
    assert scan.errors == ()
    assert budget.used == 0
