"""Developer workflows: `nox -s lint typing tests`, `nox -s demo`, `nox -s bench`, `nox -s iam`."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typing", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "src", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "noxfile.py")


@nox.session
def typing(session: nox.Session) -> None:
    """mypy --strict over the package and its tests."""
    session.install("-e", ".[typing]")
    session.run("mypy")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite: unit, property and HTTP tests against moto's server and the emulator,
    and the GitLab template run by gitlab-ci-local (installed first: npm ci, and rsync)."""
    session.install("-e", ".[test]")
    session.run("python", "tests/gitlab/provision.py")
    session.run("pytest", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Plan and apply a sweep on an embedded moto server seeded with a small organization."""
    session.install(".[demo]")
    session.run("ecr-sweeper", "demo", *session.posargs)


@nox.session
def iam(session: nox.Session) -> None:
    """Regenerate docs/iam.md's policies (and the README's) from the registry of consumer kinds
    and tools/iam.py's fixed actions; fails naming any action the code calls that they lack."""
    session.install("-e", ".")
    session.run("python", "tools/iam.py", "--write")


@nox.session
def bench(session: nox.Session) -> None:
    """Sweep three generated scenarios on the awsim emulator (separate process, quotas and
    latency on), each with the tool's default sources: `environment` (1 account x 1 region
    swept, 300 services, 5,000 images, usage read in every region the account has enabled:
    34, mostly empty; wall against the lower bound), `org` (30 x 3 x 40, 50,000 images: wall
    against the bound and the bare-HTTP floor, speedup over the full sequential sweep) and
    `memory` (the org's shape at 1,000,000 and 5,000,000 images: peak RSS of plan and of apply
    from its file, each in its own process; `--no-5m` skips the larger on small machines).
    Last line: env_ratio_to_bound, org_ratio_to_floor, speedup_vs_sequential,
    cpu_ms_per_call, peak_rss_mb, rss_mb_1m, rss_mb_5m, seconds_per_100k_5m. Exit status 1 if
    a plan differs from the unthrottled plan or a sweep had errors. Flags: `nox -s bench --
    --scenario environment`, `--sequential-accounts 3`, `--no-5m` (see `--help`)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "awsim.bench", *session.posargs, env={"PYTHONPATH": "tests"})
