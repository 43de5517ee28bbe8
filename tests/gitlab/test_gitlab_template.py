"""The GitLab CI template (templates/gitlab/delete-images.gitlab-ci.yml).

Structure: parsed with yaml.safe_load, `extends:` resolved the way GitLab does (hashes merge,
everything else is replaced), checked against the GitLab CI keywords, and its `rules:` evaluated
for each kind of pipeline. Behaviour: each job's shell (before_script + script) runs under bash
the way the runner runs it (`set -eo pipefail`), with fake `ecr-sweeper` and `python` on PATH
that record what they were given and exit with a chosen code.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecr_sweeper import __version__

TEMPLATE = Path(__file__).parents[2] / "templates" / "gitlab" / "delete-images.gitlab-ci.yml"
BASH = shutil.which("bash")

PLAN, SHARD, MERGE, APPLY = (
    "delete_images:plan",
    "delete_images:plan-shard",
    "delete_images:plan-merge",
    "delete_images:apply",
)
# GitLab's stages when a pipeline declares none (.pre and .post are always there).
DEFAULT_STAGES = ["build", "test", "deploy"]
PLAN_COMMAND = [
    "ecr-sweeper",
    "plan",
    "--config",
    "$ECR_SWEEPER_CONFIG",
    "--output",
    "ecr-sweeper-plan.json",
    "--markdown",
    "ecr-sweeper-report.md",
    "--detailed-exit-codes",
]
MERGE_COMMAND = [
    "ecr-sweeper",
    "plan",
    "--merge",
    "ecr-sweeper-shard-*.json",
    "--output",
    "ecr-sweeper-plan.json",
    "--markdown",
    "ecr-sweeper-report.md",
    "--detailed-exit-codes",
]
SHARD_COMMAND = [
    "ecr-sweeper",
    "plan",
    "--config",
    "$ECR_SWEEPER_CONFIG",
    "--shard",
    "${CI_NODE_INDEX}/${CI_NODE_TOTAL}",
    "--output",
    "ecr-sweeper-shard-${CI_NODE_INDEX}.json",
]

# GitLab CI keywords (https://docs.gitlab.com/ci/yaml/).
GLOBAL_KEYWORDS = {"default", "include", "stages", "variables", "workflow", "spec"}
JOB_KEYWORDS = {
    "after_script",
    "allow_failure",
    "artifacts",
    "before_script",
    "cache",
    "coverage",
    "dast_configuration",
    "dependencies",
    "environment",
    "extends",
    "hooks",
    "id_tokens",
    "identity",
    "image",
    "inherit",
    "interruptible",
    "manual_confirmation",
    "needs",
    "pages",
    "parallel",
    "release",
    "resource_group",
    "retry",
    "rules",
    "run",
    "script",
    "secrets",
    "services",
    "stage",
    "tags",
    "timeout",
    "trigger",
    "variables",
    "when",
}
RULE_KEYS = {
    "if",
    "changes",
    "exists",
    "when",
    "allow_failure",
    "variables",
    "needs",
    "interruptible",
}
RULE_WHEN = {"on_success", "on_failure", "always", "never", "manual", "delayed"}
ARTIFACT_KEYS = {
    "paths",
    "exclude",
    "expire_in",
    "expose_as",
    "name",
    "public",
    "access",
    "reports",
    "untracked",
    "when",
}
ENVIRONMENT_KEYS = {
    "name",
    "url",
    "on_stop",
    "action",
    "auto_stop_in",
    "kubernetes",
    "deployment_tier",
}
ENVIRONMENT_ACTIONS = {"start", "prepare", "stop", "verify", "access"}
NEEDS_KEYS = {"job", "artifacts", "optional", "project", "ref", "pipeline", "parallel"}
# The predefined variables the template may use (GitLab sets them in every job).
PREDEFINED = {
    "CI_PIPELINE_SOURCE",
    "CI_PROJECT_ID",
    "CI_JOB_ID",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "CI_REGISTRY",
    "CI_JOB_URL",
}
VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
STATIC_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


# --------------------------------------------------------------------------- reading


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """GitLab's `extends:` merge: hashes merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def resolved(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    job = dict(cfg[name])
    parents = job.pop("extends", [])
    result: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        result = merge(result, resolved(cfg, parent))
    return merge(result, job)


def job_names(cfg: Mapping[str, Any]) -> list[str]:
    return [k for k in cfg if k not in GLOBAL_KEYWORDS and not k.startswith(".")]


def flatten(steps: object) -> Iterator[str]:
    """Script lines; GitLab flattens nested arrays (what YAML anchors of step lists produce)."""
    if isinstance(steps, str):
        yield steps
    elif isinstance(steps, list):
        for step in steps:
            yield from flatten(step)
    else:
        assert steps is None, f"not a script: {steps!r}"


def shell(job: Mapping[str, Any]) -> str:
    return "\n".join([*flatten(job.get("before_script")), *flatten(job.get("script"))])


