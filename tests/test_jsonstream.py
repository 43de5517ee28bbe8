"""The streaming JSON reader: what it reads is what `json.loads` reads, whatever the layout and
wherever the file's chunks split it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecr_sweeper.jsonstream import (
    JSONStreamError,
    NotAnObjectError,
    Streamed,
    elements,
    members,
)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
documents = st.dictionaries(st.text(max_size=6), values | st.lists(values, max_size=8), max_size=6)
# Generating nested documents is slow on a busy machine: no deadline, no slowness check.
slow_ok = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_back(raw: bytes, streamed: frozenset[str], chunk: int) -> dict[str, Any]:
    file = io.BytesIO(raw)
    found: dict[str, Any] = {}
    offsets = {}
    for key, value in members(file, streamed, chunk):
        if isinstance(value, Streamed):
            offsets[key] = value.at
            found[key] = list(value)  # read as it is met
        else:
            found[key] = value
    for key, at in offsets.items():  # and again from its offset
        assert list(elements(io.BytesIO(raw), at, chunk)) == found[key]
    return found


@slow_ok
@given(
    document=documents,
    indent=st.sampled_from([None, 2]),
    ascii_only=st.booleans(),
    chunk=st.integers(1, 64),
)
def test_what_is_streamed_is_what_json_loads_reads(
    document: dict[str, Any], indent: int | None, ascii_only: bool, chunk: int
) -> None:
    raw = json.dumps(document, indent=indent, ensure_ascii=ascii_only).encode()
    streamed = frozenset(k for k, v in document.items() if isinstance(v, list))
    assert read_back(raw, streamed, chunk) == json.loads(raw)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"[1, 2]", NotAnObjectError),
        (b"7", NotAnObjectError),
        (b'{"a": [1, 2}', JSONStreamError),
        (b'{"a": 1', JSONStreamError),
        (b'{"a": 1} 2', JSONStreamError),
        (b"{not json", JSONStreamError),
        (b"", JSONStreamError),
    ],
)
def test_what_is_not_a_json_object_is_an_error(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        list(members(io.BytesIO(raw), frozenset({"a"}), 3))


objects_with_arrays = st.lists(
    st.dictionaries(st.sampled_from(["a", "inner", "z"]), values | st.lists(values, max_size=5)),
    max_size=5,
)


@slow_ok
@given(
    outer=objects_with_arrays,
    after=values,
    indent=st.sampled_from([None, 2]),
    chunk=st.integers(1, 64),
    skipped=st.frozensets(st.integers(0, 4)),
)
def test_objects_in_an_array_are_read_member_by_member(
    outer: list[dict[str, Any]], after: Any, indent: int | None, chunk: int, skipped: frozenset[int]
) -> None:
    """`Streamed.objects`: each element's members, its `inner` array streamed; an element the
    caller leaves unread (or half read) is skipped, and what follows reads as before."""
    raw = json.dumps({"outer": outer, "after": after}, indent=indent).encode()
    found: dict[str, Any] = {}
    for key, value in members(io.BytesIO(raw), frozenset({"outer"}), chunk):
        if not isinstance(value, Streamed):
            found[key] = value
            continue
        found[key] = []
        for n, element in enumerate(value.objects(frozenset({"inner"}))):
            if n in skipped:
                next(element, None)  # one member at most, the rest skipped
                found[key].append(None)
                continue
            read = {}
            for name, member in element:
                if isinstance(member, Streamed):
                    read[name] = list(member)
                    assert list(elements(io.BytesIO(raw), member.at, chunk)) == read[name]
                else:
                    read[name] = member
            found[key].append(read)
    assert found == {
        "outer": [None if n in skipped else o for n, o in enumerate(outer)],
        "after": after,
    }
