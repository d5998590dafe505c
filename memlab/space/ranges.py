"""A set of addresses kept as sorted, disjoint half-open ranges (never one object per page)."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator

__all__ = ["RangeSet"]


class RangeSet:
    """Sorted disjoint ranges [start, end); ranges that touch are merged.

    Costs depend on the number of ranges, not on their lengths: a set holding
    one 3 GiB range is two integers.

    >>> s = RangeSet()
    >>> s.add(0, 8192), s.add(4096, 12288), list(s), s.total
    (8192, 4096, [(0, 12288)], 12288)
    >>> s.remove(4096, 8192), list(s)
    (4096, [(0, 4096), (8192, 12288)])
    """

    __slots__ = ("_starts", "_ends", "_total")

    def __init__(self, ranges: tuple[tuple[int, int], ...] = ()) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._total = 0
        for start, end in ranges:
            self.add(start, end)

    @property
    def total(self) -> int:
        """Sum of the lengths of all ranges.

        >>> RangeSet(((0, 10), (20, 25))).total
        15
        """
        return self._total

    def __len__(self) -> int:
        return len(self._starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(list(zip(self._starts, self._ends)))

    def add(self, start: int, end: int) -> int:
        """Add [start, end); return how many addresses were not in the set before.

        >>> s = RangeSet(((0, 10),))
        >>> s.add(5, 20), list(s)
        (10, [(0, 20)])
        """
        if start >= end:
            return 0
        starts, ends = self._starts, self._ends
        i = bisect_left(ends, start)   # first range ending at or after start (touching merges)
        j = bisect_right(starts, end)  # first range starting after end
        old = 0
        if i < j:
            old = sum(ends[k] - starts[k] for k in range(i, j))
            start = min(start, starts[i])
            end = max(end, ends[j - 1])
        starts[i:j] = [start]
        ends[i:j] = [end]
        added = (end - start) - old
        self._total += added
        return added

    def remove(self, start: int, end: int) -> int:
        """Remove [start, end); return how many addresses were in the set.

        >>> s = RangeSet(((0, 100),))
        >>> s.remove(10, 20), s.remove(10, 20), list(s)
        (10, 0, [(0, 10), (20, 100)])
        """
        if start >= end:
            return 0
        starts, ends = self._starts, self._ends
        i = bisect_right(ends, start)   # first range ending after start
        j = bisect_left(starts, end)    # first range starting at or after end
        if i >= j:
            return 0
        removed = sum(min(ends[k], end) - max(starts[k], start) for k in range(i, j))
        keep_s: list[int] = []
        keep_e: list[int] = []
        if starts[i] < start:
            keep_s.append(starts[i])
            keep_e.append(start)
        if ends[j - 1] > end:
            keep_s.append(end)
            keep_e.append(ends[j - 1])
        starts[i:j] = keep_s
        ends[i:j] = keep_e
        self._total -= removed
        return removed

    def overlap(self, start: int, end: int) -> int:
        """How many addresses of [start, end) are in the set.

        >>> RangeSet(((0, 10), (20, 30))).overlap(5, 25)
        10
        """
        return sum(e - s for s, e in self.pieces(start, end))

    def pieces(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of [start, end) that are in the set, in address order.

        >>> RangeSet(((0, 10), (20, 30))).pieces(5, 25)
        [(5, 10), (20, 25)]
        """
        starts, ends = self._starts, self._ends
        i = bisect_right(ends, start)
        out = []
        while i < len(starts) and starts[i] < end:
            out.append((max(starts[i], start), min(ends[i], end)))
            i += 1
        return out

    def gaps(self, start: int, end: int) -> list[tuple[int, int]]:
        """The parts of [start, end) that are not in the set, in address order.

        >>> RangeSet(((0, 10), (20, 30))).gaps(5, 35)
        [(10, 20), (30, 35)]
        """
        out = []
        at = start
        for s, e in self.pieces(start, end):
            if s > at:
                out.append((at, s))
            at = e
        if at < end:
            out.append((at, end))
        return out

    def covers(self, start: int, end: int) -> bool:
        """True when every address of [start, end) is in the set.

        >>> s = RangeSet(((0, 10),))
        >>> s.covers(2, 8), s.covers(5, 15)
        (True, False)
        """
        i = bisect_right(self._starts, start) - 1
        return i >= 0 and self._ends[i] >= end

    def gap_around(self, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
        """The gap of the set holding [start, end) (outside the set), clipped to [lo, hi).

        >>> RangeSet(((0, 10), (20, 30))).gap_around(12, 15, 0, 100)
        (10, 20)
        >>> RangeSet(((0, 10),)).gap_around(12, 15, 11, 50)
        (11, 50)
        """
        i = bisect_right(self._ends, start)
        if i > 0:
            lo = max(lo, self._ends[i - 1])
        if i < len(self._starts):
            hi = min(hi, self._starts[i])
        return lo, hi

    def check(self) -> None:
        """Raise AssertionError unless ranges are non-empty, sorted, disjoint and not touching.

        >>> RangeSet(((0, 10), (10, 20))).check()
        """
        total = 0
        for k, (s, e) in enumerate(zip(self._starts, self._ends)):
            assert s < e, f"range set: empty range ({s:#x}, {e:#x})"
            if k:
                assert self._ends[k - 1] < s, f"range set: ranges touch or overlap at {s:#x}"
            total += e - s
        assert total == self._total, f"range set: total {self._total} != sum of ranges {total}"
