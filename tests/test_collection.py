"""collection.py: a sweep collects garbage less often, and leaves the thresholds as it found
them."""

from __future__ import annotations

import gc

import pytest

from ecr_sweeper.collection import SWEEP_THRESHOLD, fewer_collections


def test_the_young_generation_is_collected_less_often_within_and_as_before_after() -> None:
    before = gc.get_threshold()
    with fewer_collections():
        inside = gc.get_threshold()
    assert inside == (max(before[0], SWEEP_THRESHOLD), *before[1:])
    assert inside[0] >= SWEEP_THRESHOLD > before[0]
    assert gc.get_threshold() == before


def test_the_thresholds_are_restored_when_the_sweep_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a failed sweep")
    assert gc.get_threshold() == before
