"""Clusters named by a kubeconfig file, reached with the kubeconfig's own auth.

Supported, as kubectl reads them: the server and its CA (`certificate-authority` file or
`-data`, `insecure-skip-tls-verify`, `tls-server-name`), a bearer `token` or `tokenFile`, a
client certificate (`client-certificate`/`client-key`, file or `-data`), and exec credential
plugins (`client.authentication.k8s.io/v1` and `v1beta1`: `aws eks get-token`,
`gke-gcloud-auth-plugin`, `kubelogin`…), run non-interactively, their token reused until its
`expirationTimestamp` and asked for again after a 401. Relative paths are relative to the
kubeconfig's folder. Refused with a message: the deprecated `auth-provider`, basic auth,
`proxy-url`, and exec plugins that answer with a client certificate."""

from __future__ import annotations

import base64
import binascii
import json
import os
import shutil
import ssl
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import yaml

from ecr_sweeper.kube.client import Auth, ClusterAccess, NoAuth

EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
EXEC_TIMEOUT_SECONDS = 60


class KubeconfigError(ValueError):
    """A kubeconfig that cannot be used: the message names the file, context and key."""


@dataclass(frozen=True, slots=True)
class StaticToken:
    """A bearer token from the kubeconfig (or a file, read again after a 401)."""

    token: str

    async def authorization(self) -> str | None:
        return f"Bearer {self.token}"

    def expire(self) -> None:
        pass


class TokenFile:
    """`tokenFile`: read at each use after a 401 (projected tokens rotate on disk)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._token: str | None = None

    async def authorization(self) -> str | None:
        if self._token is None:
            self._token = (await anyio.Path(self._path).read_text(encoding="utf-8")).strip()
        return f"Bearer {self._token}"

    def expire(self) -> None:
        self._token = None


class ExecPlugin:
    """An exec credential plugin: run it, use its token until it expires or a 401."""

    def __init__(
        self, command: str, args: Sequence[str], env: Mapping[str, str], api_version: str
    ) -> None:
        self._argv = [command, *args]
        self._env = dict(env)
        self._api_version = api_version
        self._token: str | None = None
        self._expires: datetime | None = None
        self._lock = anyio.Lock()
        self.runs = 0

    async def authorization(self) -> str | None:
        async with self._lock:
            if self._token is None or (
                self._expires is not None and datetime.now(UTC) >= self._expires
            ):
                self._token, self._expires = await self._run()
            return f"Bearer {self._token}"

    def expire(self) -> None:
        self._token = None

    async def _run(self) -> tuple[str, datetime | None]:
        info = {
            "apiVersion": self._api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": False},
        }
        env = {**os.environ, **self._env, "KUBERNETES_EXEC_INFO": json.dumps(info)}
        self.runs += 1
        with anyio.fail_after(EXEC_TIMEOUT_SECONDS):
            done = await anyio.run_process(self._argv, env=env, check=False)
        if done.returncode != 0:
            tail = done.stderr.decode(errors="replace").strip()[-300:]
            raise KubeconfigError(
                f"exec plugin {self._argv[0]} exited {done.returncode}: {tail or 'no output'}"
            )
        try:
            credential = json.loads(done.stdout)
            status = credential["status"]
            token = status["token"]
        except (ValueError, KeyError, TypeError) as exc:
            raise KubeconfigError(
                f"exec plugin {self._argv[0]}: no ExecCredential status.token in its output "
                "(a plugin that returns a client certificate is not supported)"
            ) from exc
        if not isinstance(token, str) or not token:
            raise KubeconfigError(f"exec plugin {self._argv[0]}: empty status.token")
        expires = status.get("expirationTimestamp")
        when = datetime.fromisoformat(str(expires).replace("Z", "+00:00")) if expires else None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return token, when


def load_kubeconfig(path: Path, contexts: Sequence[str] = ()) -> list[ClusterAccess]:
    """The clusters of the named contexts (none named: the current context), each with its
    auth. Raises KubeconfigError naming the file and key at fault."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise KubeconfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KubeconfigError(f"{path}: expected a kubeconfig (a mapping)")
    chosen = list(contexts)
    if not chosen:
        current = data.get("current-context")
        if not isinstance(current, str) or not current:
            raise KubeconfigError(f"{path}: current-context: not set; give --kube-context")
        chosen = [current]
    named = {kind: _named(data, kind, path) for kind in ("clusters", "users", "contexts")}
    return [_access(name, named, path) for name in chosen]


