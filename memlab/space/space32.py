"""Where a 32-bit process's mappings go: mmap and sbrk by Linux's rules on a `Layout32`.

>>> space = Space32(Layout32.typical())
>>> hex(space.mmap(100 * MiB + PAGE))          # right below the libraries
'0xf1988000'
>>> space.total_free > 3 * GiB, space.largest_free < space.total_free
(True, True)
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.errors import SyscallError
from memlab.space.address_space import SegmentationFault
from memlab.space.layout32 import Layout32, Region
from memlab.space.maps import MapTable
from memlab.units import GiB, MiB, PAGE, align_up

__all__ = ["Space32"]


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where a mapping went: its start, and whether the bottom-up fallback found it."""

    start: int
    fallback: bool = False


class Space32:
    """A 32-bit process's mappings and break: `mmap` and `sbrk` as Linux places them.

    It keeps addresses only (no resident pages): what lesson 09 needs to run a process out of
    address space. It serves the calls glibc's model makes (`memlab.glibc.Malloc(space=...,
    arch="i386")`): sbrk, mmap, munmap, mremap, madvise (nothing to release: no resident
    pages), and touch/read, which only check that the bytes are mapped. A failed call raises
    SyscallError and changes nothing.

    >>> s = Space32(Layout32.typical())
    >>> s.sbrk(139264) == s.layout.heap_start, s.brk - s.layout.heap_start
    (True, 139264)
    >>> s.mmap(8 * GiB // 2)
    Traceback (most recent call last):
    ...
    memlab.errors.SyscallError: [Errno 12] mmap(4294967296): no free range of 4,294,967,296 bytes
    """


    def __init__(self, layout: Layout32) -> None:
        self._layout = layout
        self._maps = MapTable()
        self._kinds: dict[int, Region] = {}
        for r in layout.regions:
            start = r.start - layout.stack_guard_gap if r.kind == "stack" else r.start
            self._maps.add(max(start, 0), r.end)
            self._kinds[max(start, 0)] = r
        self._brk = layout.heap_start
        self._heap_end = layout.heap_start
        self._fallbacks = 0

    @property
    def layout(self) -> Layout32:
        return self._layout

    @property
    def heap_start(self) -> int:
        """Where the break starts."""
        return self._layout.heap_start

    @property
    def brk(self) -> int:
        """The program break."""
        return self._brk

    @property
    def fallbacks(self) -> int:
        """Mappings the bottom-up fallback placed (top-down layout only)."""
        return self._fallbacks

    def _place(self, size: int) -> _Placement | None:
        lay = self._layout
        if not lay.legacy:
            start = self._maps.place(size, lay.floor, lay.mmap_base)
            if start is not None:
                return _Placement(start)
        start = self._lowest_fit(size, lay.legacy_base, lay.user_space)
        return None if start is None else _Placement(start, not lay.legacy)

    def _lowest_fit(self, size: int, low: int, high: int) -> int | None:
        """Start of the lowest gap in [low, high) that holds size bytes (bottom-up search)."""
        at = low
        for s, e in self._maps:
            if e <= at:
                continue
            if s - at >= size and at + size <= high:
                return at
            at = max(at, e)
        return at if high - at >= size else None

    def mmap(self, length: int) -> int:
        """Map `length` bytes (rounded up to pages) where the kernel would; the address."""
        size = align_up(length)
        if size <= 0:
            raise SyscallError(22, f"mmap({length}): the length must be positive")
        if size > self._layout.user_space:
            raise SyscallError(12, f"mmap({length}): no free range of {size:,} bytes")
        found = self._place(size)
        if found is None:
            raise SyscallError(12, f"mmap({length}): no free range of {size:,} bytes")
        self._maps.add(found.start, found.start + size)
        self._kinds[found.start] = Region(found.start, found.start + size, "mmap")
        self._fallbacks += found.fallback
        return found.start

    def sbrk(self, delta: int) -> int:
        """Move the break by `delta` bytes; the old break. ENOMEM when the heap would come
        within one page of the next mapping or leave the user space."""
        old, new = self._brk, self._brk + delta
        new_end = align_up(new)
        if new < self._layout.heap_start:
            raise SyscallError(12, f"sbrk({delta}): below the heap's start")
        if new_end > self._heap_end:
            above = self._maps.next_start(self._heap_end)
            ceiling = self._layout.user_space if above is None else above - PAGE
            if new_end > ceiling:
                raise SyscallError(12, f"sbrk({delta}): the heap would run into the mapping above it")
        if self._heap_end > self._layout.heap_start:
            self._maps.remove(self._layout.heap_start, self._heap_end)
            del self._kinds[self._layout.heap_start]
        if new_end > self._layout.heap_start:
            self._maps.add(self._layout.heap_start, new_end)
            self._kinds[self._layout.heap_start] = Region(self._layout.heap_start, new_end, "heap")
        self._brk, self._heap_end = new, new_end
        return old

    def munmap(self, addr: int, length: int) -> None:
        """Unmap the mapped pages of [addr, addr + length) (mappings only, not the heap).

        >>> s = Space32(Layout32.typical()); p = s.mmap(3 * PAGE); s.munmap(p + PAGE, PAGE)
        >>> [r.size for r in s.regions() if r.kind == "mmap"]
        [4096, 4096]
        """
        end = addr + align_up(length)
        if addr % PAGE or length <= 0 or end > self._layout.user_space:
            raise SyscallError(22, f"munmap({addr:#x}, {length}): an aligned range inside the user space, please")
        hit = [r for r in self._kinds.values() if r.start < end and addr < r.end]
        if any(r.kind != "mmap" for r in hit):
            raise SyscallError(22, f"munmap({addr:#x}, {length}): only mappings made with mmap are unmapped here")
        for r in hit:
            del self._kinds[r.start]
            for s, e in ((r.start, addr), (end, r.end)):
                if s < e:
                    self._kinds[s] = Region(s, e, "mmap")
        self._maps.remove(addr, end)

    def mremap(self, old: int, old_len: int, new_len: int, may_move: bool = False) -> int:
        """Resize the mapping [old, old + old_len): in place when it shrinks or the pages above
        are free, else (with may_move) a new mapping placed as mmap places one; the address.

        >>> s = Space32(Layout32.typical()); p = s.mmap(PAGE); q = s.mmap(PAGE)
        >>> r = s.mremap(q, PAGE, 2 * PAGE, may_move=True); r == q, s.mremap(r, 2 * PAGE, PAGE) == r
        (False, True)
        """
        r = self._kinds.get(old)
        old_end, new_end = old + align_up(old_len), old + align_up(new_len)
        if r is None or r.kind != "mmap" or old_end != r.end or new_len <= 0:
            raise SyscallError(14, f"mremap({old:#x}, {old_len}, {new_len}): not a whole mapping")
        if new_end <= old_end:
            if new_end < old_end:
                self.munmap(new_end, old_end - new_end)
            return old
        if self._maps.is_free(old_end, new_end) and new_end <= self._layout.user_space:
            self._maps.extend(old, new_end)
            self._kinds[old] = Region(old, new_end, "mmap")
            return old
        if not may_move:
            raise SyscallError(12, f"mremap({old:#x}, {old_len}, {new_len}): no room to grow in place")
        new = self.mmap(new_len)
        self.munmap(old, old_end - old)
        return new

    def madvise(self, addr: int, length: int, advice: int) -> None:
        """Nothing to give back (no resident pages are kept); the range must be mapped."""
        self._mapped(addr, length, "madvise")

    def touch(self, addr: int, length: int = 1) -> None:
        """A write: only checks that the bytes are mapped."""
        self._mapped(addr, length, "write")

    def read(self, addr: int, length: int = 1) -> None:
        """A read: only checks that the bytes are mapped."""
        self._mapped(addr, length, "read")

    def _mapped(self, addr: int, length: int, access: str) -> None:
        at, end = addr, addr + max(length, 1)
        while at < end:
            region = self._maps.region_at(at)
            if region is None:
                if access == "madvise":
                    raise SyscallError(12, f"madvise({addr:#x}, {length}): the range is not all mapped")
                raise SegmentationFault(at, access)
            at = region[1]

    def mappings(self) -> tuple[Region, ...]:
        """Everything mapped (as `regions`), for the model's reads of memory words."""
        return self.regions()

    def regions(self) -> tuple[Region, ...]:
        """Everything mapped, by address (the stack without its guard gap)."""
        return tuple(self._kinds[s] for s, _ in self._maps)

    def free_ranges(self) -> tuple[tuple[int, int], ...]:
        """The [start, end) ranges a mapping could still use: between mmap_min_addr (the
        legacy layout: legacy_base) and the top of the user space, outside every region and
        the stack's guard gap."""
        out, at = [], self._layout.legacy_base if self._layout.legacy else self._layout.floor
        for s, e in self._maps:
            if s > at:
                out.append((at, s))
            at = max(at, e)
        if self._layout.user_space > at:
            out.append((at, self._layout.user_space))
        return tuple(out)

    @property
    def total_free(self) -> int:
        """Bytes in all free ranges."""
        return sum(e - s for s, e in self.free_ranges())

    @property
    def largest_free(self) -> int:
        """The largest single free range: the largest mapping that could still be made."""
        return max((e - s for s, e in self.free_ranges()), default=0)
