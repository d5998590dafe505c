"""One trace run on several real allocators: resident memory and the break over the trace, side by side.

Only what every allocator has is kept: the program break's growth and the anonymous resident bytes
(TRACE-FORMAT.md's ``brk`` and ``rss``). mallinfo2's fields are glibc's own; a preloaded rival does
not implement mallinfo2, so its fields are not measured at all (not shown as zeros), and the
trace's ``t`` and ``o`` lines, calls into glibc's malloc, are skipped for it.

>>> p = Point(3, "end", 0, 8192)
>>> s = AllocatorSeries("jemalloc", (Point(1, "", 0, 4096), p))
>>> s.ops, s.rss, s.end, s.peak
((1, 3), (4096, 8192), Point(op=3, label='end', brk=0, rss=8192), 8192)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from memlab.native.allocators import NAMES, allocator
from memlab.native.runner import replay_native
from memlab.trace import Op

__all__ = ["Point", "AllocatorSeries", "AllocatorRuns", "run_allocators", "count_operations", "POINTS"]

#: How many snapshots run_allocators aims for over a trace when not told `every`.
POINTS = 200
_OPERATIONS = frozenset("afrcmwto")
_GLIBC_ONLY = frozenset("to")


@dataclass(frozen=True, slots=True)
class Point:
    """One snapshot reduced to what every allocator has: the break's growth and resident bytes."""

    op: int
    label: str
    brk: int
    rss: int


@dataclass(frozen=True, slots=True)
class AllocatorSeries:
    """One allocator's snapshots over a trace, in order."""

    name: str
    points: tuple[Point, ...]

    @property
    def ops(self) -> tuple[int, ...]:
        """The operation count at each snapshot."""
        return tuple(p.op for p in self.points)

    @property
    def rss(self) -> tuple[int, ...]:
        """Resident bytes added since the replay began, at each snapshot."""
        return tuple(p.rss for p in self.points)

    @property
    def brk(self) -> tuple[int, ...]:
        """How far the program break has moved, at each snapshot."""
        return tuple(p.brk for p in self.points)

    @property
    def end(self) -> Point:
        """The last snapshot (after the trace's last operation)."""
        return self.points[-1]

    @property
    def peak(self) -> int:
        """The largest resident figure among the snapshots."""
        return max(self.rss)


@dataclass(frozen=True, slots=True)
class AllocatorRuns:
    """The same trace on several allocators: one series each, and the trace's glibc-only lines.

    ``glibc_only`` counts the trace's ``t`` and ``o`` lines, which only glibc runs.

    >>> runs = AllocatorRuns("demo", 3, 0, (AllocatorSeries("glibc", (Point(3, "end", 4096, 4096),)),))
    >>> runs.names, runs["glibc"].end.rss
    (('glibc',), 4096)
    """

    trace: str
    operations: int
    glibc_only: int
    series: tuple[AllocatorSeries, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The allocators, in the order they were run."""
        return tuple(s.name for s in self.series)

    def __getitem__(self, name: str) -> AllocatorSeries:
        for s in self.series:
            if s.name == name:
                return s
        raise KeyError(f"no series for {name!r}; have {', '.join(self.names)}")

    def ends(self) -> dict[str, int]:
        """Resident bytes at the end of the trace, per allocator."""
        return {s.name: s.end.rss for s in self.series}


def _kinds(trace: str | Path | Sequence[Op]) -> tuple[int, int]:
    """(operations, t and o lines) of a trace file or an Op sequence, without replaying it."""
    if isinstance(trace, (str, Path)):
        total = glibc_only = 0
        with open(trace, "rb") as f:
            for line in f:
                head = line.lstrip()[:2]
                if len(head) == 2 and head[1:] in (b" ", b"\t") and chr(head[0]) in _OPERATIONS:
                    total += 1
                    glibc_only += chr(head[0]) in _GLIBC_ONLY
        return total, glibc_only
    ops = [op for op in trace if op.kind != "snapshot"]
    return len(ops), sum(op.kind in ("trim", "mallopt") for op in ops)


def count_operations(trace: str | Path | Sequence[Op]) -> int:
    """How many operations (lines other than snapshots, comments and blanks) a trace has.

    >>> from memlab.trace import parse_trace
    >>> count_operations(parse_trace("a 0 10\\ns here\\nf 0\\n"))
    2
    """
    return _kinds(trace)[0]


def run_allocators(trace: str | Path | Sequence[Op], every: int | None = None,
                   names: Sequence[str] = NAMES, points: int = POINTS) -> AllocatorRuns:
    """Replay ``trace`` on each real allocator in ``names``; return their series side by side.

    Without ``every``, a snapshot is taken about ``points`` times over the trace (and at its
    ``s`` lines). A rival that is not installed raises AllocatorMissing, naming its package.
    Every run starts its allocator before measuring (see replay.c's --rival), so each series
    counts the trace's memory, not the allocator's start-up.
    """
    chosen = [allocator(n).name for n in names]
    if not chosen:
        raise ValueError("name at least one allocator")
    operations, glibc_only = _kinds(trace)
    if every is None:
        every = max(1, operations // max(1, points))
    series = []
    for name in chosen:
        snaps = replay_native(trace, every, allocator=name)
        series.append(AllocatorSeries(name, tuple(Point(s["op"], s["label"], s["brk"], s["rss"])
                                                  for s in snaps)))
    title = Path(trace).name if isinstance(trace, (str, Path)) else f"{operations} operations"
    return AllocatorRuns(title, operations, glibc_only, tuple(series))

