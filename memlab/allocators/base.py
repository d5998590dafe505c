"""Allocator: the malloc family a student writes over an AddressSpace (the only source of memory).

A subclass writes ``malloc(n)`` and ``free(p)``; the rest has plain defaults built on them:
``realloc`` moves the block and copies with ``copy`` (it needs ``size_of(p)``), ``calloc`` clears
with a write, ``memalign`` serves alignments up to 16. Memory comes only from the space's system
calls (``sbrk``, ``mmap``, ``munmap``, ``madvise``); a write to memory is ``space.touch``.

>>> class Never(Allocator):
...     '''Maps a page per call and never gives it back.'''
...     def malloc(self, n):
...         return self.space.mmap(max(n, 1))
...     def free(self, p):
...         pass
>>> a = Never(); p = a.malloc(100)
>>> p % 16, a.space.vsz, a.mallinfo2().hblkhd
(0, 4096, 4096)
"""

from __future__ import annotations

from memlab.glibc.info import make_mallinfo2
from memlab.space import AddressSpace
from memlab.units import align_up

__all__ = ["Allocator", "ALIGNMENT", "NULL"]

#: Every payload starts on a multiple of this (glibc's MALLOC_ALIGNMENT on x86-64).
ALIGNMENT = 16
NULL = 0
_KEEP_COPIES = 16


class Allocator:
    """Base of every allocator memlab can replay, score and chart (see the module docstring)."""

    #: What the latest call did, for a Timeline's notes (None: this allocator says nothing).
    last_note = None

    def __init__(self, space: AddressSpace | None = None) -> None:
        self._space = space if space is not None else AddressSpace()
        self._copies: list[tuple[int, int, int]] = []     # (dst, src, n) of each copy, for checks

    @property
    def space(self) -> AddressSpace:
        """The address space this allocator gets its memory from."""
        return self._space

    @property
    def name(self) -> str:
        """The class name (what the score table shows)."""
        return type(self).__name__

    # --- what a subclass writes ----------------------------------------------------------
    def malloc(self, n: int) -> int:
        """The address of at least `n` fresh bytes, 16-byte aligned (NULL when out of memory)."""
        raise NotImplementedError(f"{self.name} has no malloc")

    def free(self, p: int) -> None:
        """Take back the block at `p` (NULL does nothing)."""
        raise NotImplementedError(f"{self.name} has no free")

    def size_of(self, p: int) -> int:
        """Bytes usable at `p` (realloc's default copies this many at most)."""
        raise NotImplementedError(f"{self.name} has no size_of, so the default realloc cannot copy")

    # --- defaults built on them ----------------------------------------------------------
    def realloc(self, p: int, n: int) -> int:
        """Resize: a new block, the old bytes copied, the old block freed."""
        if p == NULL:
            return self.malloc(n)
        if n == 0:
            self.free(p)
            return NULL
        old = self.size_of(p)
        if n <= old:
            return p
        q = self.malloc(n)
        if q:
            self.copy(q, p, old)
            self.free(p)
        return q

    def calloc(self, nmemb: int, size: int) -> int:
        """malloc(nmemb * size) with every byte cleared (a write)."""
        n = nmemb * size
        if n >= 1 << 64:                      # the product overflows size_t: glibc says NULL
            return NULL
        p = self.malloc(n)
        if p and n:
            self._space.touch(p, n)
        return p

    def memalign(self, align: int, n: int) -> int:
        """Alignments up to 16 are every block's; larger ones this allocator does not serve."""
        if align <= ALIGNMENT:
            return self.malloc(n)
        raise NotImplementedError(f"{self.name} does not serve memalign({align}, ...)")

    def malloc_trim(self, pad: int) -> int:
        """Give unused memory back; 0: nothing was given back (the default does nothing)."""
        return 0

    def mallopt(self, param: int, value: int) -> int:
        """glibc's tuning knobs mean nothing here: 0 (not applied)."""
        return 0

    # --- helpers for subclasses ----------------------------------------------------------
    def copy(self, dst: int, src: int, n: int) -> None:
        """memcpy(dst, src, n): reads the source, writes the destination."""
        if n:
            self._space.read(src, n)
            self._space.touch(dst, n)
        copies = self._copies
        if len(copies) >= _KEEP_COPIES:        # a check reads the latest realloc's only
            del copies[:-1]
        copies.append((dst, src, n))

    # --- what charts and snapshots read --------------------------------------------------
    def in_use(self) -> int:
        """Bytes of blocks handed out and not freed, as this allocator counts them (0: unknown)."""
        return 0

    def mallinfo2(self):
        """mallinfo2-like counters: arena = brk heap bytes, hblkhd = mapped bytes, uordblks =
        in_use(), fordblks = the rest of what the kernel gave."""
        space = self._space
        arena = space.brk - space.heap_start
        heap_pages = align_up(arena)
        hblkhd = space.vsz - heap_pages
        used = self.in_use()
        free = max(0, arena + hblkhd - used)
        return make_mallinfo2(arena, 0, 0, 0, hblkhd, 0, used, free, 0)

    def chunks(self) -> tuple:
        """glibc's chunk views; an allocator of another design has none."""
        return ()

    def mmapped_chunks(self) -> tuple:
        return ()