def _named(data: Mapping[str, Any], kind: str, path: Path) -> dict[str, dict[str, Any]]:
    entries = data.get(kind) or []
    singular = kind[:-1]
    if not isinstance(entries, list):
        raise KubeconfigError(f"{path}: {kind}: expected a list")
    found: dict[str, dict[str, Any]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise KubeconfigError(f"{path}: {kind}[{index}]: expected a name")
        body = entry.get(singular) or {}
        if not isinstance(body, dict):
            raise KubeconfigError(f"{path}: {kind}[{index}].{singular}: expected a mapping")
        found[entry["name"]] = body
    return found


def _access(
    context: str, named: Mapping[str, dict[str, dict[str, Any]]], path: Path
) -> ClusterAccess:
    where = f"{path}: context {context}"
    if context not in named["contexts"]:
        raise KubeconfigError(f"{where}: no such context")
    ctx = named["contexts"][context]
    cluster_name, user_name = ctx.get("cluster"), ctx.get("user")
    if cluster_name not in named["clusters"]:
        raise KubeconfigError(f"{where}: cluster {cluster_name!r} is not in clusters")
    cluster = named["clusters"][str(cluster_name)]
    user = named["users"].get(str(user_name), {}) if user_name else {}
    if user_name and user_name not in named["users"]:
        raise KubeconfigError(f"{where}: user {user_name!r} is not in users")
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"{where}: cluster.server: expected an http(s) URL")
    base = path.parent
    context_ssl = _ssl_context(cluster, user, base, where) if server.startswith("https") else None
    if cluster.get("proxy-url"):
        raise KubeconfigError(f"{where}: cluster.proxy-url is not supported")
    hostname = cluster.get("tls-server-name")
    return ClusterAccess(
        f"{context} ({server})",
        server,
        _auth(user, base, where),
        context_ssl,
        str(hostname) if hostname else None,
    )


def _ssl_context(
    cluster: Mapping[str, Any], user: Mapping[str, Any], base: Path, where: str
) -> ssl.SSLContext:
    ca_pem = _data_or_file(cluster, "certificate-authority", base, where)
    context = ssl.create_default_context(cadata=ca_pem.decode() if ca_pem else None)
    if cluster.get("insecure-skip-tls-verify") is True:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert = _data_or_file(user, "client-certificate", base, where)
    key = _data_or_file(user, "client-key", base, where)
    if cert and key:
        # ssl loads a chain from files only: write both to a private folder, load, remove.
        with tempfile.TemporaryDirectory(prefix="ecr-sweeper-kube-") as folder:
            cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
            cert_file.write_bytes(cert)
            key_file.write_bytes(key)
            try:
                context.load_cert_chain(cert_file, key_file)
            except ssl.SSLError as exc:
                raise KubeconfigError(f"{where}: client certificate: {exc}") from exc
    elif cert or key:
        raise KubeconfigError(f"{where}: client-certificate and client-key go together")
    return context


def _data_or_file(entry: Mapping[str, Any], key: str, base: Path, where: str) -> bytes | None:
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except binascii.Error as exc:
            raise KubeconfigError(f"{where}: {key}-data: not base64") from exc
    file = entry.get(key)
    if file:
        try:
            return (base / str(file)).read_bytes()
        except OSError as exc:
            raise KubeconfigError(f"{where}: {key}: cannot read {file}: {exc.strerror}") from exc
    return None


def _auth(user: Mapping[str, Any], base: Path, where: str) -> Auth:
    if user.get("auth-provider"):
        raise KubeconfigError(
            f"{where}: user.auth-provider is deprecated and not supported; use an exec plugin"
        )
    if user.get("username") or user.get("password"):
        raise KubeconfigError(f"{where}: basic auth is not supported")
    if isinstance(user.get("token"), str) and user["token"]:
        return StaticToken(user["token"])
    if user.get("tokenFile"):
        return TokenFile(base / str(user["tokenFile"]))
    plugin = user.get("exec")
    if plugin:
        return _exec(plugin, base, where)
    return NoAuth()


def _exec(plugin: Any, base: Path, where: str) -> ExecPlugin:
    if not isinstance(plugin, dict) or not isinstance(plugin.get("command"), str):
        raise KubeconfigError(f"{where}: user.exec.command: expected a command")
    api_version = plugin.get("apiVersion")
    if api_version not in EXEC_API_VERSIONS:
        raise KubeconfigError(
            f"{where}: user.exec.apiVersion: {api_version!r} (expected one of "
            f"{', '.join(EXEC_API_VERSIONS)})"
        )
    command = plugin["command"]
    if "/" in command:  # relative to the kubeconfig, as kubectl resolves it
        command = str(base / command)
    elif shutil.which(command) is None:
        raise KubeconfigError(f"{where}: user.exec.command: {command!r} is not on PATH")
    args = plugin.get("args") or []
    env = plugin.get("env") or []
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise KubeconfigError(f"{where}: user.exec.args: expected a list of strings")
    if not isinstance(env, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) for e in env
    ):
        raise KubeconfigError(f"{where}: user.exec.env: expected a list of name/value")
    return ExecPlugin(command, args, {e["name"]: str(e.get("value", "")) for e in env}, api_version)
