"""The images a Kubernetes object runs or can start, read by the object's schema. Pure: no I/O.

Every kind the sweep lists holds a PodSpec at a fixed place of its schema (never found by
searching for an "image" key: annotations, labels and ConfigMaps can carry any key):

| kind                                          | PodSpec at                            |
|-----------------------------------------------|---------------------------------------|
| Pod                                           | spec (and the digests in status)      |
| Deployment, ReplicaSet, StatefulSet,          | spec.template.spec                    |
| DaemonSet, Job, Argo Rollout,                 |                                       |
| Knative Service and Configuration             |                                       |
| CronJob                                       | spec.jobTemplate.spec.template.spec   |
| ControllerRevision (StatefulSet, DaemonSet)   | data.spec.template.spec               |
| Knative Revision                              | spec (and status.containerStatuses)   |
| KEDA ScaledJob                                | spec.jobTargetRef.template.spec       |

A PodSpec pulls the images of its `containers`, `initContainers`, `ephemeralContainers` and
its image volumes (`volumes[].image.reference`). A Pod's status says which digest the kubelet
resolved for each container (`imageID`: `docker-pullable://repo@sha256:…`, `repo@sha256:…`);
that digest is in use even after the tag moved on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Where each kind keeps its PodSpec, as a path of keys from the object's root.
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "ControllerRevision": ("data", "spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),
    "Service.serving.knative.dev": ("spec", "template", "spec"),
    "Configuration.serving.knative.dev": ("spec", "template", "spec"),
    "Revision.serving.knative.dev": ("spec",),
    "ScaledJob": ("spec", "jobTargetRef", "template", "spec"),
}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
STATUS_LISTS = ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses")
_ID_SCHEMES = ("docker-pullable://", "docker://", "containerd://", "cri-o://")


@dataclass(frozen=True, slots=True)
class ImageUse:
    """One image an object runs or can start: the reference, where (for the reason), and the
    digest the runtime resolved for it when the object says so."""

    image: str
    where: str
    digest: str | None = None


class ObjectShapeError(ValueError):
    """An object does not have its kind's schema (a field of the wrong type)."""


def object_label(kind: str, item: Mapping[str, Any]) -> str:
    """`pod payments/api-7c9` (namespaced) or `clusterrole x`: the kind, namespace and name."""
    meta = _mapping(item.get("metadata"), "metadata")
    name = meta.get("name", "?")
    namespace = meta.get("namespace")
    owner = ""
    if kind == "ControllerRevision":
        owners = meta.get("ownerReferences") or []
        if isinstance(owners, list) and owners and isinstance(owners[0], Mapping):
            owner = f" of {str(owners[0].get('kind', '')).lower()} {owners[0].get('name')}"
        owner += f" revision {item.get('revision', '?')}"
    label = f"{namespace}/{name}" if namespace else str(name)
    return f"{_word(kind)} {label}{owner}"


def images_of(kind: str, item: Mapping[str, Any]) -> list[ImageUse]:
    """Every image the object of `kind` runs or can start, by its schema.

    Raises ObjectShapeError when a field on the way has the wrong type: the object cannot be
    read, which must not pass for an object without images.
    """
    path = POD_SPEC_PATHS[kind]
    label = object_label(kind, item)
    node: Any = item
    for key in path:
        node = _mapping(node, ".".join(path)).get(key)
        if node is None:  # a template without a spec yet (a Rollout with workloadRef)
            return []
    spec = _mapping(node, ".".join(path))
    uses = list(_pod_spec_images(spec, label))
    if kind == "Pod":
        uses += _status_digests(_mapping(item.get("status") or {}, "status"), label)
    elif kind == "Revision.serving.knative.dev":
        uses += _knative_digests(_mapping(item.get("status") or {}, "status"), label)
    return uses


def _pod_spec_images(spec: Mapping[str, Any], label: str) -> Iterator[ImageUse]:
    for field in CONTAINER_LISTS:
        for raw in _list(spec.get(field), field):
            container = _mapping(raw, field)
            image = container.get("image")
            if image:  # an ephemeral or template container may leave it to a policy
                yield ImageUse(_str(image, f"{field}.image"), _where(label, field, container))
    for volume in _list(spec.get("volumes"), "volumes"):
        source = _mapping(_mapping(volume, "volumes").get("image") or {}, "volumes.image")
        if source.get("reference"):
            reference = _str(source["reference"], "volumes.image.reference")
            yield ImageUse(reference, f"{label} image volume {volume.get('name')}")


def _status_digests(status: Mapping[str, Any], label: str) -> Iterator[ImageUse]:
    for field in STATUS_LISTS:
        for raw in _list(status.get(field), f"status.{field}"):
            entry = _mapping(raw, f"status.{field}")
            image_id = entry.get("imageID")
            if not image_id:  # not pulled yet
                continue
            resolved = resolved_reference(_str(image_id, f"status.{field}.imageID"))
            if resolved is None:
                continue
            where = _where(label, field.replace("Statuses", "s"), entry)
            repository, digest = resolved
            image = entry.get("image")
            # The runtime's own name for the image when it is the same repository (the
            # reason then says "running"); else the resolved reference itself.
            if isinstance(image, str) and _repository_of(image) == repository:
                yield ImageUse(image, where, digest)
            else:
                yield ImageUse(f"{repository}@{digest}", where, digest)


def _knative_digests(status: Mapping[str, Any], label: str) -> Iterator[ImageUse]:
    """Knative resolves each container's tag to a digest when the revision is created and
    runs that digest from then on (status.containerStatuses[].imageDigest)."""
    for field in ("containerStatuses", "initContainerStatuses"):
        for raw in _list(status.get(field), f"status.{field}"):
            entry = _mapping(raw, f"status.{field}")
            digest_ref = entry.get("imageDigest")
            if digest_ref:
                reference = _str(digest_ref, f"status.{field}.imageDigest")
                yield ImageUse(reference, f"{label} container {entry.get('name')} (resolved)")


def resolved_reference(image_id: str) -> tuple[str, str] | None:
    """`docker-pullable://repo@sha256:…` or `repo@sha256:…` → (repo, digest); None for a bare
    `sha256:…` (a local image id, not a registry's manifest digest) or no digest at all."""
    for scheme in _ID_SCHEMES:
        if image_id.startswith(scheme):
            image_id = image_id[len(scheme) :]
            break
    repository, at, digest = image_id.rpartition("@")
    if not at or not repository or not digest.startswith("sha256:"):
        return None
    return repository, digest


def _repository_of(image: str) -> str:
    """The repository part of a reference (no tag, no digest)."""
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return image[:colon] if colon > slash else image


def _where(label: str, field: str, container: Mapping[str, Any]) -> str:
    role = {"containers": "container", "initContainers": "init container"}.get(
        field, "ephemeral container"
    )
    return f"{label} {role} {container.get('name')}"


def _word(kind: str) -> str:
    words = {
        "ReplicaSet": "replicaset",
        "StatefulSet": "statefulset",
        "DaemonSet": "daemonset",
        "CronJob": "cronjob",
        "ControllerRevision": "controllerrevision",
        "ScaledJob": "keda scaledjob",
        "Rollout": "argo rollout",
        "Service.serving.knative.dev": "knative service",
        "Configuration.serving.knative.dev": "knative configuration",
        "Revision.serving.knative.dev": "knative revision",
    }
    return words.get(kind, kind.lower())


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ObjectShapeError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ObjectShapeError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ObjectShapeError(f"{where}: expected a string, got {type(value).__name__}")
    return value
