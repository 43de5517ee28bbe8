"""ECS: services (every deployment, task set and service revision) and tasks (running and
recently stopped), through the task definitions they run (ecs_services.py, ecs_tasks.py); the
rollback window widens it (ecs_rollback.py). Always read: it has no switch. The census: any
cluster the account's cluster patterns let in."""

from __future__ import annotations

from ecr_sweeper.aws.consumers.ecs_services import read_services
from ecr_sweeper.aws.consumers.ecs_tasks import read_tasks
from ecr_sweeper.aws.consumers.kind import IamAction, Kind, ReadContext, Reader

_SERVICES = "services, every deployment and task set"
_REVISIONS = "digests ECS resolved per deployment (`--no-service-revisions` turns it off)"
_TASKS = "running and recently stopped tasks"
_DEFINITIONS = "task definitions in use, the rollback window"


async def present(ctx: ReadContext) -> bool:
    """Any cluster the account's cluster patterns let in."""
    return bool(await ctx.ecs.clusters())


KIND = Kind(
    name="ecs",
    title="ecs",
    present=present,
    readers=(Reader("ecs services", read_services), Reader("ecs tasks", read_tasks)),
    iam=(
        IamAction("ecs:ListClusters", "ReadEcsUsage", _SERVICES),
        IamAction("ecs:ListServices", "ReadEcsUsage", _SERVICES),
        IamAction("ecs:DescribeServices", "ReadEcsUsage", _SERVICES),
        IamAction("ecs:ListServiceDeployments", "ReadEcsUsage", _REVISIONS),
        IamAction("ecs:DescribeServiceRevisions", "ReadEcsUsage", _REVISIONS),
        IamAction("ecs:ListTasks", "ReadEcsUsage", _TASKS),
        IamAction("ecs:DescribeTasks", "ReadEcsUsage", _TASKS),
        IamAction("ecs:ListTaskDefinitions", "ReadEcsUsage", _DEFINITIONS),
        IamAction("ecs:DescribeTaskDefinition", "ReadEcsUsage", _DEFINITIONS),
    ),
    principals=("ecs.amazonaws.com", "ecs-tasks.amazonaws.com"),
    emulated="moto: clusters, services, tasks, task definitions (ListServiceDeployments: "
    "HTTP 500); tests/awsim: all of it, service revisions included (ops_ecs.py)",
)
