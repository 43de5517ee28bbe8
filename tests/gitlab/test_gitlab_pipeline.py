"""The GitLab template run by a pipeline runner: gitlab-ci-local, against moto's server.

A user's project includes the template into its own `.gitlab-ci.yml` (jobs of its own, no
`stages:`), commits an accounts file, and runs pipelines the way GitLab would: gitlab-ci-local
evaluates `rules:`, `needs:`, `parallel:`, manual jobs, artifacts and dotenv reports with
GitLab's semantics and runs each job's script on the shell executor, each job in its own
build directory (`--shell-isolation`: what a job gets from another is its artifacts, as on
GitLab). The jobs run `ecr-sweeper` from this virtualenv, against moto on 127.0.0.1.

OIDC as in GitLab: the role ARNs are CI/CD variables scoped to the plan's and the apply's
environments (gitlab-ci-local's variables file), the ID token is a variable (gitlab-ci-local
does not mint `id_tokens`), and botocore exchanges it with moto's AssumeRoleWithWebIdentity.
The static keys of this test process are in the jobs' environment too, as a stray project
variable would be: the template removes them, so every AWS call is on the web identity.

gitlab-ci-local is the version locked in tests/gitlab/package-lock.json (`npm ci`, by
tests/gitlab/provision.py from the nox tests session, or here when it is missing); it needs
rsync. The tests skip only where npm or rsync is absent (and fail there instead when
`ECR_SWEEPER_REQUIRE_GITLAB_CI_LOCAL` is set, as `.ci/run` does).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from moto_helpers import APP, REGISTRY, US, present, seed_org, service

pytestmark = pytest.mark.usefixtures("aws")

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "gitlab" / "delete-images.gitlab-ci.yml"
TOOLS = Path(__file__).resolve().parent
LOCKED = json.loads((TOOLS / "package.json").read_text(encoding="utf-8"))["dependencies"][
    "gitlab-ci-local"
]
PLAN, SHARD, MERGE, APPLY = (
    "delete_images:plan",
    "delete_images:plan-shard",
    "delete_images:plan-merge",
    "delete_images:apply",
)
# The target role in every account, as a user's accounts file names it: the role moto_helpers
# seeds through (the demo's ROLE_NAME, spelt out rather than imported from the demo).
ROLE = "EcrSweeper"
PLAN_ROLE = "arn:aws:iam::111111111111:role/GitLabEcrSweeperPlan"
APPLY_ROLE = "arn:aws:iam::111111111111:role/GitLabEcrSweeperApply"
# A JWT's shape; moto's AssumeRoleWithWebIdentity does not verify signatures.
ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0X3BhdGg6Z3JvdXAvcHJvamVjdCJ9.c2lnbmF0dXJl"
# One pipeline: a few ecr-sweeper runs of about a second each on an idle machine; the bound
# is for a loaded one (and stops a hung runner: its whole process group is killed).
PIPELINE_TIMEOUT = 420

# The user's own pipeline: two jobs, GitLab's default stages, the template included.
USER_PIPELINE = """\
include:
  - local: ci/delete-images.gitlab-ci.yml

build:
  stage: build
  script: [echo building]

unit:
  script: [echo testing]
"""
ACCOUNTS = """\
[defaults]
role_name = "{role}"
regions = ["us-east-1", "eu-west-1"]

[policy]
keep_last = 0
min_age_days = 0

[sources]
service_revisions = false
usage_regions = ["us-east-1", "eu-west-1"]
daemons = false
app_runner = false
{accounts}"""
# The role ARNs as a GitLab user sets them: CI/CD variables scoped to each job's environment.
SCOPED_VARIABLES = f"""\
global:
  ECR_SWEEPER_PLAN_ROLE_ARN:
    type: variable
    values:
      ecr-sweeper-plan: "{PLAN_ROLE}"
  ECR_SWEEPER_APPLY_ROLE_ARN:
    type: variable
    values:
      ecr-sweeper: "{APPLY_ROLE}"
