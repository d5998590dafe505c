"""Worker threads on the model of glibc: what stays resident as threads, and arenas, are added.

    >>> one, four = working(1), working(4)
    >>> four.rss > 3 * one.rss, working(4, arena_max=1).rss < 2 * one.rss
    (True, True)
"""

from __future__ import annotations

from functools import lru_cache

from memlab.glibc import Malloc
from memlab.replay import Replayer
from memlab.scenarios.catalog import worker_threads
from memlab.snapshot import Snapshot

__all__ = ["BLOCKS", "SIZE", "working", "trace", "threads_table"]

#: Each worker thread's blocks, and their size in bytes (``worker_threads``' defaults).
BLOCKS, SIZE = 400, 1000


def trace(threads: int, arena_max: int = 0) -> str:
    """The lesson's trace: ``worker_threads`` with BLOCKS blocks of SIZE bytes per thread.

    >>> trace(2, arena_max=1).splitlines()[:3]
    ['o M_ARENA_MAX 1', 'n 1', 'n 2']
    """
    return worker_threads(threads, arena_max, BLOCKS, SIZE)


@lru_cache(maxsize=64)
def working(threads: int, arena_max: int = 0) -> Snapshot:
    """The snapshot "working" of ``trace(threads, arena_max)`` on the model of glibc 2.36: every
    thread has built its blocks and freed all but every 50th. It carries each arena's (system
    bytes, bytes in use), main arena first, as malloc_stats() lists them.

    >>> working(1).label, len(working(1).arenas), len(working(3).arenas)
    ('working', 2, 4)
    """
    r = Replayer(trace(threads, arena_max), Malloc(), arenas=True)
    r.run()
    return next(s for s in r.snapshots if s.label == "working")


def threads_table(counts=(1, 4), limits=(0, 1)) -> str:
    """Resident memory and ``arena`` for each number of threads and M_ARENA_MAX (0: glibc's).

    >>> print(threads_table((1,), (0,)).splitlines()[0])
    threads  M_ARENA_MAX   resident (B)    arena (B)
    """
    rows = [f"{'threads':>7}  {'M_ARENA_MAX':>11}  {'resident (B)':>13}  {'arena (B)':>11}"]
    for limit in limits:
        for n in counts:
            s = working(n, limit)
            rows.append(f"{n:>7}  {limit or 'default':>11}  {s.rss:>13,}  {s.arena:>11,}")
    return "\n".join(rows)
