"""Bump: hands out memory by moving one pointer up the brk heap; starts over when all is freed.

>>> b = Bump(); p = b.malloc(10); q = b.malloc(10)
>>> q - p, b.space.brk - b.space.heap_start
(32, 64)
>>> b.free(p); b.free(q); b.space.brk - b.space.heap_start      # nothing live: the break goes back
0
"""

from __future__ import annotations

from memlab.allocators.base import ALIGNMENT, Allocator
from memlab.units import align_up

__all__ = ["Bump"]

HEADER = 16          # the block's size, written in front of it


class Bump(Allocator):
    """Each block goes at the end of the heap; free only counts, and the last free resets it."""

    def __init__(self, space=None) -> None:
        super().__init__(space)
        self._sizes: dict[int, int] = {}     # address -> size (what the header holds)
        self._held = 0

    def malloc(self, n: int) -> int:
        size = HEADER + align_up(max(n, 1), ALIGNMENT)
        start = self.space.sbrk(size)         # the old break: the new block's header
        self.space.touch(start, HEADER)       # write the header
        p = start + HEADER
        self._sizes[p] = n
        self._held += n
        return p

    def free(self, p: int) -> None:
        if p:
            self._held -= self._sizes.pop(p)
            if not self._sizes:               # nothing live: give the whole heap back
                space = self.space
                space.sbrk(space.heap_start - space.brk)

    def size_of(self, p: int) -> int:
        return self._sizes[p]

    def in_use(self) -> int:
        return self._held
