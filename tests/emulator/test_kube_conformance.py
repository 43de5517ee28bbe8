"""The fake Kubernetes API serves what a real one would: every object, list, Status and
discovery document it answers is checked against the Kubernetes OpenAPI models shipped by the
`kubernetes` package (every key must be a field of the model, every value of the field's type,
and the model's own deserializer must accept it, required fields included). Custom resources
have no model there: their pod templates are checked against V1PodTemplateSpec / V1Container.
"""

from __future__ import annotations

import json
import re
import urllib.request
from typing import Any

import pytest
from kubernetes import client as k8s

from awsim import Account, Region, Scenario, run_emulator
from awsim import kube_objects as k
from awsim.kube import KubeCluster, list_path

RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
IMAGE = "111111111111.dkr.ecr.eu-west-1.amazonaws.com/payments/api:v1"
DIGEST = "sha256:" + "a" * 64
TOKEN = "conformance-token"


def conforms(value: Any, type_name: str, where: str = "") -> None:
    """Raise AssertionError where `value` is not of the OpenAPI type `type_name`."""
    if value is None:
        return
    if type_name.startswith("list["):
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            conforms(item, type_name[5:-1], f"{where}[{i}]")
    elif type_name.startswith(("dict(", "dict[")):  # the generator wrote both, over time
        assert isinstance(value, dict), f"{where}: expected a map"
        inner = type_name[type_name.index(",") + 1 : -1].strip()
        for key, item in value.items():
            conforms(item, inner, f"{where}.{key}")
    elif type_name == "str":
        assert isinstance(value, str), f"{where}: expected a string, got {value!r}"
    elif type_name == "int":
        assert type(value) is int, f"{where}: expected int"
    elif type_name == "bool":
        assert isinstance(value, bool), f"{where}: expected a boolean"
    elif type_name == "datetime":
        assert RFC3339.fullmatch(str(value)), f"{where}: not RFC 3339"
        assert isinstance(value, str), f"{where}: not a string"
    elif type_name != "object":
        model = getattr(k8s, type_name)
        assert isinstance(value, dict), f"{where}: expected a {type_name} object"
        by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
        for key, item in value.items():
            assert key in by_json, f"{where}.{key}: not a field of {type_name}"
            conforms(item, model.openapi_types[by_json[key]], f"{where}.{key}")


class _Answer:
    def __init__(self, value: Any) -> None:
        self.data = json.dumps(value)


def deserializes(value: Any, type_name: str) -> None:
    """The client's own deserializer accepts it (it checks required fields)."""
    k8s.ApiClient().deserialize(_Answer(value), type_name)


BUILTIN = {
    "Pod": "V1Pod",
    "Deployment": "V1Deployment",
    "ReplicaSet": "V1ReplicaSet",
    "StatefulSet": "V1StatefulSet",
    "DaemonSet": "V1DaemonSet",
    "ControllerRevision": "V1ControllerRevision",
    "Job": "V1Job",
    "CronJob": "V1CronJob",
}
CONTAINERS = [("api", IMAGE)]
OBJECTS = [
    k.pod(
        "payments",
        "api-1",
        CONTAINERS,
        init=[("migrate", IMAGE)],
        ephemeral=[("debug", IMAGE)],
        image_ids={"api": f"{IMAGE.rsplit(':', 1)[0]}@{DIGEST}", "migrate": ""},
    ),
    k.deployment("payments", "api", CONTAINERS, revision=3),
    k.replica_set("payments", "api", CONTAINERS, revision=1, replicas=0),
    k.stateful_set("data", "db", CONTAINERS),
    k.daemon_set("kube-system", "fluent-bit", CONTAINERS),
    k.controller_revision("kube-system", "DaemonSet", "fluent-bit", CONTAINERS, 1),
    k.job("batch", "once", CONTAINERS),
    k.cron_job("reports", "monthly", CONTAINERS, "0 3 1 * *"),
]


@pytest.mark.parametrize("obj", OBJECTS, ids=[str(o["kind"]) for o in OBJECTS])
def test_builtin_objects_conform(obj: dict[str, Any]) -> None:
    conforms(obj, BUILTIN[obj["kind"]], obj["kind"])
    deserializes(obj, BUILTIN[obj["kind"]])