def command_line(job: Mapping[str, Any], prefix: str) -> list[str]:
    """The one script line that starts with `prefix`, split like the shell would."""
    lines = [
        line.strip()
        for step in flatten(job.get("script"))
        for line in step.splitlines()
        if line.strip().startswith(prefix)
    ]
    assert len(lines) == 1, lines
    return shlex.split(lines[0].removesuffix("|| code=$?"))


def top_variables(cfg: Mapping[str, Any]) -> dict[str, str]:
    """Declared variables and their default values."""
    out = {}
    for name, spec in cfg["variables"].items():
        out[name] = str(spec["value"] if isinstance(spec, Mapping) else spec)
    return out


# --------------------------------------------------------------------------- structure


def test_stages_and_jobs(config: dict[str, Any]) -> None:
    # No `stages:`: an included file's list would replace the user's default stages.
    assert "stages" not in config
    assert set(job_names(config)) == {PLAN, SHARD, MERGE, APPLY}
    for name in job_names(config):
        job = resolved(config, name)
        assert job["stage"] == "deploy", name  # a default stage; `needs:` orders the jobs
        assert list(flatten(job["script"])), name
        # The project's image, with a shell for the runner (its entrypoint is ecr-sweeper).
        assert job["image"] == {"name": "$ECR_SWEEPER_IMAGE", "entrypoint": [""]}
    # The plan jobs start at once, whatever the user's pipeline runs in earlier stages.
    assert resolved(config, PLAN)["needs"] == []
    assert resolved(config, SHARD)["needs"] == []
    # The plan jobs only prepare their own environment, which is not the apply job's: a
    # protected apply environment (who may delete) must not stop anyone from planning.
    for name in (PLAN, SHARD, MERGE):
        assert resolved(config, name)["environment"] == {
            "name": "$ECR_SWEEPER_PLAN_ENVIRONMENT",
            "action": "prepare",
        }
    # The apply job is the deployment, in the environment a user protects.
    assert resolved(config, APPLY)["environment"] == {"name": "$ECR_SWEEPER_ENVIRONMENT"}
    variables = top_variables(config)
    assert variables["ECR_SWEEPER_PLAN_ENVIRONMENT"] == "ecr-sweeper-plan"
    assert variables["ECR_SWEEPER_ENVIRONMENT"] == "ecr-sweeper"


def included(config: Mapping[str, Any], user: str) -> dict[str, Any]:
    """The pipeline GitLab builds from a user's file that includes the template: the user's
    keys merged over the included file's (hashes merge, anything else, `stages:` included,
    is replaced)."""
    own = yaml.safe_load(user)
    assert isinstance(own, dict)
    return merge(config, {k: v for k, v in own.items() if k != "include"})


def stage_errors(pipeline: Mapping[str, Any]) -> list[str]:
    """GitLab's "chosen stage does not exist" check, for every job of the merged pipeline."""
    stages = [".pre", *pipeline.get("stages", DEFAULT_STAGES), ".post"]
    return [
        f"{name}: chosen stage {resolved(pipeline, name).get('stage', 'test')} does not exist"
        for name in job_names(pipeline)
        if resolved(pipeline, name).get("stage", "test") not in stages
    ]


INCLUDE = """
include:
  - project: platform/ecr-sweeper
    ref: v0.1.0
    file: templates/gitlab/delete-images.gitlab-ci.yml
"""


@pytest.mark.parametrize(
    "user",
    [
        pytest.param(
            INCLUDE + "build:\n  stage: build\n  script: [make]\n"
            "unit:\n  script: [make test]\n",  # no stage: GitLab's `test`
            id="no-stages-line",
        ),
        pytest.param(
            INCLUDE + "stages: [build, test, deploy]\nbuild:\n  stage: build\n  script: [make]\n",
            id="own-stages-with-deploy",
        ),
        pytest.param(
            INCLUDE + "stages: [lint, build, deploy, verify]\n"
            "lint:\n  stage: lint\n  script: [make lint]\n"
            "verify:\n  stage: verify\n  script: [make verify]\n",
            id="own-stages-in-another-order",
        ),
    ],
)
def test_included_into_a_pipeline_every_job_has_its_stage(
    config: dict[str, Any], user: str
) -> None:
    pipeline = included(config, user)
    assert stage_errors(pipeline) == []
    # The user's own jobs keep theirs (the template replaced no `stages:`).
    assert {PLAN, SHARD, MERGE, APPLY} <= set(job_names(pipeline))


def test_own_stages_without_deploy_are_caught_as_gitlab_would(config: dict[str, Any]) -> None:
    pipeline = included(config, INCLUDE + "stages: [build, test]\n")
    assert stage_errors(pipeline) == [
        f"{name}: chosen stage deploy does not exist" for name in (PLAN, SHARD, MERGE, APPLY)
    ]


def test_a_manual_apply_does_not_block_the_pipeline(config: dict[str, Any]) -> None:
    manual = [r for r in resolved(config, APPLY)["rules"] if r.get("when") == "manual"]
    assert manual == [{"when": "manual", "allow_failure": True}]


