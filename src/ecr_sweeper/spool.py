"""The planner's decisions on disk: each repository's verdicts pickled to a temporary file as
soon as it is judged, so that a run holds the decisions of one repository at a time, not of
every image. In memory stays only where each repository's verdicts are (an index of offsets,
one entry per repository), which grows with repositories, not images.

The file is private to this process (an unnamed temporary file, removed when closed or when
the process ends) and read back only by it: pickle is safe here.
"""

from __future__ import annotations

import pickle
import tempfile
import weakref
from collections.abc import Iterable, Iterator

from ecr_sweeper.model import Decision, Repository, RepositoryKey


class Spool:
    """A `plan.DecisionStore` in a temporary file."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the plan lives
        # Closed (and so removed) when the plan that reads it is gone.
        self._closed = weakref.finalize(self, self._file.close)
        self._where: dict[RepositoryKey, list[tuple[int, int]]] = {}
        self._end = 0

    def put(self, key: RepositoryKey, kept: list[Decision], deletions: list[Decision]) -> None:
        """Add verdicts of one repository (at the end of the file)."""
        data = pickle.dumps((kept, deletions), protocol=pickle.HIGHEST_PROTOCOL)
        self._file.seek(self._end)
        self._file.write(data)
        self._where.setdefault(key, []).append((self._end, len(data)))
        self._end += len(data)

    def repositories(self) -> Iterable[RepositoryKey]:
        """Every repository with verdicts."""
        return self._where.keys()

    def get(self, key: RepositoryKey) -> tuple[list[Decision], list[Decision]]:
        """Every verdict of one repository: (kept, to delete), in the order put."""
        kept: list[Decision] = []
        deletions: list[Decision] = []
        for offset, size in self._where.get(key, ()):
            self._file.seek(offset)
            more_kept, more_deletions = pickle.loads(self._file.read(size))  # noqa: S301 - our own file
            kept += more_kept
            deletions += more_deletions
        return kept, deletions

    def close(self) -> None:
        """Remove the file (the plan's decisions are gone with it)."""
        self._closed()


class Spilled:
    """Repositories read before the run's usage is known, beyond what may wait in memory:
    pickled to an unnamed temporary file as they come, read back one at a time."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - open until read back
        self._closed = weakref.finalize(self, self._file.close)
        self._sizes: list[int] = []

    def __len__(self) -> int:
        return len(self._sizes)

    def put(self, repository: Repository) -> None:
        """Keep one repository (at the end of the file)."""
        data = pickle.dumps(repository, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.write(data)
        self._sizes.append(len(data))

    def drain(self) -> Iterator[Repository]:
        """Every repository kept, in the order put, one at a time; then the file is gone."""
        self._file.seek(0)
        for size in self._sizes:
            yield pickle.loads(self._file.read(size))  # noqa: S301 - our own file
        self._sizes.clear()
        self._closed()
