"""Reaching clusters: the EKS token (botocore's presigner, checked by the fake API server the
way STS checks it), its refresh, and kubeconfig auth (token, tokenFile, exec plugin, client
certificate over TLS) through `--kubeconfig` usage scans."""

from __future__ import annotations

import datetime as dt
import ssl
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from aiohttp import web

from awsim import Account, Emulator, Region, Scenario, run_emulator
from awsim import kube_objects as k
from awsim.kube import KubeCluster, list_path
from certificates import certificates
from conftest import use_only
from ecr_sweeper.aws.eks import EksAuth, eks_token
from ecr_sweeper.aws.session import Connections
from ecr_sweeper.kube.client import ClusterAccess, KubeClient, KubeError
from ecr_sweeper.kube.kubeconfig import KubeconfigError, StaticToken, load_kubeconfig
from ecr_sweeper.kube.reader import read_cluster
from ecr_sweeper.kube.usage import kubeconfig_usage
from ecr_sweeper.model import AccountId, AccountTarget, KubeconfigSource, Sources, UsageScan
from ecr_sweeper.model import Region as RegionName
from ecr_sweeper.retry import RetryPolicy

APP, EU = "222222222222", "eu-west-1"
ROLE_ARN = f"arn:aws:iam::{APP}:role/EcrSweeper"
IMAGE = f"111111111111.dkr.ecr.{EU}.amazonaws.com/payments/api:v1"
TARGET = AccountTarget(AccountId(APP), (RegionName(EU),), role_arn=ROLE_ARN)


@pytest.fixture
def emu(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    with run_emulator(Scenario((Account(APP, regions=(Region(EU),)),))) as emulator:
        use_only(monkeypatch, emulator.env(EU))
        yield emulator


def with_pod(name: str, **kw: Any) -> KubeCluster:
    cluster = KubeCluster(name, principals={ROLE_ARN}, **kw)
    cluster.add(k.pod("payments", "api-1", [("api", IMAGE)]))
    return cluster


def base(emu: Emulator, name: str) -> str:
    return f"{emu.endpoint_url}/_kube/{APP}/{EU}/{name}"


async def pods_with(access: ClusterAccess) -> list[dict[str, Any]]:
    async with KubeClient(access) as client:
        return await client.list_items(list_path("Pod"))


def test_token_is_signed_for_its_cluster_only(emu: Emulator) -> None:
    for name in ("a", "b"):
        emu.add_eks_cluster(APP, EU, with_pod(name))

    async def run() -> tuple[int, int | None]:
        async with Connections() as connections:
            sts = await connections.client(TARGET, RegionName(EU), "sts")
            token = await eks_token(sts, "a")
        assert token.startswith("k8s-aws-v1.")
        assert "=" not in token
        ok = len(await pods_with(ClusterAccess("a", base(emu, "a"), StaticToken(token))))
        try:
            await pods_with(ClusterAccess("b", base(emu, "b"), StaticToken(token)))
        except KubeError as exc:
            return ok, exc.status
        return ok, None

    assert anyio.run(run) == (1, 401)


def test_token_is_made_again_when_old_and_after_a_401(emu: Emulator) -> None:
    cluster = with_pod("a")
    emu.add_eks_cluster(APP, EU, cluster)

    async def run() -> tuple[int, int]:
        async with Connections() as connections:
            sts = await connections.client(TARGET, RegionName(EU), "sts")
            always_old = EksAuth(sts, "a", lifetime=0.0)
            async with KubeClient(ClusterAccess("a", base(emu, "a"), always_old)) as client:
                read = await read_cluster(client)
            assert read.complete
            assert always_old.tokens_made == cluster.list_calls() == client.calls
            refused = EksAuth(sts, "a")
            await refused.authorization()
            refused._token = "k8s-aws-v1.bm90LWEtdXJs"  # a token EKS refuses
            await pods_with(ClusterAccess("a", base(emu, "a"), refused))
            return always_old.tokens_made, refused.tokens_made

    made, after_401 = anyio.run(run)
    assert made == 9  # one per call (8 lists and discovery), each checked afresh
    assert after_401 == 2  # the first, and one after the 401
    assert set(cluster.identities) == {ROLE_ARN}


# --------------------------------------------------------------------------- kubeconfig


def kubeconfig(tmp_path: Path, server: str, users: dict[str, dict[str, Any]], **extra: Any) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **extra}}],
        "users": [{"name": n, "user": u} for n, u in users.items()],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": n}} for n in users],
        "current-context": next(iter(users)),
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def scan(sources: Sources) -> UsageScan:
    async def run() -> list[UsageScan]:
        return await kubeconfig_usage(sources, RetryPolicy())

    (found,) = anyio.run(run)
    return found