def test_the_plan_age_is_a_template_variable_documented_next_to_the_schedule(
    config: dict[str, Any], tmp_path: Path
) -> None:
    assert top_variables(config)["ECR_SWEEPER_MAX_PLAN_AGE_HOURS"] == "72"
    run = run_job(
        config, APPLY, tmp_path, ECR_SWEEPER_PLAN_EXIT_CODE="5", ECR_SWEEPER_MAX_PLAN_AGE_HOURS="96"
    )
    assert run.code == 0, run.stderr
    assert run.args("ecr-sweeper")[3:5] == ["--max-plan-age-hours", "96"]
    docs = (TEMPLATE.parent.parent.parent / "docs" / "gitlab.md").read_text(encoding="utf-8")
    schedule = docs[docs.index("**Schedule**") :].split("\n6. ")[0]
    assert "ECR_SWEEPER_MAX_PLAN_AGE_HOURS" in schedule
    assert "Friday" in schedule


def test_the_documented_stages_line_is_the_one_tested(config: dict[str, Any]) -> None:
    docs = (TEMPLATE.parent.parent.parent / "docs" / "gitlab.md").read_text(encoding="utf-8")
    template = TEMPLATE.read_text(encoding="utf-8")
    line = "stages: [build, test, deploy]"
    assert line in docs
    assert line in template
    assert stage_errors(included(config, INCLUDE + line + "\n")) == []


def test_jobs_call_the_documented_commands(config: dict[str, Any]) -> None:
    plan, shard = resolved(config, PLAN), resolved(config, SHARD)
    merge_job, apply = resolved(config, MERGE), resolved(config, APPLY)
    assert command_line(plan, "ecr-sweeper plan") == PLAN_COMMAND
    assert command_line(merge_job, "ecr-sweeper plan") == MERGE_COMMAND
    assert command_line(shard, "ecr-sweeper plan") == SHARD_COMMAND
    assert command_line(apply, "ecr-sweeper apply") == [
        "ecr-sweeper",
        "apply",
        "ecr-sweeper-plan.json",
        "--yes",
        "--max-plan-age-hours",
        "$ECR_SWEEPER_MAX_PLAN_AGE_HOURS",
        "${ECR_SWEEPER_APPLY_TARGET_ROLE:+--role-name",
        "$ECR_SWEEPER_APPLY_TARGET_ROLE}",
    ]
    assert isinstance(shard["parallel"], int)
    assert 2 <= shard["parallel"] <= 200
    install = 'python -m pip install --quiet --disable-pip-version-check "$ECR_SWEEPER_PIP_SPEC"'
    for job in (plan, shard, merge_job, apply):
        assert install in shell(job)
    # Never a default install source the project does not control: the project's own image,
    # and pip only when asked to.
    variables = top_variables(config)
    assert variables["ECR_SWEEPER_PIP_SPEC"] == ""
    # One place for the version: the `ref:` a user includes. The file carries its own
    # release's image tag, so there is no second version knob to keep in step.
    assert (
        variables["ECR_SWEEPER_IMAGE"]
        == f"${{CI_REGISTRY}}/${{ECR_SWEEPER_PROJECT}}:v{__version__}"
    )
    assert not any("VERSION" in name for name in variables)


def test_aws_access_is_oidc_only(config: dict[str, Any]) -> None:
    roles = {
        PLAN: "$ECR_SWEEPER_PLAN_ROLE_ARN",
        SHARD: "$ECR_SWEEPER_PLAN_ROLE_ARN",
        APPLY: "$ECR_SWEEPER_APPLY_ROLE_ARN",
    }
    for name, role in roles.items():
        job = resolved(config, name)
        assert job["id_tokens"] == {"ECR_SWEEPER_ID_TOKEN": {"aud": "$ECR_SWEEPER_OIDC_AUDIENCE"}}
        text = shell(job)
        assert f'export AWS_ROLE_ARN="{role}"' in text
        for name_ in ("AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME"):
            assert f"export {name_}" in text or re.search(rf"export .*\b{name_}\b", text)
    # The merge job plans from files: no token, no role.
    merge_job = resolved(config, MERGE)
    assert "id_tokens" not in merge_job
    assert "AWS_ROLE_ARN" not in shell(merge_job)
    # Static keys are never declared, set or read; the one mention removes stray ones.
    assert not set(STATIC_KEYS) & set(config["variables"])
    for name in job_names(config):
        assert not set(STATIC_KEYS) & set(resolved(config, name).get("variables") or {})
    for line in TEMPLATE.read_text(encoding="utf-8").splitlines():
        if any(key in line for key in STATIC_KEYS):
            assert line.strip().startswith("unset "), line


def test_apply_needs_the_plan_artifacts(config: dict[str, Any]) -> None:
    needs = resolved(config, APPLY)["needs"]
    by_job = {n["job"]: n for n in needs}
    assert by_job[PLAN]["artifacts"] is True
    assert by_job[MERGE]["artifacts"] is True
    # Exactly one of them is in any pipeline (see the rules test), so both are optional.
    assert by_job[PLAN]["optional"] is True
    assert by_job[MERGE]["optional"] is True
    assert resolved(config, MERGE)["needs"] == [{"job": SHARD, "artifacts": True}]


