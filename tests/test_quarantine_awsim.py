"""A sweep you can undo (issue 22), end to end against the emulator over HTTP (moto implements
no UpdateImageStorageClass): `apply --quarantine` archives what the plan deletes, journaled."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

import sweep
import test_sweep_awsim
from awsim import Account, Cluster, Image, Platform, Region, Repository, Scenario, image_uri
from ecr_sweeper.journal import Journal
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
