"""Pool: a free list per request size (per type) in front of any allocator; frees wait there.

What it saves: a malloc of a size freed before is one list pop, no call to the allocator
behind (``hits`` counts them). What it costs: a pooled block never goes back to that
allocator, so never to the kernel either.

>>> from memlab.allocators.glibc import Glibc
>>> pool = Pool(Glibc()); p = pool.malloc(40); pool.free(p)
>>> pool.pooled, pool.malloc(40) == p, pool.hits, pool.pooled
(40, True, 1, 0)
"""

from __future__ import annotations

from memlab.allocators.base import Allocator

__all__ = ["Pool"]


class Pool(Allocator):
    """One free list per requested size up to `largest` bytes; other sizes go straight behind."""

    def __init__(self, behind: Allocator, largest: int = 1024) -> None:
        super().__init__(behind.space)
        self._copies = behind._copies            # one record of copies for realloc's check
        self._behind = behind
        self._largest = largest
        self._lists: dict[int, list[int]] = {}   # size -> free blocks of that size
        self._sizes: dict[int, int] = {}         # live or pooled address -> its size
        self._pooled = 0
        self._hits = 0

    @property
    def behind(self) -> Allocator:
        """The allocator the pool takes new blocks from."""
        return self._behind

    @property
    def hits(self) -> int:
        """Mallocs served from the free lists (no call to the allocator behind)."""
        return self._hits

    @property
    def pooled(self) -> int:
        """Bytes waiting in the free lists (the allocator behind sees them in use)."""
        return self._pooled

    def malloc(self, n: int) -> int:
        if n > self._largest:
            return self._behind.malloc(n)
        blocks = self._lists.get(n)
        if blocks:
            self._hits += 1
            self._pooled -= n
            return blocks.pop()
        p = self._behind.malloc(n)
        if p:
            self._sizes[p] = n
        return p

    def free(self, p: int) -> None:
        n = self._sizes.get(p)
        if n is None:                          # a large block, or NULL
            self._behind.free(p)
            return
        self._pooled += n
        self._lists.setdefault(n, []).append(p)

    def size_of(self, p: int) -> int:
        n = self._sizes.get(p)
        return self._behind.size_of(p) if n is None else n

    def in_use(self) -> int:
        return self._behind.in_use() - self._pooled
