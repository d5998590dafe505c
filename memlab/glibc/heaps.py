"""Non-main arenas: their memory is a chain of 64 MiB-aligned heaps, grown and shrunk from the top.

    >>> from memlab.space import AddressSpace
    >>> hs = Heaps(AddressSpace())
    >>> h = hs.new_heap(2904, 131072)
    >>> h.addr % HEAP_MAX_SIZE, h.size, hs.heap_for_ptr(h.addr + 5000) is h
    (0, 135168, True)
"""

from __future__ import annotations

from ..errors import SyscallError
from ..space import MADV_DONTNEED
from ..units import MiB, PAGE, align_down, align_up
from .chunk import ALIGN, HDR, MINSIZE, SIZE_SZ
from .heap import FENCE, INUSE
from .malloc import Malloc

__all__ = ["HEAP_MAX_SIZE", "HEAP_MIN_SIZE", "HEAP_INFO_BYTES", "first_top", "HeapInfo", "Heaps",
           "HeapArena"]

HEAP_MAX_SIZE = 64 * MiB      #: every non-main heap starts at a multiple of this and never exceeds it
HEAP_MIN_SIZE = 32 * 1024     #: the smallest heap new_heap makes
HEAP_INFO_BYTES = 48          #: sizeof(heap_info) on x86-64: five words and a pad to 16


def first_top(heap_addr: int, state_bytes: int) -> int:
    """Where top starts in an arena's first heap: after heap_info and the arena's malloc_state
    (`Release.malloc_state_bytes`), so that its user address is 16-byte aligned.

    >>> first_top(0, 2200), first_top(0, 2112)      # 2.36 and 2.41; 2.43
    (2256, 2160)
    """
    top = heap_addr + HEAP_INFO_BYTES + state_bytes
    return top + (-(top + HDR)) % ALIGN


class HeapInfo:
    """One heap: where it starts, its usable size, how much was ever made writable, the heap before."""

    __slots__ = ("addr", "size", "mprotect_size", "prev", "arena")

    def __init__(self, addr: int, size: int, prev: HeapInfo | None) -> None:
        self.addr = addr
        self.size = size
        self.mprotect_size = size
        self.prev = prev
        self.arena = None

    def __repr__(self) -> str:
        return f"HeapInfo({self.addr:#x}, size={self.size})"


class Heaps:
    """All non-main heaps of a process, and new_heap's hint for the next aligned area."""

    def __init__(self, space) -> None:
        self._space = space
        self._by_base: dict[int, HeapInfo] = {}

    def heap_for_ptr(self, addr: int) -> HeapInfo | None:
        """The heap holding `addr`, if a non-main heap does."""
        return self._by_base.get(addr & ~(HEAP_MAX_SIZE - 1))

    def __iter__(self):
        return iter(sorted(self._by_base.values(), key=lambda h: h.addr))

    def new_heap(self, size: int, top_pad: int) -> HeapInfo | None:
        """Map a HEAP_MAX_SIZE-aligned heap whose first `size` + `top_pad` bytes (page-rounded,
        at least 32 KiB, at most 64 MiB) are usable; None if that cannot be done."""
        if size + top_pad < HEAP_MIN_SIZE:
            size = HEAP_MIN_SIZE
        elif size + top_pad <= HEAP_MAX_SIZE:
            size += top_pad
        elif size > HEAP_MAX_SIZE:
            return None
        else:
            size = HEAP_MAX_SIZE
        size = align_up(size)
        space = self._space
        # glibc first tries the aligned half a previous double mapping left (an mmap hint);
        # the address space places mappings top-down only, so this always maps twice the
        # size and keeps the aligned half (addresses may differ from glibc's, sizes do not)
        try:
            p1 = space.mmap(2 * HEAP_MAX_SIZE)
        except SyscallError:
            p1 = 0
        if p1:
            addr = align_up(p1, HEAP_MAX_SIZE)
            ul = addr - p1
            if ul:
                space.munmap(p1, ul)
            space.munmap(addr + HEAP_MAX_SIZE, HEAP_MAX_SIZE - ul)
        else:
            try:
                addr = space.mmap(HEAP_MAX_SIZE)
            except SyscallError:
                return None
            if addr % HEAP_MAX_SIZE:
                space.munmap(addr, HEAP_MAX_SIZE)
                return None
        h = HeapInfo(addr, size, None)
        self._by_base[addr] = h
        space.touch(addr, 5 * SIZE_SZ)            # the heap_info words
        return h

    @staticmethod
    def grow_heap(h: HeapInfo, diff: int) -> int:
        """Make `diff` more bytes (page-rounded) of heap `h` usable: 0, or -1 past 64 MiB."""
        diff = align_up(diff)
        new_size = h.size + diff
        if new_size > HEAP_MAX_SIZE:
            return -1
        if new_size > h.mprotect_size:
            h.mprotect_size = new_size            # mprotect(PROT_READ|PROT_WRITE)
        h.size = new_size
        return 0

    def shrink_heap(self, h: HeapInfo, diff: int) -> int:
        """Give the last `diff` bytes of heap `h` back (MADV_DONTNEED): 0, or -1."""
        new_size = h.size - diff
        if new_size < HEAP_INFO_BYTES:
            return -1
        self._space.madvise(h.addr + new_size, diff, MADV_DONTNEED)
        h.size = new_size
        return 0

    def delete_heap(self, h: HeapInfo) -> None:
        """Unmap heap `h` whole."""
        del self._by_base[h.addr]
        self._space.munmap(h.addr, HEAP_MAX_SIZE)


