"""`plan --merge` reads its shard files streamed: the plan is byte for byte the one the old
path made (every shard loaded whole), whatever the shards' shape and layout, and the merge
never holds more than the repository it is judging."""

from __future__ import annotations

import gc
import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_sweeper import runs
from ecr_sweeper.exits import InputError
from ecr_sweeper.model import (
    AccountId,
    AccountRegion,
    AccountTarget,
    InventoryScan,
    Policy,
    PullExclusions,
    Region,
    Repository,
    RepositoryKey,
    ScanError,
    Sources,
    origin_order,
)
from ecr_sweeper.pipeline import plan_from_scans
from ecr_sweeper.plan import InMemory, Placed
from ecr_sweeper.planfile import (
    PlanFileError,
    error_from_json,
    policy_from_json,
    pull_exclusions_from_json,
    sources_from_json,
    target_from_json,
    write_plan,
)
from ecr_sweeper.shardfile import (
    _repository_from_json,
    _usage_scan_from_json,
    open_shards,
    read_shards,
    write_shard,
)
from planning import NOW, image, key, uri, usage_scan, use

ACCOUNTS = ("111111111111", "222222222222", "333333333333", "444444444444")
REGIONS = ("us-east-1", "eu-west-1")
POLICY = Policy(keep_last=1, min_age_days=10)


def whole_merge(paths: Sequence[Path]) -> bytes:
    """The old path, for reference: every shard loaded whole (`json.loads`), its scans sorted,
    the plan made from the lists and written."""
    loaded = [json.loads(path.read_text()) for path in paths]
    usage = [_usage_scan_from_json(s) for d in loaded for s in d["usage"]]
    inventory = [
        InventoryScan(
            AccountId(s["account_id"]),
            Region(s["region"]),
            tuple(
                _repository_from_json(r, AccountId(s["account_id"]), Region(s["region"]))
                for r in s["repositories"]
            ),
            tuple(error_from_json(e) for e in s["errors"]),
            pull_exclusions_from_json(s["pull_exclusions"]) if s["pull_exclusions"] else None,
            tuple(s["notes"]),
        )
        for d in loaded
        for s in d["inventory"]
    ]
    inventory.sort(key=lambda s: (s.account_id, s.region))
    plan = plan_from_scans(
        sorted(usage, key=lambda s: origin_order(s.origin)),
        inventory,
        policy_from_json(loaded[0]["policy"]),
        NOW,
        targets=tuple(target_from_json(t) for t in loaded[0]["targets"]),
        sources=sources_from_json(loaded[0]["sources"]),
    )
    return written(plan)


def written(plan: Any) -> bytes:
    with tempfile.TemporaryDirectory() as where:
        path = Path(where) / "plan.json"
        write_plan(plan, path)
        return path.read_bytes()


@dataclass(frozen=True)
class Shape:
    """A run's shape: per (account, region) scan, its repositories' image counts; which
    images are in use; how many shards; what the scans carry besides repositories."""

    scans: dict[tuple[str, str], list[int]]
    used: frozenset[tuple[str, str, int, int]]  # account, region, repository, image
    count: int
    with_errors: bool
    pretty: bool  # a person's reformatting: indented, each scan's keys in reverse order


shapes = st.builds(
    Shape,
    scans=st.dictionaries(
        st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(REGIONS)),
        st.lists(st.integers(0, 4), max_size=3),
        min_size=1,
        max_size=5,
    ),
    used=st.frozensets(
        st.tuples(
            st.sampled_from(ACCOUNTS),
            st.sampled_from(REGIONS),
            st.integers(0, 2),
            st.integers(0, 3),
        ),
        max_size=6,
    ),
    count=st.integers(1, 3),
    with_errors=st.booleans(),
    pretty=st.booleans(),
)


