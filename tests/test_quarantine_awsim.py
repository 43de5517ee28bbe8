"""A sweep you can undo (issue 22), end to end against the emulator over HTTP (moto implements
no UpdateImageStorageClass): `apply --quarantine` archives what the plan deletes, journaled."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import boto3

import sweep
import test_sweep_awsim
from awsim import Account, Cluster, Image, Platform, Region, Repository, Scenario, image_uri
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.journal import Journal, quarantined, select
from ecr_sweeper.model import Quarantined
from ecr_sweeper.pipeline import restore_quarantined
from ecr_sweeper.results import RestoreLine
from test_sweep_awsim import NOW, SOURCES, US, StartEmulator, keys, service_using, target

emulator = test_sweep_awsim.emulator  # the fixture, shared

A = "111111111111"
USED = Image(tags=("v3",), key="used")
OLD = Image(tags=("v1",), key="old")
MULTI = Image(tags=("multi",), platforms=(Platform("amd64"), Platform("arm64")), key="multi")
SIG = Image(subject=OLD, fmt="oci", key="sig")
ELSEWHERE = Image(tags=("v0",), key="archived-by-someone", status="ARCHIVED")


def scenario() -> Scenario:
    svc, td, task = service_using("api", "api", image_uri(A, US, "app", tag="v3"), USED.digest)
    region = Region(
        US,
        (Cluster("apps", (svc,), (task,)),),
        (td,),
        (Repository("app", (USED, OLD, MULTI, SIG, ELSEWHERE)),),
    )
    return Scenario((Account(A, (region,)),))


def statuses() -> dict[str, str]:
    ecr = boto3.client("ecr", region_name=US)
    details = ecr.describe_images(repositoryName="app", filter={"imageStatus": "ANY"})
    return {d["imageDigest"]: d["imageStatus"] for d in details["imageDetails"]}


def test_apply_quarantine_archives_what_the_plan_deletes_and_a_rerun_resumes(
    emulator: StartEmulator, tmp_path: Path
) -> None:
    with emulator(scenario()) as emu:
        reviewed = sweep.plan([target(A)], sources=SOURCES, now=NOW)
        planned = {k[3] for k in keys(reviewed.deletions)}
        children = {c.digest for c in MULTI.children}
        assert planned == {OLD.digest, MULTI.digest, SIG.digest, ELSEWHERE.digest} | children
        journal = Journal(tmp_path / "plan.json.journal")
        done = sweep.apply(reviewed, now=NOW, journal=journal, quarantine=True)
        assert done.quarantine
        assert {d.digest for d in done.outcome.archived} == planned - {ELSEWHERE.digest}
        assert done.outcome.deleted == []
        # Archived by something else already: ECR's refusal, read and reported for the image.
        ((failed, why),) = done.outcome.failed
        assert failed.digest == ELSEWHERE.digest
        assert "(ImageStorageClassUpdateNotSupportedException)" in why
        assert why.endswith("its status is ARCHIVED")
        # The index went before the manifests it lists (ECR refuses them while it is active).
        assert emu.deleted() == []
        now = statuses()
        assert {d for d, s in now.items() if s == "ARCHIVED"} == planned
        assert now[USED.digest] == "ACTIVE"
        archive_calls = emu.call_count(operation="UpdateImageStorageClass")
        assert archive_calls == len(planned)  # one call per image

        lines = [json.loads(line) for line in journal.path.read_text().splitlines()[1:]]
        archived = [line for line in lines if line["outcome"] == "archived"]
        assert {line["image_digest"] for line in archived} == planned - {ELSEWHERE.digest}
        assert {line["at"] for line in archived} == {NOW.isoformat()}

        again = sweep.apply(reviewed, now=NOW, journal=journal, quarantine=True)
        assert {d.digest for d in again.previously_done} == planned - {ELSEWHERE.digest}
        assert again.outcome.archived == []
        assert emu.call_count(operation="UpdateImageStorageClass") == archive_calls + 1


def restore(records: Sequence[Quarantined], tags: Sequence[str] = ()) -> list[RestoreLine]:
    async def work(connections: Connections) -> list[RestoreLine]:
        return await restore_quarantined(records, [target(A)], connections, tags=tags)

    return sweep.connected(work)


def test_restore_undoes_a_quarantine_manifests_before_their_index_and_is_idempotent(
    emulator: StartEmulator, tmp_path: Path
) -> None:
    with emulator(scenario()) as emu:
        reviewed = sweep.plan([target(A)], sources=SOURCES, now=NOW)
        journal = Journal(tmp_path / "plan.json.journal")
        sweep.apply(reviewed, now=NOW, journal=journal, quarantine=True)
        records = quarantined(journal.path)
        assert {r.digest for r in records} == {d.digest for d in reviewed.deletions} - {
            ELSEWHERE.digest
        }
        assert {r.at for r in records} == {NOW}

        # One image, by tag, with ECR taking its time: ACTIVATING, then nothing to do.
        emu.set_activation_delay(3600)
        (old,) = restore(records, tags=("v1",))
        assert (old.digest, old.before, old.after, old.restored) == (
            OLD.digest,
            "ARCHIVED",
            "ACTIVATING",
            True,
        )
        calls = emu.call_count(operation="UpdateImageStorageClass")
        (again,) = restore(records, tags=("v1",))
        assert (again.before, again.after, again.restored) == ("ACTIVATING", "ACTIVATING", False)
        assert emu.call_count(operation="UpdateImageStorageClass") == calls

        # The rest (the index after the manifests it lists, which ECR requires): ACTIVE.
        emu.set_activation_delay(0)
        lines = restore(select(records, digests=[d for d in statuses() if d != OLD.digest]))
        assert {x.digest: x.after for x in lines} == {
            r.digest: "ACTIVE" for r in records if r.digest != OLD.digest
        }
        assert all(x.restored for x in lines)
        assert statuses()[ELSEWHERE.digest] == "ARCHIVED"  # not this tool's: not restored
        assert {d for d, s in statuses().items() if s == "ARCHIVED"} == {ELSEWHERE.digest}
        # An image deleted since is reported gone, not failed.
        boto3.client("ecr", region_name=US).batch_delete_image(
            repositoryName="app", imageIds=[{"imageDigest": SIG.digest}]
        )
        gone = {str(x.digest): x.after for x in restore(records)}
        assert gone[SIG.digest] == "GONE"
