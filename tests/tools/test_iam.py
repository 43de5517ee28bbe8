"""docs/iam.md's policies are generated from the registry of consumer kinds (each kind's IAM
actions) and tools/iam.py's fixed actions, and those are checked against the calls the code
makes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tools.iam import (
    COMMAND,
    DOCS,
    NO_PERMISSION_NEEDED,
    PERMISSIONS,
    actions_in,
    actions_in_code,
    policy,
    problems,
    render,
)

ROOT = Path(__file__).parents[2]


def test_docs_and_the_table_match_the_code() -> None:
    stale = problems()
    assert not stale, "\n".join([*stale, f"to fix: add the actions, then run `{COMMAND}`"])


def test_every_action_the_code_calls_is_in_the_docs_policies() -> None:
    text = (ROOT / "docs" / "iam.md").read_text(encoding="utf-8")
    documented: set[str] = set()
    generated = re.findall(
        r"<!-- iam:[\w-]+ \(generated: [^)]*\) -->\n```json\n(.*?)\n```", text, re.S
    )
    assert len(generated) == 4  # read, apply, CI, organization
    for block in generated:
        document = json.loads(block)
        statements = document.get("Statement", [document])
        for statement in statements if isinstance(statements, list) else [statements]:
            actions = statement.get("Action", [])
            documented |= {actions} if isinstance(actions, str) else set(actions)
    assert actions_in_code() - NO_PERMISSION_NEEDED <= documented
    assert "ec2:DescribeRegions" in documented  # once only in a sentence


def test_the_read_policy_holds_every_read_action_once() -> None:
    statements = policy("read")["Statement"]
    assert isinstance(statements, list)
    actions = [
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert len(actions) == len(set(actions))
    assert "ecr:BatchDeleteImage" not in actions  # the apply role's alone
    assert {p.action for p in PERMISSIONS} >= set(actions)


def test_the_scan_finds_calls_of_new_sources_by_their_iam_prefix() -> None:
    source = """
async def collect(ctx):
    client = await ctx.client("batch")
    await ctx.api.pages(client.describe_job_definitions, "jobDefinitions")
    sfn = await ctx.client("stepfunctions")
    await ctx.api.call(sfn.list_state_machines)
    emr = await ctx.client("emr")
    await ctx.api.call(emr.list_clusters)
    await ctx.api.call(client.not_an_operation)
"""
    assert actions_in(source) == {
        "batch:DescribeJobDefinitions",
        "states:ListStateMachines",  # Step Functions' IAM prefix
        "elasticmapreduce:ListClusters",  # EMR's
    }


def test_a_missing_action_and_a_stale_doc_are_reported(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "batch.py").write_text(
        'async def f(ctx):\n    b = await ctx.client("batch")\n    await b.list_jobs()\n',
        encoding="utf-8",
    )
    doc = tmp_path / "iam.md"
    fresh = render(DOCS[0].read_text(encoding="utf-8"))
    doc.write_text(fresh.replace('"ecs:ListTasks",\n', ""), encoding="utf-8")
    found = problems([doc], package)
    assert any("batch:ListJobs" in p and "lacks" in p for p in found), found
    assert any("no longer calls" in p for p in found)  # the tiny package calls nothing else
    assert any("out of date" in p and COMMAND in p for p in found), found
