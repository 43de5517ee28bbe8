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
    """The test suite: unit, property and HTTP tests against moto's server and the emulator."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Plan and apply a sweep on an embedded moto server seeded with a small organization."""
    session.install(".[demo]")
    session.run("ecr-sweeper", "demo", *session.posargs)


@nox.session
def iam(session: nox.Session) -> None:
    """Regenerate docs/iam.md's policies (and the README's) from ecr_sweeper/aws/iam.py's list
    of IAM actions; fails naming any action the code calls that the list lacks."""
    session.install("-e", ".")
    session.run("python", "-m", "ecr_sweeper.aws.iam", "--write")


@nox.session
def bench(session: nox.Session) -> None:
    """Sweep a generated org on the awsim emulator (separate process, quotas and latency on):
    wall time against the lower bound, speedup over one-call-at-a-time, CPU per call, peak RSS.
    Sizes are flags: `nox -s bench -- --accounts 10 --images 20000` (see `--help`)."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "awsim.bench", *session.posargs, env={"PYTHONPATH": "tests"})
