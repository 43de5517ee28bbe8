"""Real-looking image manifests (Docker v2 schema 2, OCI, image indexes, OCI referrers).

The emulator's digests are ``"sha256:" + sha256(manifest bytes)``, exactly like a registry,
so a test can compute a digest from a scenario and see the same value come back from
DescribeImages / BatchGetImage / ECS task containers.  Manifests are built with string
templates rather than ``json.dumps`` because ``generate_org`` builds up to a million of them.
"""

from __future__ import annotations

import hashlib
import json

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
# sha256 of the two bytes "{}" -- the OCI 1.1 "empty descriptor" used by artifacts.
OCI_EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
COSIGN_SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json"

INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_digest(*parts: str) -> str:
    # Fake blob digests: deterministic, well-formed, unique per image identity.
    return "sha256:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def _layers(ident: str, size: int, media_type: str) -> str:
    # 1-3 layers whose sizes add up to ``size`` (minus the config), so sizes look coherent.
    n = 1 + (size % 3)
    each = max(size // n, 1)
    parts = []
    for i in range(n):
        d = _blob_digest("layer", ident, str(i))
        parts.append(f'{{"mediaType":"{media_type}","size":{each},"digest":"{d}"}}')
    return ",".join(parts)


def single_manifest(
    ident: str, size: int, fmt: str, platform_json: str | None
) -> tuple[bytes, str]:
    """Return ``(manifest bytes, manifest media type)`` for a single-platform image."""
    config_digest = _blob_digest("config", ident, platform_json or "")
    if fmt == "oci":
        mt, cmt, lmt = OCI_MANIFEST, OCI_CONFIG, OCI_LAYER
    else:
        mt, cmt, lmt = DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER
    text = (
        f'{{"schemaVersion":2,"mediaType":"{mt}",'
        f'"config":{{"mediaType":"{cmt}","size":{1200 + size % 800},"digest":"{config_digest}"}},'
        f'"layers":[{_layers(ident, size, lmt)}]}}'
    )
    return text.encode(), mt


def referrer_manifest(
    ident: str,
    size: int,
    artifact_type: str,
    subject_digest: str,
    subject_size: int,
    subject_mt: str,
) -> tuple[bytes, str]:
    """OCI 1.1 artifact manifest with a ``subject`` (a signature, SBOM, attestation...)."""
    layer = _blob_digest("artifact", ident)
    text = (
        f'{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{artifact_type}",'
        f'"config":{{"mediaType":"{OCI_EMPTY}","size":2,"digest":"{OCI_EMPTY_DIGEST}"}},'
        f'"layers":[{{"mediaType":"{artifact_type}","size":{size},"digest":"{layer}"}}],'
        f'"subject":{{"mediaType":"{subject_mt}","size":{subject_size},"digest":"{subject_digest}"}}}}'
    )
    return text.encode(), OCI_MANIFEST


def index_manifest(fmt: str, children: list[tuple[str, int, str, str]]) -> tuple[bytes, str]:
    """Image index / manifest list.

    ``children`` are ``(digest, manifest size, media type, platform json)``.
    """
    mt = OCI_INDEX if fmt == "oci" else DOCKER_MANIFEST_LIST
    entries = ",".join(
        f'{{"mediaType":"{cmt}","size":{csize},"digest":"{cd}","platform":{pj}}}'
        for cd, csize, cmt, pj in children
    )
    return f'{{"schemaVersion":2,"mediaType":"{mt}","manifests":[{entries}]}}'.encode(), mt


def platform_json(os: str, architecture: str, variant: str | None) -> str:
    d = {"architecture": architecture, "os": os}
    if variant:
        d["variant"] = variant
    return json.dumps(d, separators=(",", ":"), sort_keys=True)


def config_media_type(manifest: bytes) -> str | None:
    """What ECR reports as ``artifactMediaType``: the artifactType, else the config media type."""
    doc = json.loads(manifest)
    if "artifactType" in doc:
        return str(doc["artifactType"])
    cfg = doc.get("config")
    return str(cfg["mediaType"]) if cfg else None
