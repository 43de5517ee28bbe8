"""Where a usage scan was read, typed (an account × region, an account as a whole, or a source
outside every account) instead of fake ids; shard files still spell them as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ecr_sweeper.external import external_usage
from ecr_sweeper.model import (
    AccountId,
    AccountNote,
    AccountRegion,
    AccountTarget,
    Digest,
    Image,
    InventoryScan,
    Outside,
    Policy,
    Region,
    Repository,
    RepositoryKey,
    RepositoryName,
    ScanError,
    Sources,
    UsageScan,
    origin_order,
)
from ecr_sweeper.planfile import error_from_json, error_to_json
from ecr_sweeper.report import error_line
from ecr_sweeper.shardfile import read_shards, write_shard

A = AccountId("111111111111")
US = Region("us-east-1")


def test_the_external_list_is_its_own_origin_and_its_errors_say_external() -> None:
    scan = external_usage(["team/app:v3"])
    assert scan.origin is Outside.EXTERNAL_IMAGES
    [error] = scan.errors
    assert error.account_id is Outside.EXTERNAL_IMAGES
    assert error_to_json(error)["account_id"] == "external"
    assert json.dumps(error_to_json(error)).startswith(
        '{"scope": "usage", "account_id": "external"'
    )
    assert error_from_json(error_to_json(error)) == error
    assert error_line(error).startswith("[usage] external images: 'team/app:v3' names no")


def test_shard_files_spell_every_origin_as_before(tmp_path: Path) -> None:
    note = ScanError("usage", A, None, f"regions of {A}", "AccessDenied")
    kube = ScanError("usage", Outside.KUBECONFIG, None, "kubeconfig k.yaml", "no such file")
    scans = [
        UsageScan(AccountRegion(A, US)),
        UsageScan(AccountNote(A), errors=(note,), warnings=("its regions: not listed",)),
        UsageScan(Outside.EXTERNAL_IMAGES, foreign_images=2),
        UsageScan(Outside.KUBECONFIG, errors=(kube,)),
    ]
    path = tmp_path / "shard.json"
    targets = (AccountTarget(A, (US,)),)
    write_shard(
        path,
        index=1,
        count=1,
        targets=targets,
        policy=Policy(),
        sources=Sources(),
        usage=scans,
        inventory=[],
    )
    written = json.loads(path.read_text())["usage"]
    assert [(s["account_id"], s["region"]) for s in written] == [
        (A, US),
        (A, "-"),
        ("external", "-"),
        ("kubeconfig", "-"),
    ]
    _, _, _, usage, _ = read_shards([path])
    assert usage == sorted(scans, key=lambda s: origin_order(s.origin))
    assert {type(s.origin) for s in usage} == {AccountRegion, AccountNote, Outside}


def test_shard_files_keep_an_images_archive_status_and_times(tmp_path: Path) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    images = (
        Image(Digest("sha256:" + "a" * 64), ("v1",), when, 1, "m"),
        Image(
            Digest("sha256:" + "b" * 64),
            (),
            when,
            2,
            "m",
            archived=True,
            activating=True,
            archived_at=when,
            activated_at=when + timedelta(days=1),
        ),
    )
    key = RepositoryKey(A, US, RepositoryName("app"))
    scan = InventoryScan(A, US, (Repository(key, images),))
    path = tmp_path / "shard.json"
    targets = (AccountTarget(A, (US,)),)
    write_shard(
        path,
        index=1,
        count=1,
        targets=targets,
        policy=Policy(),
        sources=Sources(),
        usage=[],
        inventory=[scan],
    )
    _, _, _, _, inventory = read_shards([path])
    assert inventory == [scan]
