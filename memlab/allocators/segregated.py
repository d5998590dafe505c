"""Segregated: one size class per span of pages; an empty span and every large block is unmapped.

Blocks of up to 2048 bytes round up to a size class and come from a 64 KiB mapping (a span)
holding only that class; a free puts the slot on its span's free list, and the span goes back
to the kernel as soon as none of its slots is in use. Larger blocks get a mapping each.

>>> s = Segregated(); p = s.malloc(100); q = s.malloc(100)
>>> q - p, s.space.vsz                         # 100 -> class 128; one span mapped
(-128, 65536)
>>> s.free(p); s.free(q); s.space.vsz          # the span is empty: unmapped
0
"""

from __future__ import annotations

from memlab.allocators.base import Allocator
from memlab.units import KiB, align_up

__all__ = ["Segregated", "CLASSES", "SPAN"]

CLASSES = (16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)
SPAN = 64 * KiB


class _Span:
    __slots__ = ("start", "size", "free", "live")

    def __init__(self, start: int, size: int) -> None:
        self.start, self.size, self.live = start, size, 0
        # slots handed out from the top down, like the mapping itself
        self.free = list(range(start, start + SPAN - size + 1, size))


class Segregated(Allocator):
    """Size classes in spans of their own; large blocks in mappings of their own."""

    def __init__(self, space=None) -> None:
        super().__init__(space)
        self._open: dict[int, list[_Span]] = {c: [] for c in CLASSES}   # spans with a free slot
        self._owner: dict[int, _Span | int] = {}    # block -> its span, or a large block's length
        self._held = 0

    def malloc(self, n: int) -> int:
        size = next((c for c in CLASSES if c >= n), None)
        if size is None:                             # large: a mapping of its own
            length = align_up(n)
            p = self.space.mmap(length)
            self._owner[p] = length
        else:
            spans = self._open[size]
            if not spans:
                spans.append(_Span(self.space.mmap(SPAN), size))
            span = spans[-1]
            p = span.free.pop()
            span.live += 1
            if not span.free:
                spans.pop()
            self._owner[p] = span
            length = size
        self._held += length
        return p

    def free(self, p: int) -> None:
        if not p:
            return
        owner = self._owner.pop(p)
        if isinstance(owner, int):
            self._held -= owner
            self.space.munmap(p, owner)
            return
        self._held -= owner.size
        owner.live -= 1
        if not owner.free:
            self._open[owner.size].append(owner)
        if owner.live == 0:                          # empty: back to the kernel
            self._open[owner.size].remove(owner)
            self.space.munmap(owner.start, SPAN)
        else:
            self.space.touch(p, 8)                   # the free list's link, written in the slot
            owner.free.append(p)

    def size_of(self, p: int) -> int:
        owner = self._owner[p]
        return owner if isinstance(owner, int) else owner.size

    def in_use(self) -> int:
        return self._held
