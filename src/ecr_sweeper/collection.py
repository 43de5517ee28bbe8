"""How often CPython's cyclic garbage collector runs while a sweep runs.

A sweep holds a large live set (the run's usage, images waiting for the planner, decisions,
clients and their models: hundreds of thousands of objects) and allocates short-lived
objects by the million (every answer's JSON, requests, tasks, futures). With CPython's default
thresholds (700, 10, 10) a full collection, which walks the whole live set, comes every
~70,000 allocations: on the benchmark's organization (21,800 calls) collections were about
40% of the sweep's CPU (14.2 s of CPU with the defaults, 8.2 s with a first threshold of
100,000; 50,000 gave 8.5 s, 200,000 and 400,000 no less than 100,000; same plan and peak
memory; one run each of a 30-account sweep on the emulator, the note of issue 13). The
sweep's garbage is almost all acyclic and freed by reference counting, so collecting less
often costs little memory.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

SWEEP_THRESHOLD = 100_000  # allocations between two young-generation collections


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Within the block, the young generation is collected every `SWEEP_THRESHOLD`
    allocations (the older generations' ratios unchanged); the thresholds are restored on
    leaving it."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], SWEEP_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