def test_artifacts(config: dict[str, Any]) -> None:
    for name in (PLAN, MERGE):
        artifacts = resolved(config, name)["artifacts"]
        assert {"ecr-sweeper-plan.json", "ecr-sweeper-report.md"} <= set(artifacts["paths"])
        assert artifacts["reports"]["dotenv"] == "ecr-sweeper-plan.env"
        # Linked from a merge request's pipeline widget; GitLab takes no glob or variable in
        # the paths of an exposed artifact.
        assert artifacts["expose_as"] == "ecr-sweeper report"
        assert not any(re.search(r"[*?$\[]", path) for path in artifacts["paths"])
        # Kept for review even when the plan fails (a blocked plan says why).
        assert artifacts["when"] == "always"
        assert re.fullmatch(r"\d+ (days?|weeks?|months?)", artifacts["expire_in"])
    assert resolved(config, SHARD)["artifacts"]["paths"] == ["ecr-sweeper-shard-*.json"]
    assert "ecr-sweeper-plan.json.journal" in resolved(config, APPLY)["artifacts"]["paths"]


def test_artifact_and_dotenv_names_cannot_clash_with_other_jobs(config: dict[str, Any]) -> None:
    # plan.json, plan.env and PLAN_EXIT_CODE are common in Terraform jobs: in a user's pipeline
    # with both, one job's files or variables must not overwrite another's.
    for name in job_names(config):
        artifacts = resolved(config, name)["artifacts"]
        for path in [*artifacts["paths"], *artifacts.get("reports", {}).values()]:
            assert path.startswith("ecr-sweeper-"), (name, path)
        job = resolved(config, name)
        assert all(v.startswith("ECR_SWEEPER_") for v in dotenv_written(job)), name
        for file in re.findall(r"(?:--output|--markdown|>)\s+\"?([\w.${}-]+)", shell(job)):
            # The ID token goes to a private temporary file (mktemp), outside the project.
            if file != "$AWS_WEB_IDENTITY_TOKEN_FILE":
                assert file.startswith("ecr-sweeper-"), (name, file)


# The variables a person sets by hand when running a pipeline: only these carry a
# `description`, so only these show in GitLab's "Run pipeline" form.
FORM_VARIABLES = {"ECR_SWEEPER_ENABLED", "ECR_SWEEPER_APPLY"}


def test_only_the_variables_set_by_hand_show_in_the_run_pipeline_form(
    config: dict[str, Any],
) -> None:
    text = TEMPLATE.read_text(encoding="utf-8").splitlines()
    docs = (TEMPLATE.parent.parent.parent / "docs" / "gitlab.md").read_text(encoding="utf-8")
    with_description = set()
    for name, spec in config["variables"].items():
        assert name.startswith("ECR_SWEEPER_"), name
        if isinstance(spec, dict):
            assert set(spec) == {"description", "value"}, name
            assert isinstance(spec["description"], str), name
            assert len(spec["description"]) > 20, name
            assert isinstance(spec["value"], str), name
            with_description.add(name)
        else:
            assert isinstance(spec, str), name  # quoted: "1", not 1
            # Documented where it is declared: the line above is a comment.
            line = next(i for i, t in enumerate(text) if t.startswith(f"  {name}:"))
            assert text[line - 1].strip().startswith("#"), name
        # and in docs/gitlab.md's table of variables
        assert f"| `{name}` |" in docs, name
    assert with_description == FORM_VARIABLES
    # Off until a user opts in: including the file adds no job to anyone's pipeline.
    assert top_variables(config)["ECR_SWEEPER_ENABLED"] == "false"


