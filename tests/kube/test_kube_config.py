"""Kubernetes settings: `[sources] eks` and `[[sources.kubeconfigs]]` in the accounts file,
`--kubeconfig`/`--kube-context`, and the plan file carrying them for `apply`."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from ecr_sweeper.config import (
    ConfigError,
    kubeconfig_sources,
    parse_config,
    resolve_sources,
)
from ecr_sweeper.model import KubeconfigSource, Sources
from ecr_sweeper.planfile import plan_to_json, read_plan, write_plan
from test_planfile import sample_plan


def test_accounts_file_and_flags_add_up() -> None:
    config = parse_config(
        {
            "sources": {
                "eks": False,
                "kubeconfigs": [
                    {"path": "onprem.yaml", "contexts": ["ops", "ci"]},
                    {"path": "gke.yaml"},
                ],
            }
        },
        "accounts.toml",
    )
    assert not config.sources.reads("eks")
    assert config.sources.kubeconfigs == (
        KubeconfigSource("onprem.yaml", ("ops", "ci")),
        KubeconfigSource("gke.yaml", ()),
    )
    flags = kubeconfig_sources([Path("aks.yaml")], ["prod"])
    sources = resolve_sources(
        config,
        external_files=[],
        stdin=io.StringIO(),
        switches={"eks": None},
        kubeconfigs=flags,
    )
    assert not sources.reads("eks")  # no flag: the file's choice
    assert sources.kubeconfigs[-1] == KubeconfigSource("aks.yaml", ("prod",))
    assert len(sources.kubeconfigs) == 3
    on = resolve_sources(config, external_files=[], stdin=io.StringIO(), switches={"eks": True})
    assert on.reads("eks")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"eks": "yes"}, r"sources.eks: expected true or false"),
        ({"kubeconfigs": "a.yaml"}, r"sources.kubeconfigs: expected an array of tables"),
        ({"kubeconfigs": [{"contexts": ["x"]}]}, r"sources.kubeconfigs\[0\].path: expected"),
        ({"kubeconfigs": [{"path": "a", "context": "x"}]}, r"kubeconfigs\[0\].context: unknown"),
    ],
)
def test_bad_kubernetes_settings_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"sources": table}, "accounts.toml")


def test_kube_context_needs_a_kubeconfig() -> None:
    with pytest.raises(ConfigError, match="--kube-context: needs --kubeconfig"):
        kubeconfig_sources([], ["prod"])


def test_plan_file_carries_the_kubernetes_sources(tmp_path: Path) -> None:
    sources = Sources(off=frozenset({"eks"}), kubeconfigs=(KubeconfigSource("k.yaml", ("ops",)),))
    plan = replace(sample_plan(), sources=sources)
    path = tmp_path / "plan.json"
    write_plan(plan, path)
    assert read_plan(path).sources == sources


def test_plan_files_from_before_read_eks_on() -> None:
    from ecr_sweeper.planfile import sources_from_json

    older = plan_to_json(sample_plan())["sources"]
    del older["eks"], older["kubeconfigs"]
    assert sources_from_json(older) == Sources()
