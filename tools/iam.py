"""The IAM policies of docs/iam.md (and the README's summary), generated from the registry of
consumer kinds (each kind's IAM actions) and the fixed actions of the rest of the tool (ECR,
regions, apply, the CI role, Organizations).

    python tools/iam.py --write   # regenerate the policies in docs/iam.md, README.md
    python tools/iam.py --check   # exit 1 when they are stale, or the code calls an action
                                  # the policies lack (or they list one the code no longer
                                  # calls)

A new consumer kind lists its actions in its `Kind.iam`; another new AWS call adds its action
to `FIXED`, in the statement of the role that makes it; then `--write` (`nox -s iam`). The
check finds the code's calls by reading the package's source: an attribute `x.some_operation`
where `x` is a client of a service (assigned, `=` or `:=`, from `client("svc")`,
`client_if_offered("svc")`, `base_client("svc", …)`, `create("svc", …)`, or a variable named
after the service, as the aws modules name them) and `some_operation` is one of that service's
operations in botocore's model.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Literal

from botocore import xform_name
from botocore.loaders import create_loader
from botocore.model import ServiceModel

from ecr_sweeper.aws.consumers import registry
from ecr_sweeper.aws.consumers.kind import IamAction, Kind

Role = Literal["read", "apply", "ci", "organization"]
ACCOUNT_REPOSITORIES = "arn:aws:ecr:*:<ACCOUNT_ID>:repository/*"


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a generated policy: which role holds it, on which resource."""

    sid: str
    role: Role
    resource: str


STATEMENTS = (
    Statement("ReadEcsUsage", "read", "*"),
    Statement("ReadScheduledAndLambdaUsage", "read", "*"),
    Statement("ReadEcrInventory", "read", ACCOUNT_REPOSITORIES),
    Statement("ReadPullTimeExclusions", "read", "*"),  # a registry's setting: no repository
    Statement("ReadInspectorCoverage", "read", "*"),
    Statement("ReadEksClusters", "read", "*"),
    Statement("ReadOtherConsumers", "read", "*"),
    Statement("TakeConsumerCensus", "read", "*"),
    Statement("ListEnabledRegions", "read", "*"),
    Statement("DeleteUnusedImages", "apply", ACCOUNT_REPOSITORIES),
    Statement("AssumeTargetRoles", "ci", "arn:aws:iam::*:role/EcrSweeper"),
    Statement("DiscoverAccounts", "organization", "*"),
)

# The actions of the tool beyond its consumer kinds' (theirs: `Kind.iam`, in the registry).
FIXED = (
    IamAction("ecr:DescribeRepositories", "ReadEcrInventory", "inventory; image index manifests"),
    IamAction("ecr:DescribeImages", "ReadEcrInventory", "inventory; image index manifests"),
    IamAction("ecr:BatchGetImage", "ReadEcrInventory", "inventory; image index manifests"),
    IamAction(
        "ecr:GetRepositoryPolicy", "ReadEcrInventory", "who else may pull (unscanned consumers)"
    ),
    IamAction("ecr:ListTagsForResource", "ReadEcrInventory", "`--opt-in-tag`"),
    IamAction(
        "ecr:DescribeRegistry",
        "ReadEcrInventory",
        "replication rules that replay deletions in other registries",
    ),
    IamAction(
        "ecr:ListPullTimeUpdateExclusions",
        "ReadPullTimeExclusions",
        "the pull witness: whose pulls the registry does not record (denied: a warning)",
    ),
    IamAction(
        "inspector2:BatchGetAccountStatus",
        "ReadInspectorCoverage",
        "the second witness: whether Inspector scans ECR (the only call where it does not)",
    ),
    IamAction(
        "inspector2:ListCoverage",
        "ReadInspectorCoverage",
        "the second witness: the ECR images Inspector sees in use",
    ),
    IamAction(
        "ec2:DescribeRegions",
        "ListEnabledRegions",
        "the regions of an account given without regions",
    ),
    IamAction("ecr:BatchDeleteImage", "DeleteUnusedImages", "deleting (apply only)"),
    IamAction(
        "ecr:UpdateImageStorageClass",
        "DeleteUnusedImages",
        "`apply --quarantine` and `restore` (ECR's archive)",
    ),
    IamAction("sts:AssumeRole", "AssumeTargetRoles", "the target role in every account"),
    IamAction("organizations:ListAccounts", "DiscoverAccounts", "`--org`"),
    IamAction("organizations:ListAccountsForParent", "DiscoverAccounts", "`--org-unit`"),
    IamAction("organizations:ListOrganizationalUnitsForParent", "DiscoverAccounts", "`--org-unit`"),
    IamAction("organizations:ListTagsForResource", "DiscoverAccounts", "`--org-tag`"),
    IamAction(
        "organizations:DescribeOrganization",
        "DiscoverAccounts",
        "`--org`: the organization id, for repository policies granting it",
    ),
)


def permissions(kinds: Sequence[Kind] = registry.KINDS) -> tuple[IamAction, ...]:
    """Every action of the tool: the kinds' (in the registry's order), then the fixed ones."""
    return (*registry.iam_actions(kinds), *FIXED)


PERMISSIONS = permissions()

# Called, and needing no permission: AWS answers GetCallerIdentity for any valid credentials.
NO_PERMISSION_NEEDED = frozenset({"sts:GetCallerIdentity"})

COMMAND = "python tools/iam.py --write"
ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "ecr_sweeper"
DOCS = (ROOT / "docs" / "iam.md", ROOT / "README.md")
NOT_SCANNED = ("demo",)  # the demo package seeds moto's server: not the sweep's calls


