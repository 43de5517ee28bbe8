"""Run the emulator in a separate process (so a benchmark's client does not share its GIL).

with spawn_emulator(generate={"accounts": 30, "images_total": 50_000}, quotas="unlimited") as emu:
    os.environ["AWS_ENDPOINT_URL"] = emu.endpoint_url
    ...
    print(emu.stats()["total_calls"])
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .faults import Faults
from .scenario import Scenario
from .server import emulator_env

_TESTS_DIR = str(Path(__file__).resolve().parent.parent)


class RemoteEmulator:
    """Handle on an emulator process; inspection goes through the admin JSON API."""

    def __init__(self, proc: subprocess.Popen[str], endpoint_url: str) -> None:
        self.proc = proc
        self.endpoint_url = endpoint_url

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _get(self, path: str, **query: str) -> Any:
        url = f"{self.endpoint_url}/_awsim/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=60) as r:  # noqa: S310 - loopback http only
            return json.loads(r.read())

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        req = urllib.request.Request(  # noqa: S310 - loopback http only
            f"{self.endpoint_url}/_awsim/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=60) as r:  # noqa: S310 - loopback http only
            return json.loads(r.read())

    def env(self, region: str = "us-east-1") -> dict[str, str]:
        return emulator_env(self.endpoint_url, region)

    def stats(self) -> dict[str, Any]:
        return dict(self._get("stats"))

    def tags(self, account: str, region: str, repo: str) -> dict[str, list[str]]:
        return dict(self._get("images", account=account, region=region, repo=repo))

    def image_digests(self, account: str, region: str, repo: str) -> set[str]:
        return set(self.tags(account, region, repo))

    def deleted(self) -> list[tuple[str, str, str, str]]:
        return [(a, r, n, d) for a, r, n, d in self._get("deleted")]

    def set_faults(self, faults: Faults) -> None:
        from .server import faults_to_json

        self._post("faults", faults_to_json(faults))

    def reset_stats(self) -> None:
        self._post("reset", {})

    def set_quotas_enabled(self, enabled: bool) -> None:
        """Token buckets on (the emulator's quotas) or off; either way they start full."""
        self._post("quotas", {"enabled": enabled})

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


@contextmanager
def spawn_emulator(
    scenario: Scenario | None = None,
    *,
    generate: dict[str, Any] | None = None,
    faults: Faults | None = None,
    quotas: str = "default",
    port: int = 0,
    org_empty_page_every: int = 3,
    startup_timeout: float = 300.0,
) -> Iterator[RemoteEmulator]:
    """Start ``python -m awsim serve`` for ``scenario`` (pickled) or ``generate_org(**generate)``.

    ``quotas`` is ``"default"``, ``"unlimited"`` or ``"uniform:RATE,BURST"``.
    """
    from .server import faults_to_json

    if (scenario is None) == (generate is None):
        raise ValueError("pass exactly one of scenario / generate")
    tmp_name: str | None = None
    cmd = [
        sys.executable,
        "-m",
        "awsim",
        "serve",
        "--port",
        str(port),
        "--quotas",
        quotas,
        "--org-empty-page-every",
        str(org_empty_page_every),
        "--faults",
        json.dumps(faults_to_json(faults or Faults())),
    ]
    if scenario is not None:
        with tempfile.NamedTemporaryFile(suffix=".pkl", delete=False) as tmp:
            pickle.dump(scenario, tmp, protocol=pickle.HIGHEST_PROTOCOL)
            tmp_name = tmp.name
        cmd += ["--scenario-pickle", tmp_name]
    else:
        cmd += ["--generate", ",".join(f"{k}={v}" for k, v in (generate or {}).items())]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_TESTS_DIR, env.get("PYTHONPATH")]))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    emu: RemoteEmulator | None = None
    try:
        line: list[str] = []
        reader = threading.Thread(
            target=lambda: line.append(proc.stdout.readline() if proc.stdout else ""), daemon=True
        )
        reader.start()
        reader.join(startup_timeout)
        if not line or not line[0].startswith("AWSIM_READY "):
            raise RuntimeError(f"awsim did not start (rc={proc.poll()}, got {line!r})")
        emu = RemoteEmulator(proc, line[0].split()[1])
        yield emu
    finally:
        if emu is not None:
            emu.close()
        elif proc.poll() is None:
            proc.kill()
            proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()
        if tmp_name is not None:
            os.unlink(tmp_name)


_SRC_DIR = str(Path(_TESTS_DIR).parent / "src")


def run_child(
    emu: RemoteEmulator, spec: dict[str, Any], module: str = "awsim.bench"
) -> dict[str, Any]:
    """Run `module --child SPEC` against `emu` in a fresh process; its last stdout line (JSON)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(emu.env())
    env.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=os.pathsep.join(filter(None, [_TESTS_DIR, _SRC_DIR, env.get("PYTHONPATH")])),
    )
    proc = subprocess.run(
        [sys.executable, "-m", module, "--child", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{spec.get('command', 'sweep')} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result
