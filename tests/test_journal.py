"""The apply journal: resume after a kill, never delete twice, a report that adds up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import sweep
from awsim import Account, Faults, Quotas, Region, Repository, Scenario, emulated, run_emulator
from awsim import Image as SimImage
from ecr_sweeper.journal import Journal, JournalKey, Recorded
from ecr_sweeper.model import AccountId, AccountTarget, Plan, Sources
from ecr_sweeper.model import Region as RegionName
from ecr_sweeper.model import Repository as Repo
from ecr_sweeper.plan import build_plan
from ecr_sweeper.planfile import write_plan
from ecr_sweeper.results import DeleteOutcome
from planning import NO_RETENTION, NOW, digest, image, inventory, key, usage_scan

ACCOUNT = "111111111111"
IMAGES = 1450  # fifteen BatchDeleteImage batches, four in flight at once (ecr.CALLS_AT_ONCE)


def small_plan() -> Plan:
    repo = Repo(key("app"), (image("a", "a"), image("b", "b")))
    return build_plan([usage_scan()], inventory(repo), NO_RETENTION, NOW)


def test_journal_round_trip_and_torn_last_line(tmp_path: Path) -> None:
    plan = small_plan()
    journal = Journal.beside(tmp_path / "plan.json")
    assert len(journal.open_for(plan)) == 0
    first, second = plan.deletions
    journal.record(DeleteOutcome(deleted=[first], failed=[(second, "AccessDenied")]))
    with journal.path.open("a") as stream:
        stream.write('{"account_id": "1111')  # killed in the middle of a write
    recorded = Journal.beside(tmp_path / "plan.json").open_for(plan)
    assert len(recorded) == 2
    assert recorded.get(("111111111111", "us-east-1", "app", first.digest)) == "deleted"
    assert recorded.get(("111111111111", "us-east-1", "app", second.digest)) == "failed"
    assert recorded.get(("111111111111", "us-east-1", "other", first.digest)) is None


def test_a_journal_of_another_plan_is_set_aside(tmp_path: Path) -> None:
    plan = small_plan()
    journal = Journal.beside(tmp_path / "plan.json")
    journal.open_for(plan)
    journal.record(DeleteOutcome(deleted=list(plan.deletions)))
    newer = Plan(
        created_at=plan.created_at + timedelta(hours=1),
        policy=plan.policy,
        targets=plan.targets,
        deletions=plan.deletions,
        kept=plan.kept,
        errors=plan.errors,
    )
    assert len(journal.open_for(newer)) == 0
    assert (tmp_path / "plan.json.journal.other-plan").exists()
    assert digest("a") in (tmp_path / "plan.json.journal.other-plan").read_text()


_PLACES = st.sampled_from([("1", "r", "a"), ("1", "r", "b"), ("2", "s", "a")])
_OUTCOMES = st.sampled_from(["deleted", "failed", "already_gone", "archived"])


@given(
    st.lists(st.tuples(_PLACES, st.sampled_from("xyz"), _OUTCOMES), max_size=60),
    st.integers(1, 7),
)
def test_what_earlier_runs_recorded_is_the_latest_outcome_of_each_image(
    entries: list[tuple[tuple[str, str, str], str, str]], buffered: int
) -> None:
    """Whatever the order of the journal's lines and however few outcomes wait in memory
    (the rest on disk, by repository), each image's outcome is the last one recorded, as a
    dict of every line would say."""
    recorded = Recorded(buffered)
    latest: dict[JournalKey, str] = {}
    for place, image_digest, outcome in entries:
        recorded.add((*place, image_digest), outcome)
        latest[(*place, image_digest)] = outcome
        assert recorded.get((*place, image_digest)) == outcome  # asked as apply goes
    assert len(recorded) == len(entries)
    for place in [("1", "r", "a"), ("1", "r", "b"), ("2", "s", "a"), ("2", "s", "b")]:
        for image_digest in "xyzw":
            key = (*place, image_digest)
            assert recorded.get(key) == latest.get(key)


def test_apply_killed_mid_run_resumes_without_deleting_twice(tmp_path: Path) -> None:
    # Every call waits 0.4 s, so the kill lands while batches are still going.
    slow = Faults(latency_s=0.4)
    with run_emulator(_one_repository(IMAGES), faults=slow, quotas=Quotas.unlimited()) as emu:
        env = _env(emu.env())
        plan_file = tmp_path / "plan.json"
        write_plan(_plan_with(env), plan_file)
        journal = plan_file.with_name("plan.json.journal")
        command = [sys.executable, "-m", "ecr_sweeper", "apply", str(plan_file), "--yes", "-q"]

        first = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) > 1:
                break  # at least one batch is recorded
            time.sleep(0.05)
        assert first.poll() is None, "the first run ended before it could be killed"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        deleted_by_first = len(emu.deleted())
        assert 0 < deleted_by_first < IMAGES

        second = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert second.returncode == 0, second.stdout + second.stderr
        deleted = emu.deleted()
        assert len(deleted) == IMAGES  # every image deleted once...
        assert len(set(deleted)) == IMAGES  # ...and none twice
        assert emu.image_digests(ACCOUNT, "us-east-1", "app") == set()
        counts = _counts(second.stdout)
        # the report adds up: earlier run + this run + already gone (deleted in flight at the
        # kill, not journaled) + skipped
        assert counts["earlier"] + counts["deleted"] + counts["gone"] + counts["skipped"] == IMAGES
        assert counts["earlier"] >= 100
        assert counts["failed"] == 0


# The child starts with SIGINT and SIGTERM at their defaults, whatever this process inherited
# (a background job of a non-interactive shell has SIGINT ignored: `bash -c 'pytest … & wait'`).
_WITH_DISPOSITION = (
    "import os, signal, sys; "
    "[signal.signal(s, getattr(signal, sys.argv[1])) for s in (signal.SIGINT, signal.SIGTERM)]; "
    "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])"
)


def _interrupted(
    tmp_path: Path, signum: signal.Signals, disposition: str = "SIG_DFL"
) -> tuple[int, str, set[str], set[str]]:
    """Start apply, send `signum` once a batch is journaled: (exit code, stderr, deleted,
    journaled as deleted). After SIGTERM, a second apply must finish the job."""
    scenario = _one_repository(IMAGES)
    with run_emulator(scenario, faults=Faults(latency_s=0.4), quotas=Quotas.unlimited()) as emu:
        env = _env(emu.env())
        plan_file = tmp_path / "plan.json"
        write_plan(_plan_with(env), plan_file)
        journal = plan_file.with_name("plan.json.journal")
        command = ["-m", "ecr_sweeper", "apply", str(plan_file), "--yes", "-q"]
        run = subprocess.Popen(
            [sys.executable, "-c", _WITH_DISPOSITION, disposition, *command],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and run.poll() is None:
            if journal.exists() and len(journal.read_text().splitlines()) > 1:
                break
            time.sleep(0.05)
        assert run.poll() is None, "apply ended before it could be interrupted"
        run.send_signal(signum)
        _, stderr = run.communicate(timeout=60)
        deleted = {digest for *_, digest in emu.deleted()}
        journaled = {
            json.loads(line)["image_digest"]
            for line in journal.read_text().splitlines()[1:]
            if json.loads(line)["outcome"] == "deleted"
        }
        if signum is signal.SIGTERM:  # and running it again resumes, deleting each image once
            again = subprocess.run(
                [sys.executable, *command],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert again.returncode == 0, again.stdout + again.stderr
            assert len(emu.deleted()) == len(set(emu.deleted())) == IMAGES
    return run.returncode, stderr, deleted, journaled


def _assert_stopped_politely(
    signum: signal.Signals, code: int, stderr: str, deleted: set[str], journaled: set[str]
) -> None:
    assert code == 128 + signum.value, stderr
    assert deleted  # it did delete something before the signal...
    assert len(deleted) < IMAGES  # ...and stopped early...
    assert journaled == deleted  # ...and every image it deleted is in the journal
    assert "Traceback" not in stderr
    assert f"apply stopped by {signum.name}: {len(deleted)} images deleted (journaled in " in stderr
    assert "again to resume" in stderr


def test_ctrl_c_finishes_the_batch_in_flight_and_journals_it(tmp_path: Path) -> None:
    code, stderr, deleted, journaled = _interrupted(tmp_path, signal.SIGINT)
    _assert_stopped_politely(signal.SIGINT, code, stderr, deleted, journaled)


def test_sigterm_finishes_the_batch_in_flight_journals_it_and_apply_resumes(
    tmp_path: Path,
) -> None:
    code, stderr, deleted, journaled = _interrupted(tmp_path, signal.SIGTERM)
    _assert_stopped_politely(signal.SIGTERM, code, stderr, deleted, journaled)


def test_an_inherited_ignored_sigint_does_not_make_apply_unstoppable(tmp_path: Path) -> None:
    code, stderr, deleted, journaled = _interrupted(tmp_path, signal.SIGINT, "SIG_IGN")
    _assert_stopped_politely(signal.SIGINT, code, stderr, deleted, journaled)


def _one_repository(count: int) -> Scenario:
    images = tuple(SimImage(tags=(f"t{n}",), key=f"img-{n}") for n in range(count))
    region = Region("us-east-1", repositories=(Repository("app", images=images),))
    return Scenario(accounts=(Account(ACCOUNT, regions=(region,)),))


def _env(emulator_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return (
        env
        | emulator_env
        | {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )


def _plan_with(env: dict[str, str]) -> Plan:
    target = AccountTarget(
        AccountId(ACCOUNT),
        (RegionName("us-east-1"),),
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/EcrSweeper",
    )
    saved = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    for name in saved:
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
    try:
        return sweep.plan([target], sources=emulated(Sources(service_revisions=False)))
    finally:
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(saved)


def _counts(output: str) -> dict[str, int]:
    line = next(line for line in output.splitlines() if line.startswith("apply: "))
    words = line.replace(",", "").split()

    def after(*phrase: str) -> int:
        for i in range(len(words) - len(phrase)):
            if tuple(words[i : i + len(phrase)]) == phrase:
                return int(words[i + len(phrase)])
        raise AssertionError(f"{phrase} not in {line!r}")

    return {
        "deleted": after("apply:", "deleted"),
        "earlier": after("earlier", "run"),
        "gone": after("already", "gone"),
        "skipped": after("skipped"),
        "failed": after("failed"),
    }