def used_variables(value: object) -> set[str]:
    if isinstance(value, str):
        return set(VARIABLE.findall(value))
    if isinstance(value, Mapping):
        return set().union(*(used_variables(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(used_variables(v) for v in value))
    return set()


def shell_assigned(job: Mapping[str, Any]) -> set[str]:
    """Variables the job's own shell assigns (`NAME=...`, `export NAME=...`)."""
    return set(re.findall(r"(?:^|[\s;])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=", shell(job), re.M))


def dotenv_written(job: Mapping[str, Any]) -> set[str]:
    return set(re.findall(r'echo "([A-Z_]+)=[^"]*" > ecr-sweeper-plan\.env', shell(job)))


def test_every_variable_is_predefined_or_declared(config: dict[str, Any]) -> None:
    declared = set(config["variables"])
    assert used_variables(config["variables"]) <= declared | PREDEFINED
    for name in job_names(config):
        job = resolved(config, name)
        known = declared | PREDEFINED | set(job.get("variables") or {}) | shell_assigned(job)
        known |= set(job.get("id_tokens") or {})
        for need in job.get("needs") or []:
            known |= dotenv_written(resolved(config, need["job"]))
        unknown = used_variables(job) - known
        assert not unknown, f"{name} uses undeclared {sorted(unknown)}"
    # The apply job reads the plan's exit code from the dotenv artifact of whichever plan ran.
    apply = resolved(config, APPLY)
    assert "ECR_SWEEPER_PLAN_EXIT_CODE" in used_variables(apply)
    assert dotenv_written(resolved(config, PLAN)) == {"ECR_SWEEPER_PLAN_EXIT_CODE"}
    assert dotenv_written(resolved(config, MERGE)) == {"ECR_SWEEPER_PLAN_EXIT_CODE"}


def test_keywords_follow_the_gitlab_ci_schema(config: dict[str, Any]) -> None:
    for name, job in config.items():
        if name in GLOBAL_KEYWORDS:
            continue
        assert isinstance(job, (dict, list)), name
        if isinstance(job, list):  # a hidden key holding an anchored list of steps
            assert name.startswith("."), name
            assert all(isinstance(s, str) for s in flatten(job)), name
            continue
        assert len(name) <= 255
        assert set(job) <= JOB_KEYWORDS, f"{name}: unknown keys {set(job) - JOB_KEYWORDS}"
    for name in job_names(config):
        job = resolved(config, name)
        assert set(job) <= JOB_KEYWORDS, name
        for rule in job["rules"]:
            assert isinstance(rule, dict), f"{name}: a rule is a mapping"
            assert set(rule) <= RULE_KEYS, f"{name}: {rule}"
            assert rule.get("when", "on_success") in RULE_WHEN, f"{name}: {rule}"
            if "if" in rule:
                assert isinstance(rule["if"], str)
                evaluate(rule["if"], {})  # parses
        assert set(job["artifacts"]) <= ARTIFACT_KEYS, name
        assert set(job["artifacts"].get("reports", {})) <= {"dotenv", "junit"}, name
        assert set(job["environment"]) <= ENVIRONMENT_KEYS, name
        assert job["environment"].get("action", "start") in ENVIRONMENT_ACTIONS, name
        for need in job.get("needs", []):
            assert isinstance(need, dict), name
            assert set(need) <= NEEDS_KEYS, name
            assert need["job"] in job_names(config), name
        for token in (job.get("id_tokens") or {}).values():
            assert set(token) == {"aud"}, name
        for key in ("before_script", "script"):
            assert all(isinstance(s, str) for s in flatten(job.get(key))), name
        assert isinstance(job.get("interruptible", False), bool)


# --------------------------------------------------------------------------- rules


COMPARISON = re.compile(r'^\$(\w+)\s*(==|!=|=~|!~)\s*(?:"([^"]*)"|/(.*)/)$')


def evaluate(expression: str, env: Mapping[str, str]) -> bool:
    """GitLab's `rules:if` for what the template uses: `&&` binds tighter than `||`; a
    variable that is not set is null (never equal to a string, never matching)."""

    def compare(term: str) -> bool:
        match = COMPARISON.match(term.strip())
        assert match, f"unsupported rules:if term {term!r}"
        name, op, string, pattern = match.groups()
        value = env.get(name)
        if op in ("==", "!="):
            return (value == string) == (op == "==")
        found = value is not None and re.search(pattern, value) is not None
        return found == (op == "=~")

    return any(
        all(compare(term) for term in alternative.split(" && "))
        for alternative in expression.split(" || ")
    )


def pipeline(cfg: Mapping[str, Any], **overrides: str) -> dict[str, str]:
    """Which jobs a pipeline gets, and each one's `when` (GitLab: the first matching rule)."""
    env = top_variables(cfg) | overrides
    jobs = {}
    for name in job_names(cfg):
        for rule in resolved(cfg, name)["rules"]:
            if "if" not in rule or evaluate(rule["if"], env):
                if rule.get("when", "on_success") != "never":
                    jobs[name] = rule.get("when", "on_success")
                break
    return jobs


# Turned on, as on the sweep's schedule or in the "Run pipeline" form.
ON = {"ECR_SWEEPER_ENABLED": "true"}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        pytest.param(
            {**ON, "CI_PIPELINE_SOURCE": "schedule"},
            {PLAN: "on_success", APPLY: "manual"},
            id="schedule-default-is-manual-apply",
        ),
        pytest.param(
            {**ON, "CI_PIPELINE_SOURCE": "web", "ECR_SWEEPER_APPLY": "manual"},
            {PLAN: "on_success", APPLY: "manual"},
            id="web-manual",
        ),
        pytest.param(
            {**ON, "CI_PIPELINE_SOURCE": "api", "ECR_SWEEPER_APPLY": "auto"},
            {PLAN: "on_success", APPLY: "on_success"},
            id="api-auto",
        ),
        pytest.param(
            {**ON, "CI_PIPELINE_SOURCE": "schedule", "ECR_SWEEPER_APPLY": "Auto"},
            {PLAN: "on_success", APPLY: "manual"},
            id="a-misspelt-mode-stays-manual",
        ),
        pytest.param(
            {**ON, "CI_PIPELINE_SOURCE": "schedule", "ECR_SWEEPER_SHARDS": "4"},
            {SHARD: "on_success", MERGE: "on_success", APPLY: "manual"},
            id="sharded",
        ),
        pytest.param(
            {
                **ON,
                "CI_PIPELINE_SOURCE": "web",
                "ECR_SWEEPER_SHARDS": "12",
                "ECR_SWEEPER_APPLY": "auto",
            },
            {SHARD: "on_success", MERGE: "on_success", APPLY: "on_success"},
            id="sharded-auto",
        ),
        pytest.param(
            {**ON, "CI_PIPELINE_SOURCE": "schedule", "ECR_SWEEPER_SHARDS": "0"},
            {PLAN: "on_success", APPLY: "manual"},
            id="zero-shards-is-one-job",
        ),
        pytest.param({**ON, "CI_PIPELINE_SOURCE": "push"}, {}, id="push"),
        pytest.param({**ON, "CI_PIPELINE_SOURCE": "merge_request_event"}, {}, id="merge-request"),
        pytest.param(ON, {}, id="no-source"),
        pytest.param(
            {"CI_PIPELINE_SOURCE": "schedule", "ECR_SWEEPER_ENABLED": "false"}, {}, id="disabled"
        ),
        # Included and not turned on: no job in any pipeline.
        pytest.param({"CI_PIPELINE_SOURCE": "schedule"}, {}, id="off-by-default-schedule"),
        pytest.param({"CI_PIPELINE_SOURCE": "web"}, {}, id="off-by-default-web"),
        pytest.param({"CI_PIPELINE_SOURCE": "api"}, {}, id="off-by-default-api"),
        pytest.param(
            {"CI_PIPELINE_SOURCE": "schedule", "ECR_SWEEPER_ENABLED": "True"}, {}, id="only-true"
        ),
    ],
)
def test_rules(config: dict[str, Any], variables: dict[str, str], expected: dict[str, str]) -> None:
    jobs = pipeline(config, **variables)
    assert jobs == expected
    # The DAG holds: every need is in the pipeline or optional, and the apply job always has a
    # plan to apply.
    for name in jobs:
        job = resolved(config, name)
        for need in job.get("needs", []):
            assert need["job"] in jobs or need.get("optional"), (name, need)
    if APPLY in jobs:
        assert (PLAN in jobs) != (MERGE in jobs)


