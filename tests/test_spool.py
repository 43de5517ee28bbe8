"""spool.py: what an apply did, on disk (`SpooledOutcomes`), read back as the same outcomes an
in-memory `DeleteOutcome` collects, repository by repository, each repository's images by
digest; and the report's listings of it, streamed, are the documents they always were."""

from __future__ import annotations

import copyreg
import json
from dataclasses import fields
from typing import get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecr_sweeper.model import (
    Decision,
    Image,
    InspectorSighting,
    Plan,
    Policy,
    PullAccess,
    Reason,
    Repository,
    RepositoryKey,
    Unused,
)
from ecr_sweeper.report import apply_json, apply_markdown, apply_rows
from ecr_sweeper.results import ApplyResult, DeleteOutcome
from ecr_sweeper.spool import _REDUCE, Pieces, Spilled, SpooledOutcomes
from planning import NOW, OCI_MANIFEST, digest, image, key

KEYS = [key("api"), key("web"), key("api", region="eu-west-1"), key("x", account="2" * 12)]
OUTCOMES = [f.name for f in fields(DeleteOutcome)]
WITH_WHY = {"failed", "skipped"}


def decision(n: int, where: int) -> Decision:
    return Decision(
        repository=KEYS[where],
        digest=digest(f"{where}/{n}"),
        tags=(f"v{n}",) if n % 3 else (),
        size_bytes=1000 + n,
        pushed_at=NOW,
        media_type=OCI_MANIFEST,
        reason=Unused(min_age_days=14, keep_last=10),
    )


@st.composite
def batches(draw: st.DrawFn) -> list[DeleteOutcome]:
    """Batches as apply merges them: each image in one outcome of one batch, a batch mostly
    of one repository (BatchDeleteImage's) but any mix is allowed."""
    images = draw(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3)), unique=True))
    made: list[DeleteOutcome] = [DeleteOutcome() for _ in range(draw(st.integers(1, 5)))]
    for n, where in images:
        batch = made[draw(st.integers(0, len(made) - 1))]
        name = draw(st.sampled_from(OUTCOMES))
        d = decision(n, where)
        getattr(batch, name).append((d, f"why {n}") if name in WITH_WHY else d)
    return made


def _place(item: object) -> tuple[object, str]:
    d = item if isinstance(item, Decision) else item[0]  # type: ignore[index]
    assert isinstance(d, Decision)
    return d.repository, d.digest


@settings(max_examples=150, deadline=None)
@given(batches())
def test_spooled_outcomes_are_the_merged_outcomes_by_repository_then_digest(
    made: list[DeleteOutcome],
) -> None:
    in_memory = DeleteOutcome()
    spooled = SpooledOutcomes()
    for batch in made:
        in_memory.merge(batch)
        spooled.merge(batch)
    for name in OUTCOMES:
        expected = sorted(getattr(in_memory, name), key=_place)
        listed = getattr(spooled, name)
        assert len(listed) == len(expected), name
        assert list(listed) == expected, name
        assert listed == expected
        assert bool(listed) == bool(expected)
        if expected:
            assert listed[0] == expected[0]
    spooled.close()


def _result(made: list[DeleteOutcome]) -> ApplyResult:
    spooled = SpooledOutcomes()
    for batch in made:
        spooled.merge(batch)
    fresh = Plan(created_at=NOW, policy=Policy(), targets=(), deletions=(), kept=(), errors=())
    return ApplyResult(fresh, spooled)


@settings(max_examples=60, deadline=None)
@given(batches())
def test_the_streamed_apply_listings_are_whole_documents_with_a_row_per_image(
    made: list[DeleteOutcome],
) -> None:
    result = _result(made)
    text = "".join(apply_json(result))
    document = json.loads(text)
    assert text == json.dumps(document, indent=2) + "\n"  # the format of json.dumps(indent=2)
    rows = list(apply_rows(result))
    assert [i["image_digest"] for i in document["images"]] == [r.decision.digest for r in rows]
    assert len(rows) == sum(len(getattr(b, name)) for b in made for name in OUTCOMES)
    assert document["summary"]["deleted"] == sum(len(b.deleted) for b in made)
    markdown = "".join(apply_markdown(result))
    table = [line for line in markdown.splitlines() if line.startswith("| ")]
    assert len(table) == (len(rows) + 1 if rows else 0)  # the header, then a row per image


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 7), max_size=5), st.integers(1, 3))
def test_spilled_repositories_come_back_whole_in_the_order_put(
    sizes: list[int], piece: int
) -> None:
    # Each repository's images are pickled in pieces of `piece`: they come back the same
    # repository, its images in their order, and the file is gone once drained.
    repositories = [
        Repository(
            KEYS[n % len(KEYS)],
            tuple(image(f"{n}/{k}", f"v{k}") for k in range(size)),
            pull_access=PullAccess(accounts=(str(n),)),
        )
        for n, size in enumerate(sizes)
    ]
    spilled = Spilled(piece)
    for repository in repositories:
        spilled.put(repository)
    assert len(spilled) == len(repositories)
    assert list(spilled.drain()) == repositories
    assert len(spilled) == 0


# What the spool's files hold: repositories read early (their images), decisions (their
# reasons), apply's outcomes.
HELD = sorted(
    {Repository, Image, PullAccess, InspectorSighting, RepositoryKey, Decision, *get_args(Reason)},
    key=lambda cls: cls.__name__,
)


def test_what_the_spool_holds_is_pickled_by_its_fields() -> None:
    assert set(HELD) <= _REDUCE.keys() - copyreg.dispatch_table.keys()


@pytest.mark.parametrize("cls", HELD, ids=lambda cls: cls.__name__)
@settings(max_examples=10, deadline=None)
@given(st.data())
def test_what_the_spool_pickles_by_fields_comes_back_equal(cls: type, data: st.DataObject) -> None:
    # Each of the model's frozen dataclasses, with values of its fields' types (nested ones
    # included): loaded back equal, of the same class, through the spool's own file.
    values = data.draw(st.lists(st.from_type(cls), min_size=1, max_size=4))
    pieces = Pieces[object](piece=3)
    back = [item for where in pieces.put(values) for item in pieces.load(where)]
    assert repr(back) == repr(values)  # equal field by field (a float may be nan)
    assert {type(v) for v in back} == {cls}