class HeapArena(Malloc):
    """A non-main arena: Malloc's bins and caches over mmapped heaps instead of the brk heap.

    The chunk table, footers, stale words and mmapped chunks are shared with the main arena
    (a process has one memory); bins, fastbins, top and the counters are the arena's own.
    Made by `Threads` (memlab.glibc.threads), never directly.
    """

    def __init__(self, main: Malloc, heaps: Heaps, first: HeapInfo) -> None:
        super().__init__(main.space, main.release)
        for name in ("_size", "_state", "_free_end", "_stale", "_mmapped"):
            setattr(self, name, getattr(main, name))
        self._heaps = heaps
        self._contiguous = False
        self._heap = first                        # the heap holding top
        first.arena = self
        self._system_mem = self._max_system_mem = first.size
        top = first_top(first.addr, self._rel.malloc_state_bytes)
        self._space.touch(first.addr + HEAP_INFO_BYTES, top - first.addr - HEAP_INFO_BYTES)  # malloc_init_state
        self._top = top
        self._top_size = first.addr + first.size - top
        self._touch(top + SIZE_SZ, SIZE_SZ)

    @property
    def heaps(self) -> tuple[HeapInfo, ...]:
        """This arena's heaps, oldest first."""
        out = []
        h = self._heap
        while h is not None:
            out.append(h)
            h = h.prev
        return tuple(reversed(out))

    def _clear_limit(self, oldtop: int, oldtopsize: int) -> int:
        h = self._heaps.heap_for_ptr(oldtop)
        return max(oldtopsize, h.addr + h.mprotect_size - oldtop)

    def _sysmalloc(self, nb: int) -> int:
        """sysmalloc for a non-main arena: mmap the chunk, else grow the top heap, else a new heap."""
        tried_mmap = False
        if nb >= self._mmap_threshold and len(self._mmapped) < self._mmap_max:
            c = self._mmap_chunk(nb)
            if c:
                return c
            tried_mmap = True
        heaps = self._heaps
        old_top, old_size = self._top, self._top_size
        old_heap = self._heap
        if MINSIZE + nb - old_size > 0 and heaps.grow_heap(old_heap, MINSIZE + nb - old_size) == 0:
            self._system_mem = old_heap.addr + old_heap.size - old_top - old_size + self._system_mem
            self._top_size = old_heap.addr + old_heap.size - old_top
            self._path = "grow-heap"
            self._info = f"heap grown to {old_heap.size:,} bytes"
        else:
            h = heaps.new_heap(nb + MINSIZE + HEAP_INFO_BYTES, self._top_pad)
            if h is not None:
                h.arena = self
                h.prev = old_heap
                self._heap = h
                self._system_mem += h.size
                self._top = h.addr + HEAP_INFO_BYTES
                self._top_size = h.size - HEAP_INFO_BYTES
                self._touch(self._top + SIZE_SZ, SIZE_SZ)
                self._fence_off(old_top, old_size)
                self._path = "new-heap"
                self._info = f"new heap of {h.size:,} bytes"
            elif not tried_mmap:
                c = self._mmap_chunk(nb)
                if c:
                    return c
        self._max_system_mem = max(self._max_system_mem, self._system_mem)
        if self._top_size >= nb + MINSIZE:
            return self._carve_top(nb)
        return 0

    def _fence_off(self, old_top: int, old_size: int) -> None:
        """Close the old heap: fenceposts at its end, the rest of the old top freed."""
        s = (old_size - MINSIZE) & ~(ALIGN - 1)
        fence2 = old_top + s + HDR
        self._size[fence2] = HDR                  # size 0 in glibc; 16 bytes of the heap's end
        self._state[fence2] = FENCE
        self._touch(fence2 + SIZE_SZ, SIZE_SZ)
        if s >= MINSIZE:
            fence1 = old_top + s
            self._size[fence1] = HDR
            self._state[fence1] = FENCE
            self._touch(fence1 + SIZE_SZ, SIZE_SZ + SIZE_SZ)   # its head, and its footer
            self._touch(old_top + SIZE_SZ, SIZE_SZ)
            self._size[old_top] = s
            self._state[old_top] = INUSE
            self._inner_free(old_top, s)
        else:
            self._size[old_top] = s + HDR
            self._state[old_top] = FENCE
            self._touch(old_top + SIZE_SZ, SIZE_SZ + SIZE_SZ)

    def _trim_top(self) -> None:
        """After a large free: heap_trim always (the top heap might go away)."""
        if self._heap_trim(self._top_pad):
            self._path = "free-heap-trim"

    def _heap_trim(self, pad: int) -> int:
        """Unmap whole heaps that hold only top, then shrink the top heap keeping `pad`."""
        heaps = self._heaps
        heap = self._heap
        while self._top == heap.addr + HEAP_INFO_BYTES and heap.prev is not None:
            prev = heap.prev
            end = prev.addr + prev.size
            fence2 = end - HDR
            p = fence2 - self._prev_fence_size(fence2)
            new_size = self._size[p] + HDR
            below = self._free_end.get(p)
            if below is not None:
                new_size += self._size[below]
            if new_size + (HEAP_MAX_SIZE - prev.size) < pad + MINSIZE + PAGE:
                break
            self._system_mem -= heap.size
            heaps.delete_heap(heap)
            self._stale.forget(heap.addr, heap.addr + HEAP_MAX_SIZE)
            heap = self._heap = prev
            for c in (fence2, p):
                del self._size[c]
                del self._state[c]
            if below is not None:
                self._unbin(below)
                p = below
            self._top = p
            self._top_size = new_size
            self._touch(p + SIZE_SZ, SIZE_SZ)
        top_size = self._top_size
        if top_size < self._trim_threshold:
            return 0
        top_area = top_size - MINSIZE - 1
        if top_area < 0 or top_area <= pad:
            return 0
        extra = align_down(top_area - pad)
        if extra == 0:
            return 0
        if heaps.shrink_heap(heap, extra) != 0:
            return 0
        self._stale.forget(heap.addr + heap.size, heap.addr + heap.size + extra)
        self._system_mem -= extra
        self._top_size = top_size - extra
        self._info = f"top {top_size:,} -> {top_size - extra:,}: madvise(DONTNEED) of {extra:,} bytes"
        return 1

    def _prev_fence_size(self, fence2: int) -> int:
        """The size of the chunk before the last fencepost of a closed heap (16, or 16/32)."""
        for s in (HDR, 2 * HDR, 3 * HDR):
            if self._state.get(fence2 - s) == FENCE and self._size[fence2 - s] == s:
                return s
        raise AssertionError(f"no fencepost before {fence2:#x}")

    def _systrim(self, pad: int) -> int:
        """A non-main arena never moves the break: malloc_trim only advises its free pages."""
        return 0
