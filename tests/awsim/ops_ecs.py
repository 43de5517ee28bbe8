"""ECS operations (JSON 1.1, target prefix ``AmazonEC2ContainerServiceV20141113``).

Listing order is ARN order (AWS documents no order); page tokens carry the last ARN so
concurrent mutation does not duplicate or skip unaffected items.
"""

from __future__ import annotations

from typing import Any

from . import arns
from .arns import to_epoch
from .context import Ctx, Handler
from .state import ClusterState, ServiceState, TaskDefState, TaskState
from .wire import AwsError, decode_token, encode_token, page_size, page_sorted

E_PARAM = "InvalidParameterException"


def _cluster(ctx: Ctx, ref: str | None, allow_inactive: bool = False) -> ClusterState:
    name = ref or "default"
    if name.startswith("arn:"):
        # arn:aws:ecs:REGION:ACCOUNT:cluster/NAME -- another account's or region's ARN is
        # "not found".
        parts = name.split(":", 5)
        if len(parts) < 6 or parts[3] != ctx.region or parts[4] != ctx.account:
            raise AwsError("ClusterNotFoundException", "Cluster not found.")
        name = parts[5].split("/", 1)[-1]
    c = ctx.state.region(ctx.account, ctx.region).clusters.get(name)
    if c is None or (c.status == "INACTIVE" and not allow_inactive):
        raise AwsError("ClusterNotFoundException", "Cluster not found.")
    return c


def _service_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref


def _service(cluster: ClusterState, ref: str) -> ServiceState:
    s = cluster.services.get(_service_name(ref))
    if s is None:
        raise AwsError("ServiceNotFoundException", "Service not found.")
    return s


def _check_len(name: str, items: list[Any], maximum: int) -> None:
    if len(items) > maximum:
        raise AwsError(E_PARAM, f"{name} can have at most {maximum} items.")


# --------------------------------------------------------------------------- clusters


