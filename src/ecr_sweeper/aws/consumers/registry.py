"""Every consumer kind the tool knows, in one list: everything else derives from it (the CLI's
switches, the accounts file's `[sources]` keys, `--accept-unread`'s values, the census, the
principals of repository policies, the IAM policy, the README's table).

A new kind is one module in this package that defines a `Kind`, and one line here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ecr_sweeper.aws.consumers import (
    agentcore,
    app_runner,
    batch,
    braket,
    cleanrooms_ml,
    codebuild,
    ecs,
    ecs_daemons,
    eks,
    elasticbeanstalk,
    emr,
    gamelift,
    greengrass,
    lambdas,
    lightsail,
    omics,
    pipes,
    sagemaker,
    schedules,
    step_functions,
)
from ecr_sweeper.aws.consumers.kind import IamAction, Kind

KINDS: tuple[Kind, ...] = (
    ecs.KIND,
    schedules.KIND,
    lambdas.KIND,
    eks.KIND,
    batch.KIND,
    step_functions.KIND,
    codebuild.KIND,
    ecs_daemons.KIND,
    app_runner.KIND,
    pipes.KIND,
    sagemaker.KIND,
    emr.KIND,
    lightsail.KIND,
    elasticbeanstalk.KIND,
    agentcore.KIND,
    braket.KIND,
    cleanrooms_ml.KIND,
    omics.KIND,
    greengrass.KIND,
    gamelift.KIND,
)


def names(kinds: Iterable[Kind] = KINDS) -> tuple[str, ...]:
    """The one name of every kind (what `--accept-unread` takes)."""
    return tuple(kind.name for kind in kinds)


def switched(kinds: Iterable[Kind] = KINDS) -> tuple[Kind, ...]:
    """The kinds that can be switched off (`--no-NAME`, `[sources] NAME = false`)."""
    return tuple(kind for kind in kinds if kind.switch is not None)


def switch_keys(kinds: Iterable[Kind] = KINDS) -> dict[str, str]:
    """Every spelling of a switch (its name, and deprecated aliases) → the kind's name."""
    keys: dict[str, str] = {}
    for kind in switched(kinds):
        assert kind.switch is not None
        keys[kind.name] = kind.name
        keys.update((alias, kind.name) for alias in kind.switch.aliases)
    return keys


def principal_kinds(kinds: Iterable[Kind] = KINDS) -> dict[str, str]:
    """Service principal (lower case) → the kind it pulls for (for repository policies)."""
    return {principal: kind.name for kind in kinds for principal in kind.principals}


def iam_actions(kinds: Iterable[Kind] = KINDS) -> tuple[IamAction, ...]:
    """Every IAM action the kinds' census calls and readers make, in the registry's order."""
    return tuple(action for kind in kinds for action in kind.iam)


# Services the tool calls beyond its consumer kinds (the inventory and deletions, roles and
# accounts, EKS clusters' access, Inspector): their models keep every operation.
_CALLED_BEYOND_KINDS = frozenset({"ecr", "ecs", "eks", "iam", "inspector2", "organizations", "sts"})
# botocore's name of a service whose IAM prefix is another (tests check each is the model's
# signing name, which is the IAM prefix)
BOTOCORE_NAMES = {
    "bedrock-agentcore": "bedrock-agentcore-control",
    "cleanrooms-ml": "cleanroomsml",
    "greengrass": "greengrassv2",
    "states": "stepfunctions",
}


def kept_operations(kinds: Iterable[Kind] = KINDS) -> dict[str, frozenset[str]]:
    """botocore's name of each service only the kinds call → the operations they call (their
    `iam`): the clients' models keep those alone (models.LeanLoader.keep). A call a kind makes
    but does not declare is then no method of the client, as the IAM policy would refuse it."""
    operations: dict[str, set[str]] = {}
    for action in iam_actions(kinds):
        prefix, name = action.action.split(":", 1)
        if prefix not in _CALLED_BEYOND_KINDS:
            operations.setdefault(BOTOCORE_NAMES.get(prefix, prefix), set()).add(name)
    return {service: frozenset(names) for service, names in operations.items()}


def by_name(kinds: Iterable[Kind] = KINDS) -> Mapping[str, Kind]:
    """Kind name → kind."""
    return {kind.name: kind for kind in kinds}
