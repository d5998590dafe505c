"""Pool: a free list per size in front of any allocator; freed blocks wait there for reuse.

What it saves: a malloc of a size freed before is one list pop, no call to the allocator
behind. What it costs: a pooled block never goes back to that allocator, so never to the
kernel either.

>>> from memlab.allocators.glibc import Glibc
>>> pool = Pool(Glibc()); p = pool.malloc(40); pool.free(p)
>>> pool.malloc(33) == p, pool.pooled          # 33 rounds up to 48, like 40: the same block
(True, 0)
"""

from __future__ import annotations

from memlab.allocators.base import ALIGNMENT, Allocator
from memlab.units import align_up

__all__ = ["Pool"]


class Pool(Allocator):
    """Per-size free lists (sizes rounded up to 16) for requests up to `largest` bytes."""

    def __init__(self, behind: Allocator, largest: int = 1024) -> None:
        super().__init__(behind.space)
        self._behind = behind
        self._largest = largest
        self._lists: dict[int, list[int]] = {}   # rounded size -> free blocks of that size
        self._sizes: dict[int, int] = {}         # live or pooled address -> rounded size
        self._held = 0

    @property
    def behind(self) -> Allocator:
        """The allocator the pool takes new blocks from."""
        return self._behind

    @property
    def pooled(self) -> int:
        """Bytes waiting in the free lists."""
        return sum(size * len(blocks) for size, blocks in self._lists.items())

    def malloc(self, n: int) -> int:
        size = align_up(max(n, 1), ALIGNMENT)
        if size > self._largest:
            return self._behind.malloc(n)
        blocks = self._lists.get(size)
        p = blocks.pop() if blocks else self._behind.malloc(size)
        if p:
            self._sizes[p] = size
            self._held += size
        return p

    def free(self, p: int) -> None:
        size = self._sizes.get(p)
        if size is None:                       # a large block, or NULL
            self._behind.free(p)
            return
        self._held -= size
        self._lists.setdefault(size, []).append(p)

    def size_of(self, p: int) -> int:
        size = self._sizes.get(p)
        return self._behind.size_of(p) if size is None else size

    def in_use(self) -> int:
        return self._behind.in_use() - self.pooled
