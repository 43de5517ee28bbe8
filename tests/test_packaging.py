"""How ecr-sweeper is installed (issue 14 §1): the Dockerfile, its pinned dependencies, the
project pipeline that builds and pushes the image on tags, and no default install source the
project does not control. No Docker engine runs here: the files are parsed and checked."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

from ecr_sweeper import __version__

ROOT = Path(__file__).parent.parent
NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    out = {}
    for raw in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"not an exact pin: {line}"
        assert re.fullmatch(r"[\w.]+", version), f"not an exact pin: {line}"
        out[normalized(name)] = version
    return out


def test_constraints_pin_every_runtime_dependency_exactly() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = pins()
    for requirement in project["dependencies"]:
        match = NAME.match(requirement)
        assert match, requirement
        assert normalized(match.group(1)) in pinned, f"{requirement} is not in constraints.txt"
    assert "aiobotocore" in pinned
    assert "aioboto3" not in pinned  # gone: aiobotocore is the direct dependency
    assert "botocore" in pinned  # transitive ones are pinned too
    assert "ecr-sweeper" not in pinned
    # Nothing of the test or demo extras in the image.
    for extra in ("moto", "boto3", "pytest", "hypothesis", "mypy"):
        assert extra not in pinned, extra


def dockerfile() -> list[str]:
    """Instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def test_dockerfile_slim_base_pinned_dependencies_non_root_entrypoint() -> None:
    lines = dockerfile()
    base = next(line for line in lines if line.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.1[1-9]-slim(-\w+)?", base), base
    stages = [line for line in lines if line.startswith("FROM ")]
    assert all(line.startswith("FROM ${PYTHON_IMAGE}") for line in stages), stages
    install = next(line for line in lines if "pip install" in line)
    assert "--constraint constraints.txt" in install
    assert "COPY pyproject.toml README.md constraints.txt ./" in lines
    # The last stage runs as a numeric, non-root user (Kubernetes runAsNonRoot can check it).
    final = lines[lines.index(stages[-1]) :]
    user = [line for line in final if line.startswith("USER ")]
    assert user, "no USER in the final stage"
    uid = user[-1].split()[1].split(":")[0]
    assert uid.isdigit(), user
    assert int(uid) != 0, user
    assert 'ENTRYPOINT ["ecr-sweeper"]' in final
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".git" in ignored
    assert ".venv" in ignored


def project_pipeline() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_project_pipeline_builds_and_pushes_the_image_on_version_tags_only() -> None:
    cfg = project_pipeline()
    job = cfg["image"]
    assert job["stage"] in cfg["stages"]
    [rule] = job["rules"]
    tag_rule = re.fullmatch(r"\$CI_COMMIT_TAG =~ /(.*)/", rule["if"])
    assert tag_rule, rule
    pattern = tag_rule.group(1).replace("\\.", r"\.")
    assert re.fullmatch(pattern, f"v{__version__}")
    assert not re.fullmatch(pattern, "main")
    script = "\n".join(job["script"])
    assert 'docker build --pull --tag "$CI_REGISTRY_IMAGE:$CI_COMMIT_TAG" .' in script
    assert 'docker push "$CI_REGISTRY_IMAGE:$CI_COMMIT_TAG"' in script
    assert "--password-stdin" in script  # the job token never on a command line
    assert any("dind" in str(s) for s in job["services"])
    assert cfg["test"]["script"] == [
        "python3 -m venv .venv && .venv/bin/python -m pip install -q nox && .venv/bin/nox"
    ]
    # The template's pipeline tests run there: gitlab-ci-local needs npm, rsync and git,
    # which the Python image lacks.
    assert cfg["test"]["variables"]["ECR_SWEEPER_REQUIRE_GITLAB_CI_LOCAL"] == "1"
    [install] = cfg["test"]["before_script"]
    assert {"nodejs", "npm", "rsync", "git"} <= set(install.split())
    assert cfg["wheel"]["artifacts"]["paths"] == ["dist/*.whl"]


def test_the_template_runs_in_the_image_the_project_pushes() -> None:
    template = yaml.safe_load(
        (ROOT / "templates" / "gitlab" / "delete-images.gitlab-ci.yml").read_text()
    )
    variables = {
        k: v["value"] if isinstance(v, dict) else v for k, v in template["variables"].items()
    }
    image = variables["ECR_SWEEPER_IMAGE"]
    # $CI_REGISTRY_IMAGE of the ecr-sweeper project is ${CI_REGISTRY}/<its path>, tagged with
    # the release tag the project's pipeline builds on: the tag this file is released with,
    # so the `ref:` a user includes names the image too.
    assert image == f"${{CI_REGISTRY}}/${{ECR_SWEEPER_PROJECT}}:v{__version__}"


def test_no_install_from_a_source_the_project_does_not_control() -> None:
    for path in (ROOT / "README.md", ROOT / "docs" / "gitlab.md"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"pip install (-\S+ )*ecr-sweeper\b(?!\[)", text), path
        assert "ecr-sweeper==" not in text, path
    template = (ROOT / "templates" / "gitlab" / "delete-images.gitlab-ci.yml").read_text()
    assert "ecr-sweeper==" not in template
