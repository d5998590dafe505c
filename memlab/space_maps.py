"""The list of anonymous mmap regions and Linux's top-down search for a free gap."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

__all__ = ["MapTable"]


class MapTable:
    """Sorted, non-overlapping [start, end) regions; unlike a range set, neighbours stay separate.

    >>> t = MapTable()
    >>> t.place(8192, low=0, high=65536)
    57344
    >>> t.add(57344, 65536); t.place(4096, low=0, high=65536)
    53248
    >>> t.remove(57344, 61440), list(t)
    (4096, [(61440, 65536)])
    """

    __slots__ = ("_starts", "_ends")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def __iter__(self):
        return iter(list(zip(self._starts, self._ends)))

    def __len__(self) -> int:
        return len(self._starts)

    @property
    def total(self) -> int:
        """Bytes in all regions.

        >>> t = MapTable(); t.add(0, 10); t.add(10, 30); t.total
        30
        """
        return sum(e - s for s, e in zip(self._starts, self._ends))

    def place(self, length: int, low: int, high: int) -> int | None:
        """Start of the highest gap in [low, high) that holds length bytes, or None.

        This is the kernel's top-down rule: the new region ends where the free space
        below `high` (or below the lowest region above the gap) ends.

        >>> t = MapTable(); t.add(20, 30); t.add(40, 50)
        >>> t.place(10, 0, 50), t.place(11, 0, 50), t.place(30, 0, 50)
        (30, 9, None)
        """
        gap_end = high
        for k in range(len(self._starts) - 1, -1, -1):
            s, e = self._starts[k], self._ends[k]
            if s >= gap_end:
                continue
            if gap_end - max(e, low) >= length:
                return gap_end - length
            gap_end = s
            if gap_end <= low:
                return None
        if gap_end - low >= length:
            return gap_end - length
        return None

    def add(self, start: int, end: int) -> None:
        """Insert the region [start, end), which must not overlap any region.

        >>> t = MapTable(); t.add(0, 10); t.add(5, 20)
        Traceback (most recent call last):
        ...
        ValueError: region [0x5, 0x14) overlaps a mapped region
        """
        if not self.is_free(start, end):
            raise ValueError(f"region [{start:#x}, {end:#x}) overlaps a mapped region")
        k = bisect_left(self._starts, start)
        self._starts.insert(k, start)
        self._ends.insert(k, end)

    def remove(self, a: int, b: int) -> int:
        """Unmap [a, b) from every region it meets (splitting them); return bytes removed.

        >>> t = MapTable(); t.add(0, 30); t.remove(10, 20), list(t)
        (10, [(0, 10), (20, 30)])
        """
        starts, ends = self._starts, self._ends
        i = bisect_right(ends, a)
        j = bisect_left(starts, b)
        if i >= j:
            return 0
        removed = sum(min(ends[k], b) - max(starts[k], a) for k in range(i, j))
        keep_s, keep_e = [], []
        if starts[i] < a:
            keep_s.append(starts[i])
            keep_e.append(a)
        if ends[j - 1] > b:
            keep_s.append(b)
            keep_e.append(ends[j - 1])
        starts[i:j] = keep_s
        ends[i:j] = keep_e
        return removed

    def extend(self, start: int, new_end: int) -> None:
        """Move the end of the region starting at `start` (the caller checked the space is free).

        >>> t = MapTable(); t.add(0, 10); t.extend(0, 30); list(t)
        [(0, 30)]
        """
        k = bisect_left(self._starts, start)
        assert self._starts[k] == start, "extend: no region starts there"
        self._ends[k] = new_end

    def region_at(self, addr: int) -> tuple[int, int] | None:
        """The region holding addr, or None.

        >>> t = MapTable(); t.add(10, 20); t.region_at(15), t.region_at(20)
        ((10, 20), None)
        """
        k = bisect_right(self._starts, addr) - 1
        if k >= 0 and addr < self._ends[k]:
            return self._starts[k], self._ends[k]
        return None

    def next_start(self, addr: int) -> int | None:
        """Start of the first region at or above addr, or None.

        >>> t = MapTable(); t.add(10, 20); t.next_start(0), t.next_start(11)
        (10, None)
        """
        k = bisect_left(self._starts, addr)
        return self._starts[k] if k < len(self._starts) else None

    def is_free(self, a: int, b: int) -> bool:
        """True when no region meets [a, b).

        >>> t = MapTable(); t.add(10, 20); t.is_free(0, 10), t.is_free(0, 11)
        (True, False)
        """
        i = bisect_right(self._ends, a)
        return i >= len(self._starts) or self._starts[i] >= b

    def pieces(self, a: int, b: int) -> list[tuple[int, int, int, int]]:
        """(piece start, piece end, region start, region end) for each region meeting [a, b).

        >>> t = MapTable(); t.add(0, 10); t.add(10, 20); t.pieces(5, 15)
        [(5, 10, 0, 10), (10, 15, 10, 20)]
        """
        i = bisect_right(self._ends, a)
        out = []
        while i < len(self._starts) and self._starts[i] < b:
            s, e = self._starts[i], self._ends[i]
            out.append((max(s, a), min(e, b), s, e))
            i += 1
        return out

    def check(self) -> None:
        """Raise AssertionError unless regions are non-empty, sorted and disjoint.

        >>> t = MapTable(); t.add(0, 10); t.add(10, 20); t.check()
        """
        for k, (s, e) in enumerate(zip(self._starts, self._ends)):
            assert s < e, f"mappings: empty mapping at {s:#x}"
            assert k == 0 or self._ends[k - 1] <= s, f"mappings overlap at {s:#x}"