# --------------------------------------------------------------------------- behaviour

FAKE_TOOL = """#!/bin/sh
# Records its arguments and environment; exits with $FAKE_EXIT.
name=$(basename "$0")
printf '%s\\n' "$@" > "$FAKE_LOG/$name.args"
env > "$FAKE_LOG/$name.env"
if [ -n "${AWS_WEB_IDENTITY_TOKEN_FILE:-}" ]; then
  cat "$AWS_WEB_IDENTITY_TOKEN_FILE" > "$FAKE_LOG/$name.token"
fi
[ "$name" = python ] && exit 0
exit "${FAKE_EXIT:-0}"
"""
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcm9qZWN0X3BhdGg6Z3JvdXAvcHJvamVjdCJ9.c2lnbmF0dXJl"


def expand(value: str, env: Mapping[str, str]) -> str:
    """GitLab expands `$NAME` / `${NAME}` in variable values before the job starts."""
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: env.get(m.group(1), ""), value)


class Run:
    def __init__(self, result: subprocess.CompletedProcess[str], log: Path, work: Path) -> None:
        self.code = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.log = log
        self.work = work

    def called(self, tool: str) -> bool:
        return (self.log / f"{tool}.args").exists()

    def args(self, tool: str) -> list[str]:
        return (self.log / f"{tool}.args").read_text().splitlines()

    def env(self, tool: str) -> dict[str, str]:
        lines = (self.log / f"{tool}.env").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)