def test_controller_revision_data_is_a_pod_template_patch() -> None:
    revision = k.controller_revision("kube-system", "DaemonSet", "fb", CONTAINERS, 1)
    template = dict(revision["data"]["spec"]["template"])
    assert template.pop("$patch") == "replace"
    conforms(template, "V1PodTemplateSpec", "data.spec.template")


def test_custom_resources_pod_templates_conform() -> None:
    conforms(k.rollout("web", "front", CONTAINERS)["spec"]["template"], "V1PodTemplateSpec")
    conforms(k.scaled_job("q", "w", CONTAINERS)["spec"]["jobTargetRef"], "V1JobSpec")
    revision = k.knative_revision("fn", "hello-1", IMAGE, f"{IMAGE}@{DIGEST}")
    for container in revision["spec"]["containers"]:
        conforms(container, "V1Container")
        deserializes(container, "V1Container")


def test_served_lists_statuses_and_discovery_conform() -> None:
    """What the fake answers over HTTP: pages (with continue), 403/410 Status, discovery."""
    served = KubeCluster("c", tokens={TOKEN}, forbidden_namespaces=set())
    served.add(*OBJECTS, *k.pods("payments", "api", 3, IMAGE))
    served.add(k.rollout("web", "front", CONTAINERS))
    scenario = Scenario((Account("222222222222", regions=(Region("eu-west-1"),)),))
    with run_emulator(scenario) as emu:
        emu.add_eks_cluster("222222222222", "eu-west-1", served)
        base = f"{emu.endpoint_url}/_kube/222222222222/eu-west-1/c"

        def get(path: str) -> tuple[int, Any]:
            request = urllib.request.Request(  # noqa: S310 - the emulator on loopback
                base + path, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
                    return answer.status, json.load(answer)
            except urllib.error.HTTPError as exc:
                return exc.code, json.load(exc)

        status, page = get(list_path("Pod") + "?limit=2")
        assert status == 200
        conforms(page, "V1PodList")
        deserializes(page, "V1PodList")
        assert page["metadata"]["continue"]
        assert page["metadata"]["remainingItemCount"] == 2
        for kind, model in BUILTIN.items():
            status, listed = get(list_path(kind))
            assert status == 200, kind
            assert listed["items"], kind  # an empty list conforms to anything
            conforms(listed, f"{model}List", kind)
        status, groups = get("/apis")
        assert status == 200
        assert groups["groups"]
        conforms(groups, "V1APIGroupList")
        status, resources = get("/apis/argoproj.io/v1alpha1")
        assert status == 200
        assert resources["resources"]
        conforms(resources, "V1APIResourceList")
        deserializes(resources, "V1APIResourceList")
        served.expire_continue = 1
        status, gone = get(list_path("Pod") + "?limit=2&continue=" + page["metadata"]["continue"])
        assert (status, gone["reason"], gone["code"]) == (410, "Expired", 410)
        conforms(gone, "V1Status")
        served.forbidden_namespaces.add("secret")
        status, forbidden = get(list_path("Pod", "secret"))
        assert (status, forbidden["reason"]) == (403, "Forbidden")
        conforms(forbidden, "V1Status")
        conforms(forbidden["details"], "V1StatusDetails")


def test_the_check_rejects_what_a_server_would_not_serve() -> None:
    pod = k.pod("payments", "api-1", CONTAINERS)
    pod["spec"]["containers"][0]["imageName"] = IMAGE  # no such field
    with pytest.raises(AssertionError, match=r"imageName: not a field of V1Container"):
        conforms(pod, "V1Pod", "Pod")
    pod = k.pod("payments", "api-1", CONTAINERS)
    pod["status"]["containerStatuses"][0]["restartCount"] = "0"
    with pytest.raises(AssertionError, match=r"restartCount: expected int"):
        conforms(pod, "V1Pod", "Pod")
    pod = k.pod("payments", "api-1", CONTAINERS)
    del pod["spec"]["containers"][0]["name"]
    with pytest.raises(ValueError, match="name"):
        deserializes(pod, "V1Pod")