"""


# --------------------------------------------------------------------------- the runner


# `.ci/run` and the project's own CI set this: there, the pipeline tests must run, not skip.
REQUIRE = "ECR_SWEEPER_REQUIRE_GITLAB_CI_LOCAL"


def _installed_version(entry: Path) -> str | None:
    manifest = entry.parent.parent / "package.json"
    if not manifest.exists():
        return None
    return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])


@pytest.fixture(scope="session")
def gitlab_ci_local() -> list[str]:
    """The command that runs the locked gitlab-ci-local (installed by `npm ci` if need be)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        missing = "npm is not installed: the GitLab pipeline tests need gitlab-ci-local"
        if os.environ.get(REQUIRE):
            pytest.fail(f"{missing}, and {REQUIRE} says they must run")
        pytest.skip(missing)
    entry = TOOLS / "node_modules" / "gitlab-ci-local" / "src" / "index.js"
    if _installed_version(entry) != LOCKED:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=TOOLS,
            check=True,
            timeout=600,
        )
    if shutil.which("rsync") is None:
        missing = (
            "rsync is not installed and gitlab-ci-local needs it: `nox -s tests` installs it "
            "(tests/gitlab/provision.py: apt-get, as root), or install it yourself"
        )
        if os.environ.get(REQUIRE):
            pytest.fail(f"{missing}; {REQUIRE} says the pipeline tests must run")
        pytest.skip(missing)
    return [node, str(entry)]


@dataclass(frozen=True, slots=True)
class Pipeline:
    """One gitlab-ci-local run: its exit status, its log, and each job's outcome."""

    returncode: int
    log: str
    outcomes: dict[str, str]  # job name (shards as "name: [i/n]") -> PASS / FAIL / WARN
    project: Path

    def job_log(self, name: str) -> str:
        """The lines a job printed (gitlab-ci-local prefixes each with the job's name)."""
        prefix = re.compile(rf"^{re.escape(name)}\s+[>$] ?(.*)$")
        return "\n".join(m.group(1) for line in self.log.splitlines() if (m := prefix.match(line)))

    def artifact(self, job: str, name: str) -> Path:
        """A file of a job's artifacts, as gitlab-ci-local stored them."""
        folder = re.sub(r"[^\w-]+", lambda m: _base64url(m.group(0)), job)
        return self.project / ".gitlab-ci-local" / "artifacts" / folder / name


def _base64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


ANSI = re.compile(r"\x1b\[[0-9;]*m")
OUTCOME = re.compile(r"^ (PASS|FAIL|WARN) {2}(.+?)\s*$")


