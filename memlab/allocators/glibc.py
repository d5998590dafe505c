"""Glibc: memlab's exact model of glibc's malloc (`memlab.glibc.Malloc`) as one more Allocator.

>>> g = Glibc(); p = g.malloc(24)
>>> g.size_of(p), g.in_use(), g.model.last_note.path
(24, 688, 'top')
"""

from __future__ import annotations

from memlab.allocators.base import Allocator
from memlab.glibc import DEFAULT_RELEASE, Malloc

__all__ = ["Glibc"]


class Glibc(Allocator):
    """glibc's malloc family (release `glibc`), every call passed to the model unchanged."""

    def __init__(self, space=None, glibc: str = DEFAULT_RELEASE) -> None:
        self._model = Malloc(space, glibc=glibc)
        super().__init__(self._model.space)
        m = self._model
        # the model's bound methods, so that a replay pays no extra call per operation
        self.malloc, self.free, self.calloc = m.malloc, m.free, m.calloc
        self.memalign, self.malloc_trim, self.mallopt = m.memalign, m.malloc_trim, m.mallopt
        self.mallinfo2, self.chunks, self.mmapped_chunks = m.mallinfo2, m.chunks, m.mmapped_chunks
        self.size_of = m.malloc_usable_size
        self.note_of = m.note_of

    def realloc(self, p: int, n: int) -> int:
        m = self._model
        old = m.malloc_usable_size(p) if p else 0
        q = m.realloc(p, n)
        if old and q and q != p:       # the model copied (and wrote) the bytes: say so
            if len(self._copies) >= 16:
                del self._copies[:-1]
            self._copies.append((q, p, min(old, n)))
        return q

    @property
    def model(self) -> Malloc:
        """The glibc model behind it."""
        return self._model

    @property
    def last_note(self):
        return self._model.last_note

    @property
    def note_token(self) -> tuple:
        return self._model.note_token

    def in_use(self) -> int:
        return self._model.mallinfo2().uordblks
