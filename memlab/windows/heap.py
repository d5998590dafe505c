"""A Windows heap as documented: segments reserved and committed as it grows, big blocks apart.

A growable heap (HeapCreate with a maximum of 0) reserves a first segment and commits pages of
it as blocks are carved; when no segment has room it reserves a new one, twice the size of the
last (halved until it fits; the model's choice). A block bigger than the large-block limit gets
a VirtualAlloc region of its own, given back at HeapFree. Freed blocks are kept for reuse and
merged with free neighbours; a segment goes back only when the heap is destroyed. A model of the
documented behaviour, not of Microsoft's code.

>>> from memlab.units import GiB, KiB
>>> from memlab.windows.space import Space
>>> h = Heap(Space(2 * GiB), "heap")
>>> a = h.alloc(100); b = h.alloc(100)
>>> b - a                             # 100 bytes + the 8-byte header, rounded to 8
112
>>> h.free(a); h.alloc(90) == a       # the freed block is reused
True
>>> big = h.alloc(600 * KiB); big % (64 * KiB)   # a region of its own, after its header
32
>>> len(h.segments()), h.in_use
(1, 224)
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from itertools import accumulate

from memlab.units import align_up
from memlab.windows.facts import (
    BLOCK_ALIGN, BLOCK_HEADER, GRANULARITY, LARGE_BLOCK, LARGE_HEADER, PAGE, SEGMENT_RESERVE,
)
from memlab.windows.space import Space, WinApiError

__all__ = ["Heap", "block_size"]


def block_size(n: int) -> int:
    """The bytes a request of ``n`` takes in a segment: header added, rounded up to 8.

    >>> block_size(1), block_size(300), block_size(400)
    (16, 312, 408)
    """
    return max(2 * BLOCK_ALIGN, align_up(n + BLOCK_HEADER, BLOCK_ALIGN))


class _Segment:
    __slots__ = ("base", "end", "top")

    def __init__(self, base: int, size: int) -> None:
        self.base, self.end, self.top = base, base + size, base   # [top, end) is never carved yet


class Heap:
    """One heap: its segments, its blocks, its big blocks' own regions (see the module)."""

    def __init__(self, space: Space, name: str, initial: int = 0,
                 reserve: int = SEGMENT_RESERVE) -> None:
        self._space = space
        self.name = name
        self._segments: list[_Segment] = []
        self._next_reserve = max(align_up(reserve, GRANULARITY), align_up(initial, GRANULARITY))
        self._used: dict[int, int] = {}          # block address -> block size (in a segment)
        self._free: dict[int, int] = {}          # free block address -> size
        self._free_end: dict[int, int] = {}      # free block end -> address
        self._by_size: dict[int, list[int]] = {} # size -> free blocks of it (may hold stale ones)
        self._sizes: list[int] = []              # sizes with a list in _by_size, sorted
        self._large: dict[int, int] = {}         # big block address -> its region's base
        self._bases: list[int] = []              # segment bases, sorted; and their segments
        self._by_base: dict[int, _Segment] = {}
        self._carving = 0                        # the segment new blocks were carved from last
        self.destroyed = False
        if self._grow(0, initial) is None:
            raise WinApiError(f"HeapCreate: no room for a {self._next_reserve:,}-byte segment")
        self._space.commit(self._segments[0].base, max(PAGE, initial))

    # --- the calls --------------------------------------------------------------------------
    def alloc(self, n: int) -> int | None:
        """HeapAlloc: the block's address, or None when neither the heap nor the space has room."""
        self._alive()
        if n < 0:
            raise WinApiError(f"HeapAlloc of {n:,} bytes")
        size = block_size(n)
        if size > LARGE_BLOCK:
            base = self._space.reserve(n + LARGE_HEADER, "large", self.name)
            if base is None:
                return None
            self._space.commit(base, n + LARGE_HEADER)
            self._large[base + LARGE_HEADER] = base
            return base + LARGE_HEADER
        found = self._from_free(size)
        if found is not None:
            address, size = found
        else:
            address = self._carve(size)
        if address is not None:
            self._used[address] = size
        return address

    def alloc_many(self, sizes: list[int]) -> list[int]:
        """Blocks for every request of ``sizes`` in turn, as ``alloc`` would give them, until the
        first that fails (the list then ends early). Quick while no freed block can be reused:
        consecutive blocks are then carved one after the other."""
        out: list[int] = []
        if sizes and min(sizes) < 0:
            raise WinApiError(f"HeapAlloc of {min(sizes):,} bytes")
        if min(sizes, default=0) >= 2 * BLOCK_ALIGN - BLOCK_HEADER:
            blocks = [(n + BLOCK_HEADER + BLOCK_ALIGN - 1) & -BLOCK_ALIGN for n in sizes]
        else:
            blocks = [block_size(n) for n in sizes]
        pre = list(accumulate(blocks, initial=0))
        i = 0
        while i < len(blocks):
            seg = self._segments[self._carving] if self._segments else None
            if self._free or blocks[i] > LARGE_BLOCK or seg is None or seg.end - seg.top < blocks[i]:
                address = self.alloc(sizes[i])
                if address is None:
                    break
                out.append(address)
                i += 1
                continue
            shift = seg.top - pre[i]                        # block k starts at shift + pre[k]
            j = bisect_right(pre, seg.end - shift, i) - 1   # blocks i .. j-1 fit in the segment
            j = next((k for k in range(i, j) if blocks[k] > LARGE_BLOCK), j)
            starts = list(map(shift.__add__, pre[i:j]))
            self._used.update(zip(starts, blocks[i:j]))
            out += starts
            seg.top = shift + pre[j]
            self._cut(seg, 0)
            i = j
        return out

    def free_many(self, addresses) -> None:
        """``free(a)`` for each address in turn, with the same result. Blocks that touch no free
        block, no other block of the batch and no segment's uncarved end cannot merge: they go
        on the free lists in bulk; the others are freed one by one, in their turn."""
        self._alive()
        addresses = list(addresses)
        used = self._used
        if len(set(addresses)) != len(addresses) or not all(map(used.__contains__, addresses)):
            for address in addresses:
                self.free(address)
            return
        sizes = list(map(used.__getitem__, addresses))
        ends = list(map(int.__add__, addresses, sizes))
        starts, end_set = set(addresses), set(ends)
        tops = {s.top for s in self._segments}
        bad_ends = (end_set & starts) | (end_set & tops) | end_set.intersection(self._free)
        merging = {a for a, e in zip(addresses, ends) if e in bad_ends} if bad_ends else set()
        merging |= starts & end_set
        merging |= starts.intersection(self._free_end)
        quiet = [i for i, a in enumerate(addresses) if a not in merging] if merging else None
        qa = addresses if quiet is None else [addresses[i] for i in quiet]
        qs = sizes if quiet is None else [sizes[i] for i in quiet]
        qe = ends if quiet is None else [ends[i] for i in quiet]
        for address in qa:
            del used[address]
        self._free.update(zip(qa, qs))
        self._free_end.update(zip(qe, qa))
        by_size = self._by_size
        for size in set(qs) - by_size.keys():
            by_size[size] = []
            insort(self._sizes, size)
        push = {size: by_size[size].append for size in set(qs)}
        if not merging:
            for address, size in zip(addresses, sizes):
                push[size](address)
            return
        for address, size in zip(addresses, sizes):
            if address in merging:
                self.free(address)
            else:
                push[size](address)

    def free(self, address: int) -> None:
        """HeapFree: a big block's region goes back at once; a block is kept free for reuse."""
        self._alive()
        if address in self._large:
            self._space.release(self._large.pop(address))
            return
        size = self._used.pop(address, None)
        if size is None:
            raise WinApiError(f"HeapFree: {address:#x} is no block of heap {self.name!r}")
        start, end = address, address + size
        if end in self._free:                            # merge with the free block after
            end += self._take(end)
        if start in self._free_end:                      # and with the one before
            start = self._free_end[start]
            self._take(start)
        seg = self._segment_of(start)
        if end == seg.top:                               # back into the uncarved end
            seg.top = start
        else:
            self._put(start, end - start)

    # --- views ------------------------------------------------------------------------------
    @property
    def in_use(self) -> int:
        """Bytes of blocks in use in the segments (headers included)."""
        return sum(self._used.values())

    @property
    def reserved(self) -> int:
        """Bytes of address space the segments take (whole granules)."""
        return sum(align_up(s.end - s.base, GRANULARITY) for s in self._segments)

    @property
    def free_inside(self) -> int:
        """Bytes of the segments in no block: reusable by this heap's small blocks only."""
        return sum(s.end - s.base for s in self._segments) - self.in_use

    def segments(self) -> tuple[tuple[int, int], ...]:
        """(base, size) of each segment, oldest first."""
        return tuple((s.base, s.end - s.base) for s in self._segments)

    def regions(self) -> tuple[int, ...]:
        """The bases of every region the heap holds: its segments and its big blocks'."""
        return tuple(s.base for s in self._segments) + tuple(self._large.values())

    # --- inside -----------------------------------------------------------------------------
    def _alive(self) -> None:
        if self.destroyed:
            raise WinApiError(f"heap {self.name!r} was destroyed")

    def _put(self, address: int, size: int) -> None:
        self._free[address] = size
        self._free_end[address + size] = address
        if size not in self._by_size:
            self._by_size[size] = []
            insort(self._sizes, size)
        self._by_size[size].append(address)

    def _take(self, address: int) -> int:
        size = self._free.pop(address)
        del self._free_end[address + size]
        return size

    def _from_free(self, size: int) -> tuple[int, int] | None:
        """The smallest free block that fits (best fit), split when the rest can be a block:
        (address, bytes the block takes)."""
        i = bisect_left(self._sizes, size)
        while i < len(self._sizes):
            have = self._sizes[i]
            stack = self._by_size[have]
            while stack:
                address = stack.pop()
                if self._free.get(address) == have:
                    self._take(address)
                    if have - size >= 2 * BLOCK_ALIGN:
                        self._put(address + size, have - size)
                        return address, size
                    return address, have          # a rest too small for a block stays with it
            del self._by_size[have]
            self._sizes.pop(i)
        return None

    def _carve(self, size: int) -> int | None:
        """Carve from the segment used last, else from the first with room, else a new one."""
        order = [self._carving] + list(range(len(self._segments)))
        for i in order:
            seg = self._segments[i]
            if seg.end - seg.top >= size:
                self._carving = i
                return self._cut(seg, size)
        if self._grow(size) is None:
            return None
        self._carving = len(self._segments) - 1
        return self._cut(self._segments[-1], size)

    def _cut(self, seg: _Segment, size: int) -> int:
        """The next ``size`` bytes of a segment's uncarved end, committed."""
        address = seg.top
        seg.top += size
        if seg.top - seg.base > self._space.committed(seg.base):
            self._space.commit(seg.base, seg.top - seg.base)
        return address

    def _grow(self, size: int, initial: int = 0) -> int | None:
        """Reserve a new segment for at least ``size`` bytes: the next size, halved until it fits."""
        need = align_up(max(size, initial, PAGE), GRANULARITY)
        want = max(self._next_reserve, need)
        while True:
            base = self._space.reserve(want, "heap", self.name)
            if base is not None:
                self._segments.append(_Segment(base, want))
                self._by_base[base] = self._segments[-1]
                insort(self._bases, base)
                self._next_reserve = 2 * want
                return base
            if want == need:
                return None
            want = max(need, align_up(want // 2, GRANULARITY))

    def _segment_of(self, address: int) -> _Segment:
        i = bisect_left(self._bases, address + 1) - 1
        if i >= 0 and address < self._by_base[self._bases[i]].end:
            return self._by_base[self._bases[i]]
        raise WinApiError(f"{address:#x} is in no segment of heap {self.name!r}")

    def _release(self) -> None:
        """Give every region back (HeapDestroy)."""
        for base in self.regions():
            self._space.release(base)
        self._segments.clear()
        self._large.clear()
        self._used.clear()
        self._free.clear()
        self._free_end.clear()
        self.destroyed = True