def _run(command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[int, str]:
    """Run to the end or to PIPELINE_TIMEOUT. Stopped early (a timeout, pytest-timeout's
    signal, Ctrl-C), nothing it started outlives it: its whole process group is killed (while
    the runner is not yet reaped, so the group id is still its own)."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = process.communicate(timeout=PIPELINE_TIMEOUT)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, _ = process.communicate()
        pytest.fail(f"the pipeline ran over {PIPELINE_TIMEOUT} s:\n{ANSI.sub('', out)}")
    except BaseException:
        _kill_group(process)
        process.communicate()
        raise
    return process.returncode, ANSI.sub("", out)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass(slots=True)
class Project:
    """A user's GitLab project, checked out, and how to run its pipelines."""

    path: Path
    home: Path
    runner: list[str]
    runs: int = 0

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)  # the aws fixture's: moto endpoints and static test keys
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["HOME"] = str(self.home)
        env.pop("GCL_PROJECT_VARIABLES_FILE", None)
        return env

    def flags(self, variables: Mapping[str, str]) -> list[str]:
        out = [
            "--home",
            str(self.home),
            "--ignore-predefined-vars",
            "CI_PIPELINE_SOURCE",
            "--no-color",
        ]
        for key, value in variables.items():
            out += ["--variable", f"{key}={value}"]
        return out

    def run(self, variables: Mapping[str, str], *, manual: Sequence[str] = ()) -> Pipeline:
        """A pipeline with these variables (CI_PIPELINE_SOURCE among them); `manual` are the
        manual jobs someone plays."""
        command = [
            *self.runner,
            *self.flags(variables),
            "--shell-isolation",
            "--force-shell-executor",  # ecr-sweeper from this virtualenv, not the image
            "--no-artifacts-to-source",  # artifacts reach a job through `needs:` only
            "--concurrency",
            "2",  # a shared 2-core machine
        ]
        for job in manual:
            command += ["--manual", job]
        code, log = _run(command, self.path, self.environment())
        # Kept beside the project (pytest keeps the last runs' tmp_path) for a person to read.
        self.runs += 1
        (self.path.parent / f"pipeline-{self.runs}.log").write_text(log, encoding="utf-8")
        outcomes = {
            m.group(2): m.group(1) for line in log.splitlines() if (m := OUTCOME.match(line))
        }
        return Pipeline(code, log, outcomes, self.path)

    def jobs(self, variables: Mapping[str, str]) -> dict[str, str]:
        """The jobs a pipeline gets (`--list-json`, which lists `when: never` ones too) and each
        one's `when`; runs nothing."""
        code, out = _run(
            [*self.runner, *self.flags(variables), "--list-json"], self.path, self.environment()
        )
        assert code == 0, out
        # The JSON array starts on a line of its own, after any notes of the runner's.
        listed: list[dict[str, Any]] = json.loads(out[out.index("\n[\n") :])
        return {job["name"]: job["when"] for job in listed if job["when"] != "never"}


def _git(path: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=path,
        check=True,
        capture_output=True,
        timeout=60,
    )