def run_job(
    cfg: Mapping[str, Any],
    name: str,
    tmp_path: Path,
    *,
    exit_code: int = 0,
    **variables: str,
) -> Run:
    """Run the job's shell under bash as GitLab's runner would, with fake tools on PATH."""
    assert BASH is not None
    job = resolved(cfg, name)
    bin_dir, log, work = tmp_path / "bin", tmp_path / "log", tmp_path / "work"
    for d in (bin_dir, log, work):
        d.mkdir(exist_ok=True)
    for tool in ("ecr-sweeper", "python"):
        path = bin_dir / tool
        path.write_text(FAKE_TOOL)
        path.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",
        "FAKE_LOG": str(log),
        "FAKE_EXIT": str(exit_code),
        "CI_PIPELINE_SOURCE": "schedule",
        "CI_PROJECT_ID": "4242",
        "CI_JOB_ID": "987654",
        "CI_JOB_URL": "https://gitlab.example.com/group/project/-/jobs/987654",
        "ECR_SWEEPER_PLAN_ROLE_ARN": "arn:aws:iam::111111111111:role/GitLabEcrSweeperPlan",
        "ECR_SWEEPER_APPLY_ROLE_ARN": "arn:aws:iam::111111111111:role/GitLabEcrSweeperApply",
    }
    for key, value in top_variables(cfg).items():
        env.setdefault(key, value)
    env.update(variables)
    for key in list(env):
        env[key] = expand(env[key], env)
    if "id_tokens" in job:
        env["ECR_SWEEPER_ID_TOKEN"] = TOKEN
    result = subprocess.run(
        [BASH, "-e", "-o", "pipefail", "-c", shell(job)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return Run(result, log, work)


# Stray static keys (a project-wide variable, say) must not win over the web identity.
STRAY = {
    "AWS_ACCESS_KEY_ID": "AKIASTRAYSTRAYSTRAY1",
    "AWS_SECRET_ACCESS_KEY": "straySECRETstray",
    "AWS_SESSION_TOKEN": "straytoken",
    "AWS_PROFILE": "stray",
}


@pytest.mark.parametrize(
    ("plan_code", "job_code"),
    [(0, 0), (5, 0), (1, 1), (3, 3), (4, 4), (2, 2)],
)
def test_plan_job_maps_0_and_5_to_success_and_propagates_the_rest(
    config: dict[str, Any], tmp_path: Path, plan_code: int, job_code: int
) -> None:
    run = run_job(config, PLAN, tmp_path, exit_code=plan_code, **STRAY)
    assert run.code == job_code, run.stderr
    assert (run.work / "ecr-sweeper-plan.env").read_text() == (
        f"ECR_SWEEPER_PLAN_EXIT_CODE={plan_code}\n"
    )
    assert run.args("ecr-sweeper") == [
        "plan",
        "--config",
        "accounts.toml",
        "--output",
        "ecr-sweeper-plan.json",
        "--markdown",
        "ecr-sweeper-report.md",
        "--detailed-exit-codes",
    ]
    assert not run.called("python")  # the image has ecr-sweeper: nothing installed
    if job_code:
        assert f"exit code {plan_code}" in run.stderr
    # The OIDC glue: botocore's web-identity settings, the token in a private file, no keys.
    seen = run.env("ecr-sweeper")
    assert seen["AWS_ROLE_ARN"] == "arn:aws:iam::111111111111:role/GitLabEcrSweeperPlan"
    assert seen["AWS_ROLE_SESSION_NAME"] == "gitlab-4242-987654"
    assert seen["AWS_DEFAULT_REGION"] == "us-east-1"
    assert (run.log / "ecr-sweeper.token").read_text() == TOKEN
    token_file = Path(seen["AWS_WEB_IDENTITY_TOKEN_FILE"])
    assert token_file.stat().st_mode & 0o077 == 0
    assert not set(STRAY) & set(seen)
    assert TOKEN not in run.stdout + run.stderr


@pytest.mark.parametrize(("plan_code", "job_code"), [(5, 0), (3, 3)])
def test_the_plan_job_prints_the_report_and_links_it(
    config: dict[str, Any], tmp_path: Path, plan_code: int, job_code: int
) -> None:
    # GitLab has no job summary: the report is in the log (cut at 200 lines) and linked.
    work = tmp_path / "work"
    work.mkdir()
    lines = [f"| 111111111111 | us-east-1 | `repo-{i}` |" for i in range(250)]
    (work / "ecr-sweeper-report.md").write_text("# ecr-sweeper plan\n" + "\n".join(lines) + "\n")
    run = run_job(config, PLAN, tmp_path, exit_code=plan_code)
    assert run.code == job_code
    assert "# ecr-sweeper plan" in run.stdout
    assert "`repo-198`" in run.stdout
    assert "`repo-199`" not in run.stdout
    assert "[... 51 more lines in the artifact]" in run.stdout
    link = "https://gitlab.example.com/group/project/-/jobs/987654/artifacts/file/ecr-sweeper-report.md"
    assert link in run.stdout


def test_no_report_no_report_section(config: dict[str, Any], tmp_path: Path) -> None:
    run = run_job(config, PLAN, tmp_path, exit_code=1)
    assert run.code == 1
    assert "ecr-sweeper-report.md" not in run.stdout


def test_the_pip_route_installs_what_it_is_given(config: dict[str, Any], tmp_path: Path) -> None:
    spec = "git+https://gitlab.example.com/platform/ecr-sweeper.git@v0.1.0"
    run = run_job(config, PLAN, tmp_path, ECR_SWEEPER_PIP_SPEC=spec)
    assert run.code == 0, run.stderr
    assert run.args("python") == [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        spec,
    ]


def test_plan_job_without_a_role_fails_before_planning(
    config: dict[str, Any], tmp_path: Path
) -> None:
    run = run_job(config, PLAN, tmp_path, ECR_SWEEPER_PLAN_ROLE_ARN="")
    assert run.code != 0
    assert "ECR_SWEEPER_PLAN_ROLE_ARN" in run.stderr
    assert not run.called("ecr-sweeper")


@pytest.mark.parametrize(("plan_code", "job_code"), [(0, 0), (5, 0), (3, 3), (4, 4), (1, 1)])
def test_merge_job_maps_exit_codes_the_same_way(
    config: dict[str, Any], tmp_path: Path, plan_code: int, job_code: int
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for i in (1, 2, 3):
        (work / f"ecr-sweeper-shard-{i}.json").write_text("{}")
    run = run_job(config, MERGE, tmp_path, exit_code=plan_code, **STRAY)
    assert run.code == job_code, run.stderr
    assert (run.work / "ecr-sweeper-plan.env").read_text() == (
        f"ECR_SWEEPER_PLAN_EXIT_CODE={plan_code}\n"
    )
    assert run.args("ecr-sweeper") == [
        "plan",
        "--merge",
        "ecr-sweeper-shard-1.json",
        "ecr-sweeper-shard-2.json",
        "ecr-sweeper-shard-3.json",
        "--output",
        "ecr-sweeper-plan.json",
        "--markdown",
        "ecr-sweeper-report.md",
        "--detailed-exit-codes",
    ]
    assert "AWS_ROLE_ARN" not in run.env("ecr-sweeper")


def test_shard_job_plans_its_share(config: dict[str, Any], tmp_path: Path) -> None:
    run = run_job(
        config,
        SHARD,
        tmp_path,
        ECR_SWEEPER_SHARDS="4",
        CI_NODE_INDEX="2",
        CI_NODE_TOTAL="4",
    )
    assert run.code == 0, run.stderr
    assert run.args("ecr-sweeper") == [
        "plan",
        "--config",
        "accounts.toml",
        "--shard",
        "2/4",
        "--output",
        "ecr-sweeper-shard-2.json",
    ]
    assert run.env("ecr-sweeper")["AWS_ROLE_ARN"].endswith(":role/GitLabEcrSweeperPlan")


@pytest.mark.parametrize("code", [1, 3, 4])
def test_a_failed_shard_fails_its_job(config: dict[str, Any], tmp_path: Path, code: int) -> None:
    run = run_job(
        config,
        SHARD,
        tmp_path,
        exit_code=code,
        ECR_SWEEPER_SHARDS="2",
        CI_NODE_INDEX="1",
        CI_NODE_TOTAL="2",
    )
    assert run.code == code


def test_shard_count_must_match_parallel(config: dict[str, Any], tmp_path: Path) -> None:
    run = run_job(
        config,
        SHARD,
        tmp_path,
        ECR_SWEEPER_SHARDS="8",
        CI_NODE_INDEX="1",
        CI_NODE_TOTAL="4",
    )
    assert run.code == 1
    assert "parallel: 8" in run.stderr
    assert not run.called("ecr-sweeper")


def test_apply_job_can_assume_a_separate_delete_role_in_the_targets(
    config: dict[str, Any], tmp_path: Path
) -> None:
    run = run_job(
        config,
        APPLY,
        tmp_path,
        ECR_SWEEPER_PLAN_EXIT_CODE="5",
        ECR_SWEEPER_APPLY_TARGET_ROLE="EcrSweeperDelete",
    )
    assert run.code == 0, run.stderr
    assert run.args("ecr-sweeper") == [
        "apply",
        "ecr-sweeper-plan.json",
        "--yes",
        "--max-plan-age-hours",
        "72",
        "--role-name",
        "EcrSweeperDelete",
    ]


@pytest.mark.parametrize("plan_code", ["0", "", "garbage"])
def test_apply_job_does_nothing_when_nothing_was_planned(
    config: dict[str, Any], tmp_path: Path, plan_code: str
) -> None:
    # Before the apply role is even assumed: a scheduled run with nothing to delete passes.
    run = run_job(
        config, APPLY, tmp_path, ECR_SWEEPER_PLAN_EXIT_CODE=plan_code, ECR_SWEEPER_APPLY_ROLE_ARN=""
    )
    assert run.code == 0, run.stderr
    assert not run.called("ecr-sweeper")
    assert not run.called("python")
    assert "nothing to apply" in run.stdout


@pytest.mark.parametrize("apply_code", [0, 1, 3, 4])
def test_apply_job_applies_the_plan_with_the_apply_role(
    config: dict[str, Any], tmp_path: Path, apply_code: int
) -> None:
    run = run_job(
        config, APPLY, tmp_path, exit_code=apply_code, ECR_SWEEPER_PLAN_EXIT_CODE="5", **STRAY
    )
    assert run.code == apply_code
    assert run.args("ecr-sweeper") == [
        "apply",
        "ecr-sweeper-plan.json",
        "--yes",
        "--max-plan-age-hours",
        "72",
    ]
    seen = run.env("ecr-sweeper")
    assert seen["AWS_ROLE_ARN"] == "arn:aws:iam::111111111111:role/GitLabEcrSweeperApply"
    assert (run.log / "ecr-sweeper.token").read_text() == TOKEN
    assert not set(STRAY) & set(seen)