def test_kubeconfig_token_token_file_and_contexts(emu: Emulator, tmp_path: Path) -> None:
    cluster = with_pod("onprem", tokens={"static-1", "from-file"})
    emu.add_eks_cluster(APP, EU, cluster)
    (tmp_path / "token").write_text("from-file\n", encoding="utf-8")
    path = kubeconfig(
        tmp_path,
        base(emu, "onprem"),
        {"ops": {"token": "static-1"}, "ci": {"tokenFile": "token"}, "nobody": {"token": "x"}},
    )
    current = scan(Sources(kubeconfigs=(KubeconfigSource(str(path)),)))
    assert current.errors == ()
    assert [u.source for u in current.usages] == [
        f"pod payments/api-1 container api (cluster ops ({base(emu, 'onprem')}))"
    ]
    assert current.usages[0].kind == "kubernetes"
    both = scan(Sources(kubeconfigs=(KubeconfigSource(str(path), ("ops", "ci")),)))
    assert len(both.usages) == 2
    assert set(cluster.identities) == {"token:static", "token:from-f"}
    refused = scan(Sources(kubeconfigs=(KubeconfigSource(str(path), ("nobody",)),)))
    assert refused.usages == ()
    assert refused.errors
    assert "401 Unauthorized" in refused.errors[0].message
    assert "`view` ClusterRole" in refused.errors[0].message


def test_kubeconfig_exec_plugin_runs_once_per_token(emu: Emulator, tmp_path: Path) -> None:
    emu.add_eks_cluster(APP, EU, with_pod("onprem", tokens={"exec-token"}))
    runs = tmp_path / "runs"
    plugin = tmp_path / "get-token.py"
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plugin.write_text(
        "import json, os, pathlib, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert info['spec']['interactive'] is False\n"
        f"p = pathlib.Path({str(runs)!r})\n"
        "p.write_text(p.read_text() + 'x' if p.exists() else 'x')\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', "
        f"'status': {{'token': os.environ['TOKEN'], 'expirationTimestamp': {expires!r}}}}}))\n",
        encoding="utf-8",
    )
    plugin_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": sys.executable,
            "args": [str(plugin)],
            "env": [{"name": "TOKEN", "value": "exec-token"}],
            "interactiveMode": "Never",
        }
    }
    path = kubeconfig(tmp_path, base(emu, "onprem"), {"exec": plugin_user})
    found = scan(Sources(kubeconfigs=(KubeconfigSource(str(path)),)))
    assert found.errors == ()
    assert len(found.usages) == 1
    assert runs.read_text() == "x"  # one token for every list of the cluster


def test_kubeconfig_errors_name_the_file_and_context(tmp_path: Path) -> None:
    path = kubeconfig(
        tmp_path, "https://k8s.example:6443", {"ops": {"auth-provider": {"name": "oidc"}}}
    )
    with pytest.raises(KubeconfigError, match=r"kubeconfig: context ops: user.auth-provider"):
        load_kubeconfig(path)
    with pytest.raises(KubeconfigError, match=r"context nope: no such context"):
        load_kubeconfig(path, ["nope"])
    found = scan(Sources(kubeconfigs=(KubeconfigSource(str(tmp_path / "missing")),)))
    assert "cannot read" in found.errors[0].message


# --------------------------------------------------------------------------- client certificate