def make_project(root: Path, runner: list[str], accounts: Sequence[str]) -> Project:
    """The user's repository: .gitlab-ci.yml, the template, accounts.toml, committed."""
    path, home = root / "project", root / "home"
    (path / "ci").mkdir(parents=True)
    (home / ".gitlab-ci-local").mkdir(parents=True)
    (path / ".gitlab-ci.yml").write_text(USER_PIPELINE, encoding="utf-8")
    shutil.copyfile(TEMPLATE, path / "ci" / "delete-images.gitlab-ci.yml")
    listed = "".join(f'\n[[accounts]]\nid = "{a}"\n' for a in accounts)
    (path / "accounts.toml").write_text(
        ACCOUNTS.format(role=ROLE, accounts=listed), encoding="utf-8"
    )
    (home / ".gitlab-ci-local" / "variables.yml").write_text(SCOPED_VARIABLES, encoding="utf-8")
    _git(path, "init", "-q", "-b", "main")
    _git(path, "config", "user.name", "ci")  # gitlab-ci-local reads them too
    _git(path, "config", "user.email", "ci@example.com")
    _git(path, "remote", "add", "origin", "git@gitlab.example.com:platform/images.git")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "sweep ECR images")
    # As a clone has them: gitlab-ci-local reads the default branch from origin/HEAD.
    _git(path, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(path, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    return Project(path, home, runner)


@pytest.fixture
def project(tmp_path: Path, gitlab_ci_local: list[str]) -> Project:
    return make_project(tmp_path, gitlab_ci_local, [REGISTRY, APP])


SCHEDULE = {
    "CI_PIPELINE_SOURCE": "schedule",
    "ECR_SWEEPER_ENABLED": "true",  # set on the sweep's schedule
    "ECR_SWEEPER_ID_TOKEN": ID_TOKEN,
}
USER_JOBS = {"build": "PASS", "unit": "PASS"}


def planned(pipeline: Pipeline, job: str = PLAN) -> set[tuple[str, str, str, str]]:
    doc = json.loads(pipeline.artifact(job, "ecr-sweeper-plan.json").read_text(encoding="utf-8"))
    return {
        (e["account_id"], e["region"], e["repository"], e["image_digest"]) for e in doc["deletions"]
    }


def web_identities(endpoint: str) -> set[tuple[str, str]]:
    """(role ARN, session name) of the CI roles the jobs assumed with their ID token, from
    moto's own record of every AssumeRole* call (its `/moto-api/data.json`)."""
    if not endpoint.startswith("http://127.0.0.1:"):
        raise ValueError(f"not moto's loopback server: {endpoint}")
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=60) as response:  # noqa: S310
        data = json.load(response)
    return {
        (role["role_arn"], role["session_name"])
        for role in data["sts"]["AssumedRole"]
        if role["session_name"].startswith("gitlab-")  # the template's session names
    }


def show(pipeline: Pipeline) -> str:
    """What the assertion messages print: the runner's whole log."""
    return f"exit {pipeline.returncode}\n{pipeline.log}"


# --------------------------------------------------------------------------- pipelines


def test_including_the_template_adds_jobs_only_where_the_user_opted_in(project: Project) -> None:
    user_jobs = {"build": "on_success", "unit": "on_success"}
    # Included but not turned on: a scheduled pipeline is the user's own.
    off = {"CI_PIPELINE_SOURCE": "schedule"}
    assert project.jobs(off) == user_jobs
    # Turned on: plan, and apply behind a manual button; the same from the "Run pipeline" form.
    assert project.jobs(SCHEDULE) == {**user_jobs, PLAN: "on_success", APPLY: "manual"}
    by_hand = {**SCHEDULE, "CI_PIPELINE_SOURCE": "web"}
    assert project.jobs(by_hand) == {**user_jobs, PLAN: "on_success", APPLY: "manual"}
    # Never on push, even turned on.
    assert project.jobs({**SCHEDULE, "CI_PIPELINE_SOURCE": "push"}) == user_jobs


@pytest.mark.timeout(3 * PIPELINE_TIMEOUT)
def test_scheduled_plan_then_apply_manual_and_auto(project: Project, aws: str) -> None:
    org = seed_org()

    # A schedule, apply left manual and nobody presses play: a plan, nothing deleted.
    first = project.run(SCHEDULE)
    assert first.returncode == 0, show(first)
    assert first.outcomes == {**USER_JOBS, PLAN: "PASS"}, show(first)
    assert planned(first) == org.unused
    report = first.job_log(PLAN)
    assert "# ecr-sweeper plan" in report  # the report, in the log
    assert "/artifacts/file/ecr-sweeper-report.md" in report  # and its link
    assert "ecr-sweeper: deletions planned" in report
    assert first.artifact(PLAN, "ecr-sweeper-report.md").exists()
    assert present(org.unused) == org.unused
    # The plan role, by its environment-scoped ARN, through the ID token (the static keys in
    # the environment were removed: moto would have taken them as well); no apply role yet.
    sessions = web_identities(aws)
    assert sessions, "no AssumeRoleWithWebIdentity with the template's session name"
    for arn, session in sessions:
        assert arn == PLAN_ROLE, sessions
        assert re.fullmatch(r"gitlab-\d+-\d+", session), sessions

    # Someone plays the manual apply: the plan's artifacts and dotenv reach it.
    played = project.run(SCHEDULE, manual=[APPLY])
    assert played.returncode == 0, show(played)
    assert played.outcomes == {**USER_JOBS, PLAN: "PASS", APPLY: "PASS"}, show(played)
    assert present(org.unused) == set()
    assert present(org.used) == org.used
    assert played.artifact(APPLY, "ecr-sweeper-plan.json.journal").exists()
    assert {arn for arn, _ in web_identities(aws)} == {PLAN_ROLE, APPLY_ROLE}

    # The next schedule, apply automatic: nothing left to delete, and apply says so.
    again = project.run({**SCHEDULE, "ECR_SWEEPER_APPLY": "auto"})
    assert again.returncode == 0, show(again)
    assert again.outcomes == {**USER_JOBS, PLAN: "PASS", APPLY: "PASS"}, show(again)
    assert "ecr-sweeper: nothing to delete" in again.job_log(PLAN)
    assert "nothing to apply" in again.job_log(APPLY)
    assert present(org.used) == org.used


@pytest.mark.timeout(PIPELINE_TIMEOUT + 60)
def test_scheduled_plan_then_automatic_apply(project: Project) -> None:
    org = seed_org()
    pipeline = project.run({**SCHEDULE, "ECR_SWEEPER_APPLY": "auto"})
    assert pipeline.returncode == 0, show(pipeline)
    assert pipeline.outcomes == {**USER_JOBS, PLAN: "PASS", APPLY: "PASS"}, show(pipeline)
    assert planned(pipeline) == org.unused
    assert present(org.unused) == set()
    assert present(org.used) == org.used


def _four_accounts(tmp_path: Path, runner: list[str]) -> Project:
    # `--shard I/4` scans every 4th account by id: one account each.
    return make_project(tmp_path, runner, [REGISTRY, APP, "333333333333", "444444444444"])


SHARDS = [f"{SHARD}: [{i}/4]" for i in (1, 2, 3, 4)]


@pytest.mark.timeout(PIPELINE_TIMEOUT + 60)
def test_sharded_plan_merge_apply(tmp_path: Path, gitlab_ci_local: list[str]) -> None:
    org = seed_org()
    project = _four_accounts(tmp_path, gitlab_ci_local)
    variables = {**SCHEDULE, "ECR_SWEEPER_SHARDS": "4", "ECR_SWEEPER_APPLY": "auto"}
    pipeline = project.run(variables)
    assert pipeline.returncode == 0, show(pipeline)
    assert pipeline.outcomes == {
        **USER_JOBS,
        **dict.fromkeys(SHARDS, "PASS"),
        MERGE: "PASS",
        APPLY: "PASS",
    }, show(pipeline)
    assert planned(pipeline, MERGE) == org.unused
    assert present(org.unused) == set()
    assert present(org.used) == org.used


@pytest.mark.timeout(PIPELINE_TIMEOUT + 60)
def test_a_blocked_plan_fails_the_pipeline_and_deletes_nothing(project: Project) -> None:
    org = seed_org()
    service(APP, US, "broken", {"broken": "Not A Valid Image!"})
    pipeline = project.run({**SCHEDULE, "ECR_SWEEPER_APPLY": "auto"})
    assert pipeline.returncode != 0, show(pipeline)
    # The apply job never starts: its plan failed.
    assert pipeline.outcomes == {**USER_JOBS, PLAN: "FAIL"}, show(pipeline)
    log = pipeline.job_log(PLAN)
    assert "BLOCKED" in log
    assert "ecr-sweeper: plan failed with exit code 3" in log
    assert planned(pipeline) == set()  # the artifact is kept, and deletes nothing
    assert present(org.unused) == org.unused


@pytest.mark.timeout(PIPELINE_TIMEOUT + 60)
def test_a_failing_shard_fails_its_job_and_nothing_is_merged(
    tmp_path: Path, gitlab_ci_local: list[str]
) -> None:
    org = seed_org()
    service(APP, US, "broken", {"broken": "Not A Valid Image!"})  # APP is shard 2's account
    project = _four_accounts(tmp_path, gitlab_ci_local)
    pipeline = project.run({**SCHEDULE, "ECR_SWEEPER_SHARDS": "4", "ECR_SWEEPER_APPLY": "auto"})
    assert pipeline.returncode != 0, show(pipeline)
    assert pipeline.outcomes == {
        **USER_JOBS,
        **dict.fromkeys(SHARDS, "PASS"),
        SHARDS[1]: "FAIL",
    }, show(pipeline)
    assert "error: shard 2/4" in pipeline.job_log(SHARDS[1])
    assert present(org.unused) == org.unused
