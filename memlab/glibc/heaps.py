"""Non-main arenas: their memory is a chain of aligned heaps (64 MiB on x86-64, 1 MiB on i386:
`Arch.heap_max_size`), grown and shrunk from the top.

    >>> from memlab.space import AddressSpace
    >>> hs = Heaps(AddressSpace())
    >>> h = hs.new_heap(2904, 131072)
    >>> h.addr % hs.max_size, h.size, hs.heap_for_ptr(h.addr + 5000) is h
    (0, 135168, True)
"""

from __future__ import annotations

from ..errors import SyscallError
from ..space import MADV_DONTNEED
from ..units import PAGE, align_down, align_up
from .arch import X86_64, Arch
from .heap import FENCE, INUSE
from .malloc import Malloc
from .release import GLIBC_2_36, GLIBC_2_36_I386, GLIBC_2_43, Release

__all__ = ["HEAP_MIN_SIZE", "first_top", "HeapInfo", "Heaps", "HeapArena"]

HEAP_MIN_SIZE = 32 * 1024     #: the smallest heap new_heap makes


def first_top(heap_addr: int, rel: Release) -> int:
    """Where top starts in an arena's first heap: after heap_info and the arena's malloc_state
    (`Release.malloc_state_bytes`), so that its user address is aligned.

    >>> first_top(0, GLIBC_2_36), first_top(0, GLIBC_2_43), first_top(0, GLIBC_2_36_I386)
    (2256, 2160, 1144)
    """
    a = rel.arch
    top = heap_addr + a.heap_info_bytes + rel.malloc_state_bytes
    return top + (-(top + a.chunk_header)) % a.malloc_alignment


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
    """All non-main heaps of a process (their size and alignment: `arch`'s HEAP_MAX_SIZE)."""

    def __init__(self, space, arch: Arch = X86_64) -> None:
        self._space = space
        self._by_base: dict[int, HeapInfo] = {}
        self.max_size = arch.heap_max_size          #: HEAP_MAX_SIZE
        self.info_bytes = arch.heap_info_bytes      #: sizeof(heap_info)
        self._words = 5 * arch.size_sz              # heap_info's words, written by new_heap
        self._aligned_area = 0                      # glibc's aligned_heap_area: a hint, or 0

    def heap_for_ptr(self, addr: int) -> HeapInfo | None:
        """The heap holding `addr`, if a non-main heap does."""
        return self._by_base.get(addr & ~(self.max_size - 1))

    def __iter__(self):
        return iter(sorted(self._by_base.values(), key=lambda h: h.addr))

    def new_heap(self, size: int, top_pad: int) -> HeapInfo | None:
        """Map a HEAP_MAX_SIZE-aligned heap whose first `size` + `top_pad` bytes (page-rounded,
        at least 32 KiB, at most HEAP_MAX_SIZE) are usable; None if that cannot be done."""
        max_size = self.max_size
        if size + top_pad < HEAP_MIN_SIZE:
            size = HEAP_MIN_SIZE
        elif size + top_pad <= max_size:
            size += top_pad
        elif size > max_size:
            return None
        else:
            size = max_size
        size = align_up(size)
        addr = self._map_aligned()
        if not addr:
            return None
        h = HeapInfo(addr, size, None)
        self._by_base[addr] = h
        self._space.touch(addr, self._words)      # the heap_info words
        return h

    def _map_aligned(self) -> int:
        """Map HEAP_MAX_SIZE bytes at a multiple of it as glibc does (0 if that fails): at the
        hint a previous double mapping left, else twice the size keeping the aligned half (its
        upper half becomes the next hint when the mapping was aligned already), else once,
        kept only if aligned by chance."""
        space, max_size = self._space, self.max_size
        if self._aligned_area:
            hint, self._aligned_area = self._aligned_area, 0
            addr = self._try_mmap(max_size, hint)
            if addr and addr % max_size == 0:
                return addr
            if addr:                         # the kernel put it elsewhere, unaligned
                space.munmap(addr, max_size)
        p1 = self._try_mmap(2 * max_size)
        if p1:
            addr = align_up(p1, max_size)
            ul = addr - p1
            if ul:
                space.munmap(p1, ul)
            else:
                self._aligned_area = addr + max_size
            space.munmap(addr + max_size, max_size - ul)
            return addr
        addr = self._try_mmap(max_size)
        if addr % max_size:
            space.munmap(addr, max_size)
            return 0
        return addr

    def _try_mmap(self, length: int, hint: int | None = None) -> int:
        try:
            return self._space.mmap(length, hint=hint)
        except SyscallError:
            return 0

    def grow_heap(self, h: HeapInfo, diff: int) -> int:
        """Make `diff` more bytes (page-rounded) of heap `h` usable: 0, or -1 past HEAP_MAX_SIZE."""
        diff = align_up(diff)
        new_size = h.size + diff
        if new_size > self.max_size:
            return -1
        if new_size > h.mprotect_size:
            h.mprotect_size = new_size            # mprotect(PROT_READ|PROT_WRITE)
        h.size = new_size
        return 0

    def shrink_heap(self, h: HeapInfo, diff: int) -> int:
        """Give the last `diff` bytes of heap `h` back (MADV_DONTNEED): 0, or -1."""
        new_size = h.size - diff
        if new_size < self.info_bytes:
            return -1
        self._space.madvise(h.addr + new_size, diff, MADV_DONTNEED)
        h.size = new_size
        return 0

    def delete_heap(self, h: HeapInfo) -> None:
        """Unmap heap `h` whole."""
        if h.addr + self.max_size == self._aligned_area:
            self._aligned_area = 0
        del self._by_base[h.addr]
        self._space.munmap(h.addr, self.max_size)


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
        info = heaps.info_bytes
        top = first_top(first.addr, self._rel)
        self._space.touch(first.addr + info, top - first.addr - info)  # malloc_init_state
        self._top = top
        self._top_size = first.addr + first.size - top
        self._touch(top + self._sz, self._sz)

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
        minsize, info = self._minsize, heaps.info_bytes
        if minsize + nb - old_size > 0 and heaps.grow_heap(old_heap, minsize + nb - old_size) == 0:
            self._system_mem = old_heap.addr + old_heap.size - old_top - old_size + self._system_mem
            self._top_size = old_heap.addr + old_heap.size - old_top
            self._path = "grow-heap"
            self._info = f"heap grown to {old_heap.size:,} bytes"
        else:
            h = heaps.new_heap(nb + minsize + info, self._top_pad)
            if h is not None:
                h.arena = self
                h.prev = old_heap
                self._heap = h
                self._system_mem += h.size
                self._top = h.addr + info
                self._top_size = h.size - info
                self._touch(self._top + self._sz, self._sz)
                self._fence_off(old_top, old_size)
                self._path = "new-heap"
                self._info = f"new heap of {h.size:,} bytes"
            elif not tried_mmap:
                c = self._mmap_chunk(nb)
                if c:
                    return c
        self._max_system_mem = max(self._max_system_mem, self._system_mem)
        if self._top_size >= nb + minsize:
            return self._carve_top(nb)
        return 0

    def _fence_off(self, old_top: int, old_size: int) -> None:
        """Close the old heap: fenceposts at its end, the rest of the old top freed.

        The last fencepost has size 0 in glibc; here it spans the rest of the heap (16 bytes;
        the top of an i386 heap ends 8 bytes past the alignment, so its own header is 8 more).
        """
        hdr, sz, minsize = self._hdr, self._sz, self._minsize
        s = (old_size - minsize) & ~(self._arch.malloc_alignment - 1)
        fence2 = old_top + s + hdr
        self._size[fence2] = old_top + old_size - fence2
        self._state[fence2] = FENCE
        self._touch(fence2 + sz, sz)
        if s >= minsize:
            fence1 = old_top + s
            self._size[fence1] = hdr
            self._state[fence1] = FENCE
            self._touch(fence1 + sz, sz + sz)     # its head, and its footer
            self._touch(old_top + sz, sz)
            self._size[old_top] = s
            self._state[old_top] = INUSE
            self._inner_free(old_top, s)
        else:
            self._size[old_top] = s + hdr
            self._state[old_top] = FENCE
            self._touch(old_top + sz, sz + sz)

    def _trim_top(self) -> None:
        """After a large free: heap_trim always (the top heap might go away)."""
        if self._heap_trim(self._top_pad):
            self._path = "free-heap-trim"

    def _heap_trim(self, pad: int) -> int:
        """Unmap whole heaps that hold only top, then shrink the top heap keeping `pad`."""
        heaps = self._heaps
        heap = self._heap
        hdr, minsize, max_size = self._hdr, self._minsize, heaps.max_size
        while self._top == heap.addr + heaps.info_bytes and heap.prev is not None:
            prev = heap.prev
            end = prev.addr + prev.size
            fence2 = (end - minsize + hdr) & ~(self._arch.malloc_alignment - 1)
            p = fence2 - self._prev_fence_size(fence2)
            new_size = end - p
            below = self._free_end.get(p)
            if below is not None:
                new_size += self._size[below]
            if new_size + (max_size - prev.size) < pad + minsize + PAGE:
                break
            self._system_mem -= heap.size
            heaps.delete_heap(heap)
            self._stale.forget(heap.addr, heap.addr + max_size)
            heap = self._heap = prev
            for c in (fence2, p):
                del self._size[c]
                del self._state[c]
            if below is not None:
                self._unbin(below)
                p = below
            self._top = p
            self._top_size = new_size
            self._touch(p + self._sz, self._sz)
        top_size = self._top_size
        if top_size < self._trim_threshold:
            return 0
        top_area = top_size - minsize - 1
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
        """The size of the chunk before the last fencepost of a closed heap (a header's size,
        or on x86-64 also 32)."""
        hdr = self._hdr
        for s in (hdr, 2 * hdr, 3 * hdr):
            if self._state.get(fence2 - s) == FENCE and self._size[fence2 - s] == s:
                return s
        raise AssertionError(f"no fencepost before {fence2:#x}")

    def _systrim(self, pad: int) -> int:
        """A non-main arena never moves the break: malloc_trim only advises its free pages."""
        return 0