@pytest.fixture
def tls_api(tmp_path: Path) -> Iterator[tuple[str, dict[str, Path]]]:
    """A TLS API server on 127.0.0.1 that requires a client certificate from its CA and
    serves one pod list."""
    import asyncio

    paths = certificates(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=paths["ca.crt"])
    context.load_cert_chain(paths["server.crt"], paths["server.key"])
    context.verify_mode = ssl.CERT_REQUIRED

    async def pods(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        assert peer is not None  # the TLS layer already required it
        page = {
            "apiVersion": "v1",
            "kind": "PodList",
            "metadata": {},
            "items": [k.pod("tls", "api-1", [("api", IMAGE)])],
        }
        return web.json_response(page)

    async def empty(_: web.Request) -> web.Response:
        return web.json_response({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []})

    async def groups(_: web.Request) -> web.Response:
        return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})

    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/api/v1/pods", pods)
    app.router.add_get("/apis", groups)
    app.router.add_get("/apis/{tail:.*}", empty)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{port}", paths
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_kubeconfig_client_certificate_over_tls(
    tls_api: tuple[str, dict[str, Path]], tmp_path: Path
) -> None:
    server, paths = tls_api
    import base64

    user = {
        "client-certificate": str(paths["client.crt"]),
        "client-key-data": base64.b64encode(paths["client.key"].read_bytes()).decode(),
    }
    ca = {"certificate-authority": str(paths["ca.crt"])}
    path = kubeconfig(tmp_path, server, {"cert": user, "anonymous": {}}, **ca)
    found = scan(Sources(kubeconfigs=(KubeconfigSource(str(path), ("cert",)),)))
    assert found.errors == ()
    assert [u.ref.tag for u in found.usages] == ["v1"]
    # without a client certificate the TLS handshake fails: unread, so the run is blocked
    refused = scan(Sources(kubeconfigs=(KubeconfigSource(str(path), ("anonymous",)),)))
    assert refused.usages == ()
    assert "cannot connect" in refused.errors[0].message


def test_cli_reads_a_kubeconfig_and_checks_its_flags(emu: Emulator, tmp_path: Path) -> None:
    import json
    import os
    import subprocess

    from awsim import Image
    from awsim import Repository as Repo

    emu.create_repository(APP, EU, Repo("payments/api", (Image(tags=("v1",)), Image(tags=("v0",)))))
    local = with_pod("onprem", tokens={"cli-token"})
    local.objects["Pod"][0]["spec"]["containers"][0]["image"] = (
        f"{APP}.dkr.ecr.{EU}.amazonaws.com/payments/api:v1"
    )
    emu.add_eks_cluster(APP, EU, local)
    path = kubeconfig(tmp_path, base(emu, "onprem"), {"ops": {"token": "cli-token"}})
    common = ["--account", APP, "--region", EU, "--role-name", "EcrSweeper"]
    # The emulated account's own EKS cluster is left unread (--no-eks) and accepted: this test
    # reads the cluster through the kubeconfig.
    retention = ["--min-age-days", "0", "--keep-last", "0", "--quiet", "--no-eks"]
    retention += ["--accept-unread", f"eks@{APP}"]
    retention += ["--no-lambdas", "--no-schedules", "--no-service-revisions"]  # not emulated

    def sweeper(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "ecr_sweeper", "plan", *common, *retention, *args],
            cwd=tmp_path,
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    done = sweeper("--kubeconfig", str(path), "--kube-context", "ops", "--output", "plan.json")
    assert done.returncode == 0, done.stderr
    plan = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    (kept,) = plan["kept"]
    assert kept["image_tags"] == ["v1"]
    assert kept["reason"].startswith("in use: tag 'v1' used by pod payments/api-1 container api")
    assert plan["sources"]["kubeconfigs"] == [{"path": str(path), "contexts": ["ops"]}]
    wrong = sweeper("--kube-context", "ops")
    assert wrong.returncode == 1
    assert "--kube-context: needs --kubeconfig" in wrong.stderr