def policy(role: Role, kinds: Sequence[Kind] = registry.KINDS) -> dict[str, object]:
    """The policy document of one role: a statement per `STATEMENTS` entry of the role."""
    statements = []
    for statement in STATEMENTS:
        if statement.role != role:
            continue
        actions = [p.action for p in permissions(kinds) if p.statement == statement.sid]
        statements.append(
            {
                "Sid": statement.sid,
                "Effect": "Allow",
                "Action": actions if len(actions) > 1 else actions[0],
                "Resource": statement.resource,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _json(document: object) -> str:
    return "```json\n" + json.dumps(document, indent=2) + "\n```"


def _read_table() -> str:
    rows: dict[tuple[str, str], list[str]] = {}
    read = {s.sid for s in STATEMENTS if s.role == "read"}
    for p in PERMISSIONS:
        if p.statement in read:
            service, action = p.action.split(":")
            rows.setdefault((service, p.purpose), []).append(f"`{action}`")
    lines = ["| service | actions | used for |", "|---|---|---|"]
    lines += [f"| {s} | {', '.join(a)} | {purpose} |" for (s, purpose), a in rows.items()]
    return "\n".join(lines)


def blocks() -> dict[str, str]:
    """The generated pieces, by the name of their marker."""
    return {
        "read-actions": _read_table(),
        "read-policy": _json(policy("read")),
        "apply-statement": _json(policy("apply")["Statement"][0]),  # type: ignore[index]
        "ci-policy": _json(policy("ci")),
        "organization-statement": _json(policy("organization")["Statement"][0]),  # type: ignore[index]
    }


def _marker(name: str) -> re.Pattern[str]:
    opening = re.escape(marker(name))
    return re.compile(rf"({opening}\n)(.*?)(\n<!-- /iam:{name} -->)", re.S)


def render(text: str) -> str:
    """`text` with every generated piece it marks brought up to date."""
    for name, body in blocks().items():
        text = _marker(name).sub(partial(_replace, body), text)
    return text


def _replace(body: str, match: re.Match[str]) -> str:
    return match.group(1) + body + match.group(3)


def marker(name: str) -> str:
    """The opening marker of a generated piece (the closing one is `<!-- /iam:NAME -->`)."""
    return f"<!-- iam:{name} (generated: {COMMAND}) -->"


@cache
def _operations(service: str) -> tuple[str, dict[str, str]]:
    """A service's IAM prefix (its signing name) and its operations, snake_case → name."""
    loader = create_loader()
    model = ServiceModel(loader.load_service_model(service, "service-2"), service)
    return model.signing_name, {xform_name(op): op for op in model.operation_names}


@cache
def _services() -> frozenset[str]:
    return frozenset(create_loader().list_available_services("service-2"))


def _client_service(node: ast.AST) -> str | None:
    """The service of `client("svc")`, `client_if_offered("svc")`, `base_client("svc", …)`,
    `create("svc", …)`, `connections.client(target, region, "svc")` (awaited or not), else
    None."""
    if isinstance(node, ast.Await):
        node = node.value
    if not isinstance(node, ast.Call):
        return None
    name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
    if name not in (
        "client",
        "client_if_offered",
        "base_client",
        "create",
        "create_client",
        "_create_client",
    ):
        return None
    for arg in node.args:
        if isinstance(arg, ast.Constant) and arg.value in _services():
            return str(arg.value)
    return None


def actions_in(source: str) -> set[str]:
    """The IAM actions a module's code calls (see the module docstring for how)."""
    tree = ast.parse(source)
    clients = {name: name for name in _services() if name.isidentifier()}
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        value: ast.AST | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.NamedExpr):
            targets, value = [node.target], node.value
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            targets, value = [node.optional_vars], node.context_expr
        service = _client_service(value) if value is not None else None
        if service is not None:
            clients.update({t.id: service for t in targets if isinstance(t, ast.Name)})
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            service = clients.get(node.value.id)
            if service is None:
                continue
            prefix, operations = _operations(service)
            if node.attr in operations:
                found.add(f"{prefix}:{operations[node.attr]}")
    return found


def actions_in_code(package: Path = PACKAGE) -> set[str]:
    """Every IAM action the package's code calls (the demo's seeding left out)."""
    return {
        action
        for path in sorted(package.rglob("*.py"))
        if path.relative_to(package).parts[0] not in NOT_SCANNED
        for action in actions_in(path.read_text(encoding="utf-8"))
    }


def problems(files: Iterable[Path] = DOCS, package: Path = PACKAGE) -> list[str]:
    """What is out of date: the table against the code, and each file against the table."""
    declared = {p.action for p in PERMISSIONS}
    called = actions_in_code(package)
    found = [
        f"the code calls {a}, which PERMISSIONS lacks: add it to its kind's `iam` (or FIXED)"
        for a in sorted(called - declared - NO_PERMISSION_NEEDED)
    ]
    found += [
        f"the policies list {a}, which the code no longer calls: remove it"
        for a in sorted(declared - called)
    ]
    for path in files:
        text = path.read_text(encoding="utf-8")
        if render(text) != text:
            found.append(f"{path} is out of date: run {COMMAND}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """`--write` brings the docs up to date; `--check` reports what is stale (exit 1)."""
    parser = argparse.ArgumentParser(prog="python tools/iam.py", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate the policies")
    mode.add_argument("--check", action="store_true", help="exit 1 if anything is stale")
    parser.add_argument("files", nargs="*", type=Path, default=list(DOCS))
    args = parser.parse_args(argv)
    if args.write:
        for path in args.files:
            text = path.read_text(encoding="utf-8")
            if (new := render(text)) != text:
                path.write_text(new, encoding="utf-8")
                print(f"updated {path}")
    stale = problems(args.files)
    if args.write:
        stale = [p for p in stale if "out of date" not in p]
    for line in stale:
        print(line, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