def write_shards(shape: Shape, where: Path) -> list[Path]:
    """The shape's shard files (every object made here is gone when it returns)."""
    targets = tuple(
        AccountTarget(AccountId(a), tuple(Region(r) for r in REGIONS)) for a in ACCOUNTS
    )
    scans: list[InventoryScan] = []
    for (account, region), sizes in sorted(shape.scans.items()):
        repositories = tuple(
            Repository(
                key(f"repo-{n}", account, region),
                tuple(
                    image(f"{account}{region}{n}-{i}", f"v{i}", days_old=5 + 3 * i, size=10 + i)
                    for i in range(size)
                ),
                error="listing cut short" if shape.with_errors and n == 2 else None,
            )
            for n, size in enumerate(sizes)
        )
        place = AccountRegion(AccountId(account), Region(region))
        scans.append(
            InventoryScan(
                AccountId(account),
                Region(region),
                repositories,
                errors=(
                    (ScanError("inventory", place.account_id, place.region, "ecr", "denied"),)
                    if shape.with_errors
                    else ()
                ),
                pull_exclusions=PullExclusions(place, ("arn:aws:iam::1:role/x",))
                if shape.with_errors
                else None,
                notes=(f"{account}/{region}: a note",) if shape.with_errors else (),
            )
        )
    usage = [
        usage_scan(use(uri(key(f"repo-{n}", a, r), f":v{i}")), account=a, region=r)
        for a, r, n, i in sorted(shape.used)
    ]
    paths = []
    for index in range(1, shape.count + 1):
        path = where / f"shard-{index}.json"
        write_shard(
            path,
            index=index,
            count=shape.count,
            targets=targets,
            policy=POLICY,
            sources=Sources(),
            usage=usage[index - 1 :: shape.count],
            inventory=scans[index - 1 :: shape.count],
        )
        if shape.pretty:
            data = json.loads(path.read_text())
            data["inventory"] = [dict(reversed(s.items())) for s in data["inventory"]]
            path.write_text(json.dumps(data, indent=2))
        paths.append(path)
    return paths


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=shapes, order=st.randoms(use_true_random=False))
def test_the_streamed_merge_writes_the_plan_the_whole_merge_wrote(shape: Shape, order: Any) -> None:
    with tempfile.TemporaryDirectory() as where:
        paths = write_shards(shape, Path(where))
        order.shuffle(paths)
        streamed = written(runs.merge(paths, now=NOW))
        assert streamed == whole_merge(paths)
    assert json.loads(streamed)["summary"]["images"] == sum(map(sum, shape.scans.values()))


def _repositories_alive() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is Repository)


class Watching(InMemory):
    """A decision store that counts, each time a repository's verdicts come in, how many
    `Repository` objects are alive in the process beyond those alive when it was made (other
    tests of the same process may leave some alive)."""

    def __init__(self) -> None:
        super().__init__()
        gc.collect()
        self._before = _repositories_alive()
        self.most_alive = 0

    def put(self, key: RepositoryKey, decisions: Iterable[Placed]) -> None:
        alive = _repositories_alive() - self._before
        self.most_alive = max(self.most_alive, alive)
        super().put(key, decisions)


def test_the_merge_holds_one_repository_at_a_time(tmp_path: Path) -> None:
    shape = Shape(
        {(a, r): [3, 1, 4] for a in ACCOUNTS for r in REGIONS},
        frozenset({(ACCOUNTS[0], REGIONS[0], 0, 1)}),
        count=3,
        with_errors=False,
        pretty=False,
    )
    paths = write_shards(shape, tmp_path)
    repositories = 3 * len(ACCOUNTS) * len(REGIONS)

    # The probe sees what the old path held: every repository of every shard, at once.
    whole = Watching()
    _, _, _, usage, inventory = read_shards(paths)
    plan_from_scans(usage, inventory, POLICY, NOW, targets=(), sources=Sources(), store=whole)
    assert whole.most_alive == repositories

    streamed = Watching()
    shards = open_shards(paths)
    plan = plan_from_scans(
        shards.usage,
        shards.inventory,
        POLICY,
        NOW,
        targets=(),
        sources=Sources(),
        store=streamed,
    )
    assert streamed.most_alive == 1  # the one being judged
    assert len(plan.kept) + len(plan.deletions) == 8 * len(ACCOUNTS) * len(REGIONS)


def test_a_bad_repository_in_a_shard_is_named_before_anything_is_planned(tmp_path: Path) -> None:
    shape = Shape({(ACCOUNTS[0], REGIONS[0]): [2, 2]}, frozenset(), 1, False, False)
    (path,) = write_shards(shape, tmp_path)
    data = json.loads(path.read_text())
    del data["inventory"][0]["repositories"][1]["images"]
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match=r"not a valid shard file: KeyError\('images'\)"):
        open_shards([path])
    with pytest.raises(InputError, match="not a valid shard file"):
        runs.merge([path])
    path.write_text(json.dumps(data)[:-40])
    with pytest.raises(PlanFileError, match="not JSON"):
        open_shards([path])
    path.write_text("[1, 2]")
    with pytest.raises(PlanFileError, match="not an ecr-sweeper shard file"):
        open_shards([path])


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("shard", None),
        ("shard", [1]),
        ("shard", [2, 1]),
        ("shard", ["1", "1"]),
        ("shard", [True, 1]),
        ("targets", None),
        ("policy", None),
        ("sources", None),
        ("usage", None),
    ],
)
def test_a_shard_file_without_its_place_or_its_run_is_named(
    tmp_path: Path, member: str, value: Any
) -> None:
    """A member of the run missing (None here) or the shard's place not [index, count]: one
    line naming the file, before anything is planned."""
    shape = Shape({(ACCOUNTS[0], REGIONS[0]): [2, 2]}, frozenset(), 1, False, False)
    (path,) = write_shards(shape, tmp_path)
    data = json.loads(path.read_text())
    if value is None:
        del data[member]
    else:
        data[member] = value
    path.write_text(json.dumps(data))
    with pytest.raises(PlanFileError, match=f"{path}: not a valid shard file: .*{member}"):
        open_shards([path])
    with pytest.raises(InputError, match="not a valid shard file"):
        runs.merge([path])
