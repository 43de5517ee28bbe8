"""A sweep you can undo (issue 22), end to end against the emulator over HTTP (moto implements
no UpdateImageStorageClass): `apply --quarantine` archives what the plan deletes, journaled."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sweep
import test_sweep_awsim
from awsim import Account, Cluster, Image, Platform, Region, Repository, Scenario, image_uri
from ecr_sweeper import wording
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.journal import Journal, quarantined, select
from ecr_sweeper.model import Quarantined
from ecr_sweeper.pipeline import restore_quarantined
from ecr_sweeper.planfile import write_plan
from ecr_sweeper.results import RestoreLine
from planning import NO_RETENTION
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
        # Archived by something else already: ECR refuses, the image's status says why, and
        # it is left as it is (not this tool's to restore), not a failure.
        assert done.outcome.failed == []
        assert [d.digest for d in done.outcome.already_archived] == [ELSEWHERE.digest]
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
        assert {d.digest for d in again.previously_done} == planned
        assert again.outcome.archived == []
        assert emu.call_count(operation="UpdateImageStorageClass") == archive_calls


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


def test_a_sweep_you_can_undo_plan_quarantine_a_pull_fails_restore_then_a_later_plan_finishes(
    emulator: StartEmulator, tmp_path: Path
) -> None:
    """Issue 22's must-show: plan → apply --quarantine → a consumer pulls one quarantined image
    and fails → `restore` of that one → a plan 15 days later (clock injected) deletes the
    other quarantined images and keeps the restored one, with its reason."""
    with emulator(scenario()) as emu:
        reviewed = sweep.plan([target(A)], sources=SOURCES, now=NOW)
        plan_file = tmp_path / "plan.json"
        write_plan(reviewed, plan_file)
        journal = Journal.beside(plan_file)
        done = sweep.apply(reviewed, now=NOW, journal=journal, quarantine=True)
        quarantined_now = {d.digest for d in done.outcome.archived}
        assert OLD.digest in quarantined_now

        # Something the sweep could not see still needed v1: its pull fails (404 on AWS).
        ecr = boto3.client("ecr", region_name=US)
        pulled = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
        assert pulled["images"] == []
        assert pulled["failures"][0]["failureCode"] == "ImageNotFound"

        # The undo, of that one image, from the command line.
        restored = sweep.sweeper("restore", str(plan_file), "--digest", OLD.digest, cwd=tmp_path)
        assert restored.returncode == 0, restored.stderr
        assert f"ARCHIVED → ACTIVE     {A}/{US}/app@{OLD.digest} (v1)" in restored.stdout
        assert "restore: 1 restored now; ACTIVE 1" in restored.stdout
        pulled = ecr.batch_get_image(repositoryName="app", imageIds=[{"imageTag": "v1"}])
        assert [i["imageId"]["imageDigest"] for i in pulled["images"]] == [OLD.digest]
        again = sweep.sweeper("restore", str(plan_file), "--digest", OLD.digest, cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "restore: 0 restored now; ACTIVE 1" in again.stdout  # idempotent

        # 15 days later, with what the quarantine recorded.
        later = NOW + timedelta(days=15)
        records = quarantined(journal.path)
        policy = replace(NO_RETENTION, quarantine=True)
        finish = sweep.plan([target(A)], policy, sources=SOURCES, now=later, quarantined=records)
        said = {str(d.digest): wording.reason(d.reason) for d in (*finish.deletions, *finish.kept)}
        assert {d.digest for d in finish.deletions} == (quarantined_now - {OLD.digest}) | {
            ELSEWHERE.digest  # archived by someone else: judged as today (unused: deleted)
        }
        for digest in quarantined_now - {OLD.digest}:
            assert said[digest] == "delete: quarantined 15 days ago, nobody restored or used it"
        assert said[OLD.digest] == "kept: restored after quarantine: something needed it"
        assert said[USED.digest].startswith("in use: tag 'v3'")

        # Its apply deletes what the quarantine finished (even with quarantine on).
        final = sweep.apply(
            finish, now=later, journal=Journal(tmp_path / "later.journal"), quarantine=True
        )
        assert {d.digest for d in final.outcome.deleted} == quarantined_now - {OLD.digest}
        # …and quarantines the rest as usual (someone else's archive is left as it is).
        assert [d.digest for d in final.outcome.already_archived] == [ELSEWHERE.digest]
        assert final.outcome.failed == []
        assert emu.image_digests(A, US, "app") == {USED.digest, OLD.digest, ELSEWHERE.digest}


# Each example of the property below is a real emulator, plan, apply and restore (about 6 s):
# few examples. Every one names its images apart (`_RUNS`), so no digest repeats across them.
_RUNS = iter(range(1_000_000))


@st.composite
def repositories(draw: st.DrawFn) -> Repository:
    run = next(_RUNS)
    images: list[Image] = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["plain", "untagged", "index", "referrer"]))
        seed = f"p{run}-{i}"
        if kind == "index":
            images.append(
                Image(tags=(f"m{i}",), platforms=(Platform("amd64"), Platform("arm64")), key=seed)
            )
        elif kind == "referrer" and images:
            images.append(Image(subject=images[-1], fmt="oci", key=seed))
        else:
            images.append(Image(tags=() if kind == "untagged" else (f"v{i}",), key=seed))
    return Repository(f"prop/{run}", tuple(images))


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(repository=repositories())
def test_restore_after_quarantine_returns_every_archived_image_to_active(
    emulator: StartEmulator, tmp_path: Path, repository: Repository
) -> None:
    with emulator(Scenario((Account(A, (Region(US, repositories=(repository,)),)),))):
        reviewed = sweep.plan([target(A)], sources=SOURCES, now=NOW)
        journal = Journal(tmp_path / f"{repository.name.replace('/', '-')}.journal")
        if journal.path.exists():
            journal.path.unlink()
        done = sweep.apply(reviewed, now=NOW, journal=journal, quarantine=True)
        assert done.outcome.failed == []
        records = quarantined(journal.path)
        assert {r.digest for r in records} == {d.digest for d in reviewed.deletions}
        lines = restore(records)
        assert {x.digest: x.after for x in lines} == {r.digest: "ACTIVE" for r in records}
        now = statuses_of(repository.name)
        assert set(now.values()) == {"ACTIVE"}
        assert set(now) == {i.digest for i in repository.all_images()}


def statuses_of(name: str) -> dict[str, str]:
    ecr = boto3.client("ecr", region_name=US)
    details = ecr.describe_images(repositoryName=name, filter={"imageStatus": "ANY"})
    return {d["imageDigest"]: d["imageStatus"] for d in details["imageDetails"]}


def test_the_command_line_quarantine_states_its_cost_first_and_restore_undoes_it(
    emulator: StartEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with emulator(scenario()):
        reviewed = sweep.plan([target(A)], sources=SOURCES, now=datetime.now(UTC))
        write_plan(reviewed, tmp_path / "plan.json")
        monkeypatch.setenv("ECR_SWEEPER_QUARANTINE", "true")  # the GitLab template's variable
        applied = sweep.sweeper("apply", "plan.json", "--yes", cwd=tmp_path)
        assert applied.returncode == 0, applied.stderr
        out = applied.stdout
        assert out.index("quarantine cost: 0.21 GB archived instead of deleted is billed") < (
            out.index("apply --quarantine: archived 5 (")
        )
        assert "at least 90 days: about $0.06 at $0.1/GB-month" in out
        assert "restoring all of it would cost about $0.01 ($0.03/GB)" in out
        assert "as checked in March 2026" in out
        assert f"left {A}/{US}/app@{ELSEWHERE.digest}: archived already, not by" in applied.stderr
        assert "archived already by something else 1, skipped 0, failed 0" in out
        # The images it archived are listed, under "archived" (none was deleted)
        assert "ecr-sweeper apply: archived" in out
        assert "ecr-sweeper apply: deleted" not in out
        archived_now = [d for d in reviewed.deletions if d.digest != ELSEWHERE.digest]
        assert len(archived_now) == 5
        for d in archived_now:
            assert d.digest in out, out
        assert {d for d, s in statuses().items() if s == "ARCHIVED"} == {
            d.digest for d in reviewed.deletions
        }
        restored = sweep.sweeper(
            "restore", "plan.json.journal", "--repository", "app", cwd=tmp_path
        )
        assert restored.returncode == 0, restored.stderr
        assert "restore: 5 restored now; ACTIVE 5" in restored.stdout
        assert {d for d, s in statuses().items() if s == "ARCHIVED"} == {ELSEWHERE.digest}
