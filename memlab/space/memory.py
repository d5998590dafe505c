"""Physical memory of one process: resident pages with recency, swapped pages, lazily freed pages."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from ..errors import OutOfMemoryKill
from .ranges import RangeSet
from ..units import PAGE, fmt_bytes

__all__ = ["Memory"]


class Memory:
    """Where each written page lives: in RAM (resident), in swap, or nowhere (reads as zero).

    Glossary:
      segment    a run of resident pages inside one mapping, with one recency stamp
                 (the clock value of its latest write); the stamp is per segment, not per
                 page, so the bookkeeping grows with the number of runs, never with pages.
      lazy page  a resident page given MADV_FREE: still counted in RSS, dropped first
                 (without swapping) when RAM runs short; a write keeps it.
      eviction   when RSS > RAM: drop lazy pages (lowest address first), then move pages of
                 the least recently written segments to swap (lowest address first).
    All addresses and sizes are page-aligned bytes; `ram`/`swap` None means unlimited.

    >>> m = Memory(ram=2 * PAGE, swap=PAGE)
    >>> m.write(0, 2 * PAGE, 0, 8 * PAGE)
    (0, 8192)
    >>> m.write(4 * PAGE, 5 * PAGE, 0, 8 * PAGE)
    (16384, 20480)
    >>> m.rss // PAGE, m.swap // PAGE, m.swapped_ranges()
    (2, 1, [(0, 4096)])
    """

    __slots__ = ("_s", "_e", "_t", "_rss", "_clock", "_swapped", "_lazy", "_ram", "_swap_size",
                 "_swapped_out", "_swapped_in", "_reclaimed")

    def __init__(self, ram: int | None, swap: int | None) -> None:
        self._s: list[int] = []      # segment starts (sorted)
        self._e: list[int] = []      # segment ends
        self._t: list[int] = []      # segment recency stamps
        self._rss = 0
        self._clock = 0
        self._swapped = RangeSet()
        self._lazy = RangeSet()
        self._ram = ram
        self._swap_size = swap
        self._swapped_out = 0
        self._swapped_in = 0
        self._reclaimed = 0

    # --- views -------------------------------------------------------------------------
    @property
    def rss(self) -> int:
        """Resident bytes (lazy pages included, as Linux counts them).

        >>> Memory(None, None).rss
        0
        """
        return self._rss

    @property
    def swap(self) -> int:
        """Bytes of this process's pages held in swap.

        >>> Memory(None, None).swap
        0
        """
        return self._swapped.total

    @property
    def lazy(self) -> int:
        """Bytes given MADV_FREE and not yet reclaimed (part of rss).

        >>> Memory(None, None).lazy
        0
        """
        return self._lazy.total

    @property
    def counters(self) -> tuple[int, int, int]:
        """Cumulative bytes (swapped out, swapped in, lazy pages reclaimed).

        >>> Memory(None, None).counters
        (0, 0, 0)
        """
        return self._swapped_out, self._swapped_in, self._reclaimed

    def resident_ranges(self) -> list[tuple[int, int]]:
        """Resident byte ranges, adjacent segments merged.

        >>> m = Memory(None, None); _ = m.write(0, PAGE, 0, PAGE); _ = m.write(PAGE, 2 * PAGE, PAGE, 2 * PAGE)
        >>> m.resident_ranges()
        [(0, 8192)]
        """
        out: list[tuple[int, int]] = []
        for s, e in zip(self._s, self._e):
            if out and out[-1][1] == s:
                out[-1] = (out[-1][0], e)
            else:
                out.append((s, e))
        return out

    def swapped_ranges(self) -> list[tuple[int, int]]:
        """Swapped-out byte ranges.

        >>> Memory(None, None).swapped_ranges()
        []
        """
        return list(self._swapped)

    def lazy_ranges(self) -> list[tuple[int, int]]:
        """Byte ranges given MADV_FREE that are still resident.

        >>> Memory(None, None).lazy_ranges()
        []
        """
        return list(self._lazy)

    # --- changes -----------------------------------------------------------------------
    def write(self, a: int, b: int, lo: int, hi: int) -> tuple[int, int] | None:
        """Write pages [a, b) of the mapping [lo, hi): they become resident and most recent.

        Returns a range around [a, b) that is resident, not lazy and most recent (a write
        inside it needs no bookkeeping), or None if the write itself was larger than RAM.
        Raises OutOfMemoryKill, changing nothing, if RAM + swap cannot hold the pages.

        >>> m = Memory(ram=None, swap=None)
        >>> m.write(PAGE, 2 * PAGE, 0, 4 * PAGE), m.rss
        ((4096, 8192), 4096)
        """
        s, e = self._s, self._e
        i = bisect_left(e, a) if a > lo else bisect_right(e, a)
        j = bisect_right(s, b) if b < hi else bisect_left(s, b)
        covered = 0
        for k in range(i, j):
            covered += max(0, min(e[k], b) - max(s[k], a))
        missing = (b - a) - covered
        swapped_in = self._swapped.overlap(a, b) if missing and self._swapped.total else 0
        if missing and self._ram is not None:
            self._room_for(missing - swapped_in, self._lazy.overlap(a, b) if self._lazy.total else 0)
        if self._lazy.total:
            self._lazy.remove(a, b)
        if swapped_in:
            self._swapped.remove(a, b)
            self._swapped_in += swapped_in
        new_s, new_e = (min(a, s[i]), max(b, e[j - 1])) if i < j else (a, b)
        self._clock += 1
        s[i:j] = [new_s]
        e[i:j] = [new_e]
        self._t[i:j] = [self._clock]
        self._rss += missing
        if self._ram is not None and self._rss > self._ram:
            self._evict(self._rss - self._ram, a, b)
            if self._resident_overlap(a, b) != b - a:
                return None
        k = bisect_right(s, a) - 1
        if self._lazy.total:
            return self._lazy.gap_around(a, b, s[k], e[k])
        return s[k], e[k]

    def make_room(self, ranges: tuple[tuple[int, int], ...]) -> None:
        """Raise OutOfMemoryKill, changing nothing, unless RAM + swap can hold a write of ranges.

        >>> m = Memory(ram=PAGE, swap=0); m.make_room(((0, PAGE),))
        >>> m.make_room(((0, 2 * PAGE),))
        Traceback (most recent call last):
        ...
        memlab.errors.OutOfMemoryKill: Out of memory: the OOM killer ended the process (anon-rss 0 B, swap 0 B): writing 8,192 B of new pages needs more than RAM 4,096 B + swap 0 B can hold
        """
        if self._ram is None or self._swap_size is None:
            return
        fresh = kept = 0
        for a, b in ranges:
            fresh += (b - a) - self._resident_overlap(a, b) - self._swapped.overlap(a, b)
            kept += self._lazy.overlap(a, b)
        self._room_for(fresh, kept)

    def _room_for(self, fresh: int, kept: int) -> None:
        """Raise OutOfMemoryKill unless `fresh` new bytes fit, `kept` lazy bytes being kept."""
        if self._ram is None or self._swap_size is None:
            return
        droppable = self._lazy.total - kept
        if self._rss + self._swapped.total + fresh - droppable > self._ram + self._swap_size:
            raise OutOfMemoryKill(self._oom_text(fresh))

    def refresh(self, a: int, b: int) -> tuple[int, int] | None:
        """Fast write of [a, b) when it lies in one resident segment with no lazy page.

        Makes the segment most recent and returns it; returns None (changing nothing)
        when the full `write` is needed.

        >>> m = Memory(None, None); _ = m.write(0, 2 * PAGE, 0, 2 * PAGE)
        >>> m.refresh(0, PAGE), m.refresh(0, 3 * PAGE)
        ((0, 8192), None)
        """
        s, e = self._s, self._e
        k = bisect_right(s, a) - 1
        if k < 0 or e[k] < b or (self._lazy.total and self._lazy.overlap(s[k], e[k])):
            return None
        self._clock += 1
        self._t[k] = self._clock
        return s[k], e[k]

    def extend(self, a: int, b: int) -> tuple[int, int] | None:
        """Fast first write of [a, b) right after the end of a segment, when RAM has room.

        Grows that segment, makes it most recent and returns it; returns None (changing
        nothing) when the full `write` is needed. The caller checks [a, b) is in the same mapping.

        >>> m = Memory(None, None); _ = m.write(0, PAGE, 0, 4 * PAGE)
        >>> m.extend(PAGE, 2 * PAGE), m.rss, m.extend(3 * PAGE, 4 * PAGE)
        ((0, 8192), 8192, None)
        """
        s, e = self._s, self._e
        k = bisect_right(s, a - 1) - 1
        if k < 0 or e[k] != a or (k + 1 < len(s) and s[k + 1] < b) or self._lazy.total:
            return None
        if self._ram is not None and self._rss + (b - a) > self._ram:
            return None
        if self._swapped.total and self._swapped.overlap(a, b):
            return None
        self._clock += 1
        self._t[k] = self._clock
        e[k] = b
        self._rss += b - a
        return s[k], b

    def drop(self, a: int, b: int) -> int:
        """Forget pages [a, b) (unmap, brk shrink, MADV_DONTNEED); return resident bytes dropped.

        >>> m = Memory(None, None); _ = m.write(0, 3 * PAGE, 0, 3 * PAGE)
        >>> m.drop(PAGE, 2 * PAGE), m.resident_ranges()
        (4096, [(0, 4096), (8192, 12288)])
        """
        self._lazy.remove(a, b)
        self._swapped.remove(a, b)
        return self._resident_remove(a, b)

    def lazy_free(self, a: int, b: int) -> None:
        """MADV_FREE on [a, b): resident pages become lazy; swapped pages are discarded.

        >>> m = Memory(None, None); _ = m.write(0, 2 * PAGE, 0, 2 * PAGE)
        >>> m.lazy_free(0, PAGE); m.rss, m.lazy
        (8192, 4096)
        """
        self._swapped.remove(a, b)
        for x, y in self._resident_pieces(a, b):
            self._lazy.add(x, y)

    def move(self, a: int, b: int, delta: int) -> None:
        """Move every page state of [a, b) by delta bytes (mremap); the target must be empty.

        >>> m = Memory(None, None); _ = m.write(0, PAGE, 0, PAGE)
        >>> m.move(0, PAGE, 8 * PAGE); m.resident_ranges()
        [(32768, 36864)]
        """
        s, e, t = self._s, self._e, self._t
        i = bisect_right(e, a)
        moved = []
        while i < len(s) and s[i] < b:
            moved.append((max(s[i], a), min(e[i], b), t[i]))
            i += 1
        swapped = self._swapped.pieces(a, b)
        lazy = self._lazy.pieces(a, b)
        self.drop(a, b)
        for x, y, stamp in moved:
            k = bisect_left(s, x + delta)
            s.insert(k, x + delta)
            e.insert(k, y + delta)
            t.insert(k, stamp)
            self._rss += y - x
        for x, y in swapped:
            self._swapped.add(x + delta, y + delta)
        for x, y in lazy:
            self._lazy.add(x + delta, y + delta)

    # --- internals ---------------------------------------------------------------------
    def _resident_pieces(self, a: int, b: int) -> list[tuple[int, int]]:
        s, e = self._s, self._e
        i = bisect_right(e, a)
        out = []
        while i < len(s) and s[i] < b:
            out.append((max(s[i], a), min(e[i], b)))
            i += 1
        return out

    def _resident_overlap(self, a: int, b: int) -> int:
        return sum(y - x for x, y in self._resident_pieces(a, b))

    def _resident_remove(self, a: int, b: int) -> int:
        s, e, t = self._s, self._e, self._t
        i = bisect_right(e, a)
        j = bisect_left(s, b)
        if i >= j:
            return 0
        removed = sum(min(e[k], b) - max(s[k], a) for k in range(i, j))
        keep_s, keep_e, keep_t = [], [], []
        if s[i] < a:
            keep_s.append(s[i]), keep_e.append(a), keep_t.append(t[i])
        if e[j - 1] > b:
            keep_s.append(b), keep_e.append(e[j - 1]), keep_t.append(t[j - 1])
        s[i:j], e[i:j], t[i:j] = keep_s, keep_e, keep_t
        self._rss -= removed
        return removed

    def _evict(self, need: int, pa: int, pb: int) -> None:
        """Free `need` resident bytes: lazy pages first, then least recent segments; [pa, pb) last."""
        for x, y in list(self._lazy):
            take = min(y - x, need)
            self._lazy.remove(x, x + take)
            self._resident_remove(x, x + take)
            self._reclaimed += take
            need -= take
            if not need:
                return
        victims = []
        for k in sorted(range(len(self._s)), key=self._t.__getitem__):
            x, y = self._s[k], self._e[k]
            for u, v in ((x, min(y, pa)), (max(x, pb), y)):
                if u < v and need:
                    take = min(v - u, need)
                    victims.append((u, u + take))
                    need -= take
            if not need:
                break
        if need:
            victims.append((pa, pa + need))
        for u, v in victims:
            self._resident_remove(u, v)
            self._swapped.add(u, v)
            self._swapped_out += v - u

    def _oom_text(self, fresh: int) -> str:
        ram, swap = self._ram or 0, self._swap_size or 0
        return (f"Out of memory: the OOM killer ended the process (anon-rss {fmt_bytes(self._rss)}, "
                f"swap {fmt_bytes(self._swapped.total)}): writing {fmt_bytes(fresh)} of new pages "
                f"needs more than RAM {fmt_bytes(ram)} + swap {fmt_bytes(swap)} can hold")

    def check(self) -> None:
        """Raise AssertionError naming the first broken invariant of the page states.

        >>> Memory(ram=PAGE, swap=0).check()
        """
        s, e, t = self._s, self._e, self._t
        assert len(s) == len(e) == len(t), "memory: segment lists differ in length"
        total = 0
        for k in range(len(s)):
            assert s[k] < e[k], f"memory: empty resident segment at {s[k]:#x}"
            assert s[k] % PAGE == 0 and e[k] % PAGE == 0, f"memory: segment {s[k]:#x} not page aligned"
            assert k == 0 or e[k - 1] <= s[k], f"memory: resident segments overlap at {s[k]:#x}"
            assert 0 < t[k] <= self._clock, f"memory: bad recency stamp at {s[k]:#x}"
            total += e[k] - s[k]
        assert total == self._rss, f"memory: rss {self._rss} != sum of resident segments {total}"
        self._swapped.check()
        self._lazy.check()
        for x, y in self._swapped:
            assert self._resident_overlap(x, y) == 0, f"memory: page {x:#x} both resident and swapped"
        for x, y in self._lazy:
            assert self._resident_overlap(x, y) == y - x, f"memory: lazy page {x:#x} not resident"
        if self._ram is not None:
            assert self._rss <= self._ram, f"memory: rss {self._rss} > RAM {self._ram}"
        if self._swap_size is not None:
            assert self._swapped.total <= self._swap_size, "memory: swap used > swap size"