def list_clusters(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    size = page_size("ecs:ListClusters", req.get("maxResults"))
    clusters = ctx.state.region(ctx.account, ctx.region).clusters.values()
    arns_ = sorted(c.arn for c in clusters if c.status != "INACTIVE")
    page, tok = page_sorted(arns_, req.get("nextToken"), size, "ecs:ListClusters")
    return {"clusterArns": page, **({"nextToken": tok} if tok else {})}


def _render_cluster(c: ClusterState) -> dict[str, Any]:
    running = sum(1 for t in c.tasks.values() if t.last_status == "RUNNING")
    active = sum(1 for s in c.services.values() if s.status == "ACTIVE")
    return {
        "clusterArn": c.arn,
        "clusterName": c.name,
        "status": c.status,
        "registeredContainerInstancesCount": 0,
        "runningTasksCount": running,
        "pendingTasksCount": 0,
        "activeServicesCount": active,
        "statistics": [],
        "tags": [],
        "settings": [],
        "capacityProviders": [],
        "defaultCapacityProviderStrategy": [],
    }


def describe_clusters(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    refs = req.get("clusters") or ["default"]
    _check_len("clusters", refs, 100)
    out, failures = [], []
    for ref in refs:
        try:
            out.append(_render_cluster(_cluster(ctx, ref, allow_inactive=True)))
        except AwsError:
            arn = ref if ref.startswith("arn:") else arns.cluster_arn(ctx.account, ctx.region, ref)
            failures.append({"arn": arn, "reason": "MISSING"})
    return {"clusters": out, "failures": failures}


# --------------------------------------------------------------------------- services


def list_services(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    size = page_size("ecs:ListServices", req.get("maxResults"))
    c = _cluster(ctx, req.get("cluster"))
    lt = req.get("launchType")
    arns_ = sorted(
        s.arn
        for s in c.services.values()
        if s.status != "INACTIVE" and (lt is None or s.svc.launch_type == lt)
    )
    page, tok = page_sorted(arns_, req.get("nextToken"), size, "ecs:ListServices")
    return {"serviceArns": page, **({"nextToken": tok} if tok else {})}


def _render_deployment(s: ServiceState, dep: Any) -> dict[str, Any]:
    d, dep_id, td = dep
    return {
        "id": dep_id,
        "status": d.status,
        "taskDefinition": td,
        "desiredCount": d.desired_count,
        "pendingCount": 0,
        "runningCount": d.running_count,
        "failedTasks": 0,
        "createdAt": to_epoch(d.created_at),
        "updatedAt": to_epoch(d.created_at),
        "launchType": s.svc.launch_type,
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
        "rolloutState": d.rollout_state,
        "rolloutStateReason": f"ECS deployment {dep_id} {d.rollout_state.lower()}.",
    }


def _render_task_set(s: ServiceState, cluster_arn: str, ts: Any) -> dict[str, Any]:
    t, ts_id, td = ts
    c_name = cluster_arn.rsplit("/", 1)[-1]
    account, region = s.arn.split(":")[4], s.arn.split(":")[3]
    return {
        "id": ts_id,
        "taskSetArn": arns.task_set_arn(account, region, c_name, s.name, ts_id),
        "serviceArn": s.arn,
        "clusterArn": cluster_arn,
        "status": t.status,
        "taskDefinition": td,
        "computedDesiredCount": t.running_count,
        "pendingCount": 0,
        "runningCount": t.running_count,
        "createdAt": to_epoch(t.created_at),
        "updatedAt": to_epoch(t.created_at),
        "launchType": s.svc.launch_type,
        "scale": {"value": 100.0, "unit": "PERCENT"},
        "stabilityStatus": "STEADY_STATE",
        "stabilityStatusAt": to_epoch(t.created_at),
        **({"externalId": t.external_id} if t.external_id else {}),
    }


def _render_service(c: ClusterState, s: ServiceState) -> dict[str, Any]:
    svc = s.svc
    out: dict[str, Any] = {
        "serviceArn": s.arn,
        "serviceName": s.name,
        "clusterArn": c.arn,
        "loadBalancers": [],
        "serviceRegistries": [],
        "status": s.status,
        "desiredCount": svc.desired_count,
        "runningCount": sum(d[0].running_count for d in s.deployments)
        or sum(t[0].running_count for t in s.task_sets),
        "pendingCount": 0,
        "launchType": svc.launch_type,
        "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100},
        "deployments": [_render_deployment(s, d) for d in s.deployments],
        "taskSets": [_render_task_set(s, c.arn, t) for t in s.task_sets],
        "events": [],
        "createdAt": to_epoch(svc.created_at),
        "placementConstraints": [],
        "placementStrategy": [],
        "schedulingStrategy": "REPLICA",
        "deploymentController": {"type": svc.controller},
        "enableECSManagedTags": False,
        "propagateTags": "NONE",
        "enableExecuteCommand": False,
    }
    if s.task_definition:
        out["taskDefinition"] = s.task_definition
    return out


def describe_services(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    c = _cluster(ctx, req.get("cluster"))
    refs = req.get("services") or []
    _check_len("services", refs, 10)
    out, failures = [], []
    for ref in refs:
        s = c.services.get(_service_name(ref))
        if s is None:
            # Failures use the short (cluster-less) ARN form, as moto does (mirroring AWS).
            arn = (
                ref
                if ref.startswith("arn:")
                else f"arn:aws:ecs:{ctx.region}:{ctx.account}:service/{ref}"
            )
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            out.append(_render_service(c, s))
    return {"services": out, "failures": failures}


def describe_task_sets(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    c = _cluster(ctx, req.get("cluster"))
    s = _service(c, req.get("service") or "")
    if s.svc.controller == "ECS":
        raise AwsError(
            E_PARAM,
            "Amazon ECS only supports task set management on services configured to use "
            "external deployment controllers.",
        )
    wanted = req.get("taskSets")
    sets = [_render_task_set(s, c.arn, t) for t in s.task_sets]
    if wanted:
        sets = [t for t in sets if t["id"] in wanted or t["taskSetArn"] in wanted]
    return {"taskSets": sets, "failures": []}


def _revision_id(s: ServiceState, dep_id: str) -> str:
    return arns.stable_int(s.arn, dep_id)


def _container_images(ctx: Ctx, s: ServiceState, dep_id: str, td_arn: str) -> list[dict[str, Any]]:
    """The revision's containers, with the digest resolved when the deployment started."""
    td = _td_by_arn(ctx, td_arn)
    if td is None:
        return []
    digests = s.revision_digests.get(dep_id, {})
    out = []
    for cd in td.td.containers:
        item = {"containerName": cd.name, "image": cd.image}
        if cd.name in digests:
            item["imageDigest"] = digests[cd.name]
        out.append(item)
    return out


def describe_service_revisions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    refs = req.get("serviceRevisionArns") or []
    _check_len("serviceRevisionArns", refs, 20)
    out, failures = [], []
    for ref in refs:
        found = None
        # arn:aws:ecs:REGION:ACCOUNT:service-revision/CLUSTER/SERVICE/ID
        parts = ref.split(":", 5)
        if len(parts) == 6 and parts[3] == ctx.region and parts[4] == ctx.account:
            path = parts[5].split("/")
            if len(path) == 4 and path[0] == "service-revision":
                c = ctx.state.region(ctx.account, ctx.region).clusters.get(path[1])
                s = c.services.get(path[2]) if c else None
                if c is not None and s is not None:
                    for d, dep_id, td in s.deployments:
                        if _revision_id(s, dep_id) == path[3]:
                            found = {
                                "serviceRevisionArn": ref,
                                "serviceArn": s.arn,
                                "clusterArn": c.arn,
                                "taskDefinition": td,
                                "launchType": s.svc.launch_type,
                                "platformVersion": "1.4.0",
                                "platformFamily": "Linux",
                                "loadBalancers": [],
                                "serviceRegistries": [],
                                "containerImages": _container_images(ctx, s, dep_id, td),
                                "guardDutyEnabled": False,
                                "createdAt": to_epoch(d.created_at),
                            }
        if found:
            out.append(found)
        else:
            failures.append({"arn": ref, "reason": "MISSING"})
    return {"serviceRevisions": out, "failures": failures}


def _deployment_status(s: ServiceState, d: Any) -> str:
    if d.status == "PRIMARY" and (d.rollout_state == "IN_PROGRESS" or len(s.deployments) > 1):
        return "IN_PROGRESS"
    if d.rollout_state == "FAILED":
        return "ROLLBACK_SUCCESSFUL"
    return "SUCCESSFUL"


def list_service_deployments(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    size = page_size("ecs:ListServiceDeployments", req.get("maxResults"))
    c = _cluster(ctx, req.get("cluster"))
    s = _service(c, req.get("service") or "")
    statuses = req.get("status")
    items: list[dict[str, Any]] = []
    for d, dep_id, _td in s.deployments:
        st = _deployment_status(s, d)
        if statuses and st not in statuses:
            continue
        rev = arns.service_revision_arn(
            ctx.account, ctx.region, c.name, s.name, _revision_id(s, dep_id)
        )
        brief = {
            "serviceDeploymentArn": arns.deployment_arn(
                ctx.account, ctx.region, c.name, s.name, dep_id.rsplit("/", 1)[-1]
            ),
            "serviceArn": s.arn,
            "clusterArn": c.arn,
            "createdAt": to_epoch(d.created_at),
            "startedAt": to_epoch(d.created_at),
            "targetServiceRevisionArn": rev,
            "status": st,
        }
        if st != "IN_PROGRESS":
            brief["finishedAt"] = to_epoch(d.created_at) + 300
        items.append(brief)
    # Newest first, like the console; offset token (deployments rarely change mid-listing).
    items.sort(key=lambda b: (-float(b["createdAt"]), str(b["serviceDeploymentArn"])))
    start = decode_token("ecs:ListServiceDeployments", req.get("nextToken")) or 0
    page = items[start : start + size]
    more = start + size < len(items)
    return {
        "serviceDeployments": page,
        **({"nextToken": encode_token("ecs:ListServiceDeployments", start + size)} if more else {}),
    }


# --------------------------------------------------------------------------- tasks


def _group(t: TaskState) -> str:
    if t.task.service:
        return f"service:{t.task.service}"
    family = t.td_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]
    return f"family:{family}"


def _visible(ctx: Ctx, t: TaskState) -> bool:
    # Stopped tasks remain visible for a while only (about an hour on AWS), if configured.
    if t.last_status != "STOPPED" or ctx.stopped_task_retention_s is None or t.stopped_at is None:
        return True
    return to_epoch(t.stopped_at) >= ctx.now - ctx.stopped_task_retention_s


def list_tasks(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    size = page_size("ecs:ListTasks", req.get("maxResults"))
    c = _cluster(ctx, req.get("cluster"))
    svc_name = req.get("serviceName")
    if svc_name is not None:
        _service(c, svc_name)
        group = f"service:{_service_name(svc_name)}"
    family = req.get("family")
    desired = req.get("desiredStatus") or "RUNNING"
    if desired not in ("RUNNING", "PENDING", "STOPPED"):
        raise AwsError(E_PARAM, f"Invalid desiredStatus: {desired}")
    started_by = req.get("startedBy")
    lt = req.get("launchType")
    arns_ = sorted(
        t.arn
        for t in c.tasks.values()
        if t.desired_status == desired
        and (svc_name is None or _group(t) == group)
        and (family is None or t.td_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0] == family)
        and (started_by is None or _started_by(t) == started_by)
        and (lt is None or t.task.launch_type == lt)
        and _visible(ctx, t)
    )
    page, tok = page_sorted(arns_, req.get("nextToken"), size, "ecs:ListTasks")
    return {"taskArns": page, **({"nextToken": tok} if tok else {})}


def _started_by(t: TaskState) -> str | None:
    if t.task.started_by:
        return t.task.started_by
    if t.task.service:
        return "ecs-svc/" + arns.stable_int(t.arn, "started-by")
    return None


def _render_task(c: ClusterState, t: TaskState) -> dict[str, Any]:
    task = t.task
    containers = []
    for i, ct in enumerate(task.containers):
        item: dict[str, Any] = {
            "containerArn": (
                f"{t.arn.replace(':task/', ':container/')}/{arns.stable_hex(t.arn, i, length=36)}"
            ),
            "taskArn": t.arn,
            "name": ct.name,
            "image": ct.image,
            "lastStatus": t.last_status,
            "runtimeId": f"{t.id}-{arns.stable_int(t.arn, i, digits=10)}",
            "networkInterfaces": [],
            "healthStatus": "UNKNOWN",
            "cpu": "0",
        }
        if ct.image_digest:
            item["imageDigest"] = ct.image_digest
        if t.last_status == "STOPPED":
            item["exitCode"] = 0
        containers.append(item)
    out: dict[str, Any] = {
        "attachments": [],
        "attributes": [],
        "availabilityZone": f"{t.arn.split(':')[3]}a",
        "clusterArn": c.arn,
        "connectivity": "CONNECTED",
        "containers": containers,
        "cpu": "256",
        "memory": "512",
        "createdAt": to_epoch(task.started_at),
        "desiredStatus": t.desired_status,
        "lastStatus": t.last_status,
        "enableExecuteCommand": False,
        "group": _group(t),
        "healthStatus": "UNKNOWN",
        "launchType": task.launch_type,
        "overrides": {"containerOverrides": [{"name": ct.name} for ct in task.containers]},
        "platformVersion": "1.4.0",
        "platformFamily": "Linux",
        "startedAt": to_epoch(task.started_at),
        "tags": [],
        "taskArn": t.arn,
        "taskDefinitionArn": t.td_arn,
        "version": 3,
    }
    sb = _started_by(t)
    if sb:
        out["startedBy"] = sb
    if t.last_status == "STOPPED":
        stopped = to_epoch(t.stopped_at) if t.stopped_at else to_epoch(task.started_at)
        out.update(
            stoppedAt=stopped,
            executionStoppedAt=stopped,
            stoppingAt=stopped,
            stopCode="ServiceSchedulerInitiated",
            stoppedReason="Scaling activity initiated by (deployment)",
        )
    return out


def describe_tasks(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    c = _cluster(ctx, req.get("cluster"))
    refs = req.get("tasks") or []
    _check_len("tasks", refs, 100)
    out, failures = [], []
    for ref in refs:
        t = c.tasks.get(ref.rsplit("/", 1)[-1])
        if t is None or (ref.startswith("arn:") and ref != t.arn) or not _visible(ctx, t):
            arn = (
                ref
                if ref.startswith("arn:")
                else arns.task_arn(ctx.account, ctx.region, c.name, ref)
            )
            failures.append({"arn": arn, "reason": "MISSING"})
        else:
            out.append(_render_task(c, t))
    return {"tasks": out, "failures": failures}


# --------------------------------------------------------------------------- task definitions


def _td_by_arn(ctx: Ctx, arn: str) -> TaskDefState | None:
    parts = arn.split(":")
    if len(parts) != 7 or parts[3] != ctx.region or parts[4] != ctx.account:
        return None
    family = parts[5].split("/", 1)[-1]
    return ctx.state.region(ctx.account, ctx.region).task_defs.get((family, int(parts[6])))


def describe_task_definition(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    ref = req.get("taskDefinition") or ""
    tds = ctx.state.region(ctx.account, ctx.region).task_defs
    td: TaskDefState | None = None
    try:
        if ref.startswith("arn:"):
            td = _td_by_arn(ctx, ref)
        elif ":" in ref:
            family, rev = ref.rsplit(":", 1)
            td = tds.get((family, int(rev)))
        else:
            active = [t for (f, _), t in tds.items() if f == ref and t.status == "ACTIVE"]
            td = max(active, key=lambda t: t.td.revision) if active else None
    except ValueError:
        td = None
    if td is None:
        raise AwsError("ClientException", "Unable to describe task definition.")
    out: dict[str, Any] = {"taskDefinition": _render_td(td)}
    if "TAGS" in (req.get("include") or []):
        out["tags"] = []
    return out


def _render_td(t: TaskDefState) -> dict[str, Any]:
    td = t.td
    out: dict[str, Any] = {
        "taskDefinitionArn": t.arn,
        "family": td.family,
        "revision": td.revision,
        "status": t.status,
        "networkMode": "awsvpc",
        "volumes": [],
        "placementConstraints": [],
        "requiresAttributes": [],
        "compatibilities": ["EC2", "FARGATE"],
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "registeredAt": to_epoch(td.registered_at),
        "registeredBy": "arn:aws:iam::{}:root".format(t.arn.split(":")[4]),
        "containerDefinitions": [
            {
                "name": c.name,
                "image": c.image,
                "cpu": 0,
                "essential": i == 0,
                "portMappings": [],
                "environment": [],
                "mountPoints": [],
                "volumesFrom": [],
                "systemControls": [],
            }
            for i, c in enumerate(td.containers)
        ],
    }
    if t.status != "ACTIVE":
        out["deregisteredAt"] = to_epoch(td.registered_at) + 86400
    return out


def list_task_definitions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    size = page_size("ecs:ListTaskDefinitions", req.get("maxResults"))
    status = req.get("status") or "ACTIVE"
    family = req.get("familyPrefix")  # despite the name, AWS matches the full family name
    desc = (req.get("sort") or "ASC") == "DESC"
    tds = ctx.state.region(ctx.account, ctx.region).task_defs
    keys = sorted(
        (k for k, t in tds.items() if t.status == status and (family is None or k[0] == family)),
        reverse=desc,
    )
    start = decode_token("ecs:ListTaskDefinitions", req.get("nextToken")) or 0
    page = [tds[k].arn for k in keys[start : start + size]]
    more = start + size < len(keys)
    return {
        "taskDefinitionArns": page,
        **({"nextToken": encode_token("ecs:ListTaskDefinitions", start + size)} if more else {}),
    }


def list_task_definition_families(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    size = page_size("ecs:ListTaskDefinitionFamilies", req.get("maxResults"))
    status = req.get("status") or "ACTIVE"
    prefix = req.get("familyPrefix") or ""
    by_family: dict[str, bool] = {}
    for (f, _), t in ctx.state.region(ctx.account, ctx.region).task_defs.items():
        if f.startswith(prefix):
            by_family[f] = by_family.get(f, False) or t.status == "ACTIVE"
    fams = sorted(
        f
        for f, has_active in by_family.items()
        if status == "ALL" or (status == "ACTIVE") == has_active
    )
    page, tok = page_sorted(fams, req.get("nextToken"), size, "ecs:ListTaskDefinitionFamilies")
    return {"families": page, **({"nextToken": tok} if tok else {})}


# --------------------------------------------------------------------------- managed daemons
# ECS Managed Daemons (botocore 1.43's model): a daemon runs on every instance of its capacity
# providers; its revisions pin a daemon task definition and the digests ECS resolved.


def _daemon_page(req: dict[str, Any], items: list[str], kind: str) -> tuple[list[str], str | None]:
    size = req.get("maxResults", 100)
    if not isinstance(size, int) or not 1 <= size <= 100:
        raise AwsError(E_PARAM, "maxResults must be between 1 and 100.")
    return page_sorted(items, req.get("nextToken"), size, kind)


def list_daemons(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    daemons = ctx.state.region(ctx.account, ctx.region).daemons
    wanted = req.get("clusterArn")
    arns_ = sorted(a for a, d in daemons.items() if wanted in (None, d["clusterArn"]))
    page, tok = _daemon_page(req, arns_, "ecs:ListDaemons")
    summaries = [
        {"daemonArn": a, "status": daemons[a]["status"], "createdAt": daemons[a]["createdAt"]}
        for a in page
    ]
    return {"daemonSummariesList": summaries, **({"nextToken": tok} if tok else {})}


def describe_daemon(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    daemon = ctx.state.region(ctx.account, ctx.region).daemons.get(req.get("daemonArn", ""))
    if daemon is None:
        raise AwsError("ResourceNotFoundException", "The daemon does not exist.")
    current = [
        {"arn": arn, "totalRunningCount": 1, "totalWithoutDaemonCount": 0}
        for arn in daemon["currentRevisions"]
    ]
    return {
        "daemon": {
            "daemonArn": daemon["daemonArn"],
            "clusterArn": daemon["clusterArn"],
            "status": daemon["status"],
            "currentRevisions": current,
            "createdAt": daemon["createdAt"],
            **({"deploymentArn": daemon["deploymentArn"]} if daemon.get("deploymentArn") else {}),
        }
    }


def describe_daemon_deployments(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    wanted = req.get("daemonDeploymentArns") or []
    _check_len("daemonDeploymentArns", wanted, 20)
    deployments = ctx.state.region(ctx.account, ctx.region).daemon_deployments
    found = [deployments[a] for a in wanted if a in deployments]
    failures = [{"arn": a, "reason": "MISSING"} for a in wanted if a not in deployments]
    return {"daemonDeployments": found, "failures": failures}


def describe_daemon_revisions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    wanted = req.get("daemonRevisionArns") or []
    _check_len("daemonRevisionArns", wanted, 20)
    revisions = ctx.state.region(ctx.account, ctx.region).daemon_revisions
    found = [revisions[a] for a in wanted if a in revisions]
    failures = [{"arn": a, "reason": "MISSING"} for a in wanted if a not in revisions]
    return {"daemonRevisions": found, "failures": failures}


def list_daemon_task_definitions(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    definitions = ctx.state.region(ctx.account, ctx.region).daemon_task_defs
    family, status = req.get("family"), req.get("status", "ACTIVE")
    chosen = sorted(
        (
            d
            for d in definitions.values()
            if family in (None, d["family"]) and status in ("ALL", d["status"])
        ),
        key=lambda d: (d["family"], d["revision"]),
        reverse=req.get("sort") == "DESC",
    )
    keys = [f"{n:08d}" for n in range(len(chosen))]
    page, tok = _daemon_page(req, keys, "ecs:ListDaemonTaskDefinitions")
    summaries = [
        {
            "arn": chosen[int(k)]["daemonTaskDefinitionArn"],
            "registeredAt": chosen[int(k)]["registeredAt"],
            "status": chosen[int(k)]["status"],
        }
        for k in page
    ]
    return {"daemonTaskDefinitions": summaries, **({"nextToken": tok} if tok else {})}


def describe_daemon_task_definition(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any]:
    ref = str(req.get("daemonTaskDefinition", ""))
    name = ref.rsplit("/", 1)[-1]
    definitions = ctx.state.region(ctx.account, ctx.region).daemon_task_defs
    family, _, revision = name.partition(":")
    if not revision:
        active = [
            d for d in definitions.values() if d["family"] == family and d["status"] == "ACTIVE"
        ]
        revision = str(max((d["revision"] for d in active), default=0))
    found = definitions.get((family, int(revision)) if revision.isdigit() else ("", 0))
    if found is None:
        raise AwsError("ClientException", "Unable to describe daemon task definition.")
    return {"daemonTaskDefinition": found}


HANDLERS: dict[str, Handler] = {
    "ListClusters": list_clusters,
    "DescribeClusters": describe_clusters,
    "ListServices": list_services,
    "DescribeServices": describe_services,
    "DescribeTaskSets": describe_task_sets,
    "DescribeServiceRevisions": describe_service_revisions,
    "ListServiceDeployments": list_service_deployments,
    "ListTasks": list_tasks,
    "DescribeTasks": describe_tasks,
    "DescribeTaskDefinition": describe_task_definition,
    "ListTaskDefinitions": list_task_definitions,
    "ListTaskDefinitionFamilies": list_task_definition_families,
    "ListDaemons": list_daemons,
    "DescribeDaemon": describe_daemon,
    "DescribeDaemonRevisions": describe_daemon_revisions,
    "DescribeDaemonDeployments": describe_daemon_deployments,
    "ListDaemonTaskDefinitions": list_daemon_task_definitions,
    "DescribeDaemonTaskDefinition": describe_daemon_task_definition,
}
