"""The list of anonymous mmap regions and Linux's top-down search for a free gap.

The gaps between neighbouring regions are also filed by size class (powers of two),
each class a sorted list of gap end addresses, so `place` finds the highest gap that
fits by looking at the top of each bigger class and at one class's entries, instead
of walking every region from the top.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort

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

    __slots__ = ("_starts", "_ends", "_gap", "_classes")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []
        # gaps between neighbours: gap end (the upper region's start) -> gap size,
        # and per size class (bit length - 1) the sorted ends of its gaps
        self._gap: dict[int, int] = {}
        self._classes: list[list[int]] = [[] for _ in range(65)]

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
        starts, ends = self._starts, self._ends
        if not starts or not (low <= starts[0] and ends[-1] <= high):
            return self._place_scan(length, low, high)
        if high - ends[-1] >= length:                 # above the highest region
            return high - length
        best = None                                   # highest fitting gap end so far
        k = max(length, 1).bit_length() - 1
        classes = self._classes
        for c in range(k + 1, len(classes)):          # every gap of a bigger class fits
            found = classes[c]
            if found and (best is None or found[-1] > best):
                best = found[-1]
        gap = self._gap
        for end in reversed(classes[k]):              # the length's own class: check sizes
            if best is not None and end <= best:
                break
            if gap[end] >= length:
                best = end
                break
        if best is not None:
            return best - length
        if starts[0] - low >= length:                 # below the lowest region
            return starts[0] - length
        return None

    def _place_scan(self, length: int, low: int, high: int) -> int | None:
        """`place` by walking the regions down from the top (any low and high)."""
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

    def _forget_gaps(self, lo: int, hi: int) -> None:
        """Unfile the gaps between regions k and k+1 for k in [lo, hi)."""
        starts, gap, classes = self._starts, self._gap, self._classes
        for k in range(max(lo, 0), min(hi, len(starts) - 1)):
            end = starts[k + 1]
            size = gap.pop(end, 0)
            if size:
                found = classes[size.bit_length() - 1]
                del found[bisect_left(found, end)]

    def _file_gaps(self, lo: int, hi: int) -> None:
        """File the gaps between regions k and k+1 for k in [lo, hi)."""
        starts, ends, gap, classes = self._starts, self._ends, self._gap, self._classes
        for k in range(max(lo, 0), min(hi, len(starts) - 1)):
            end = starts[k + 1]
            size = end - ends[k]
            if size > 0:
                gap[end] = size
                insort(classes[size.bit_length() - 1], end)

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
        self._forget_gaps(k - 1, k)
        self._starts.insert(k, start)
        self._ends.insert(k, end)
        self._file_gaps(k - 1, k + 1)

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
        self._forget_gaps(i - 1, j)
        starts[i:j] = keep_s
        ends[i:j] = keep_e
        self._file_gaps(i - 1, i + len(keep_s))
        return removed

    def extend(self, start: int, new_end: int) -> None:
        """Move the end of the region starting at `start` (the caller checked the space is free).

        >>> t = MapTable(); t.add(0, 10); t.extend(0, 30); list(t)
        [(0, 30)]
        """
        k = bisect_left(self._starts, start)
        assert self._starts[k] == start, "extend: no region starts there"
        self._forget_gaps(k, k + 1)
        self._ends[k] = new_end
        self._file_gaps(k, k + 1)

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
        gaps = {s: s - e for e, s in zip(self._ends, self._starts[1:]) if s > e}
        assert self._gap == gaps, "mappings: the gap index differs from the regions"
        for c, found in enumerate(self._classes):
            assert found == sorted(e for e, size in gaps.items() if size.bit_length() - 1 == c), \
                f"mappings: gap size class {c} is wrong"
