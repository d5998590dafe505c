"""Words glibc left in heap memory at chunk headers the model no longer tracks.

A merge never clears the header of the chunk it absorbs, and a chunk that becomes
part of top keeps the top-size word it last held. A later misuse (a double free,
a realloc of a freed block) makes glibc read such a word back, so the model keeps
the last value it knows at each such address. Words are grouped by page, so that
dropping everything in a range (memory cleared, unmapped or given back to the
kernel) costs one lookup per page, not one per word.
"""

from __future__ import annotations

__all__ = ["StaleWords"]

_PAGE_SHIFT = 12


class StaleWords:
    """A sparse map: 8-byte-aligned address -> the word last left there.

    >>> w = StaleWords()
    >>> w.put(0x1008, 2016); w.put(0x1000, 2016); w.get(0x1008), w.get(0x2008)
    (2016, None)
    >>> w.forget(0x1000, 0x1008); w.get(0x1000), w.get(0x1008), len(w)
    (None, 2016, 1)
    """

    __slots__ = ("_pages",)

    def __init__(self) -> None:
        self._pages: dict[int, dict[int, int]] = {}

    def __len__(self) -> int:
        return sum(len(b) for b in self._pages.values())

    def put(self, addr: int, word: int) -> None:
        """Remember that `word` is what glibc last wrote at `addr`."""
        b = self._pages.get(addr >> _PAGE_SHIFT)
        if b is None:
            self._pages[addr >> _PAGE_SHIFT] = {addr: word}
        else:
            b[addr] = word

    def get(self, addr: int) -> int | None:
        """The remembered word at `addr`, or None."""
        b = self._pages.get(addr >> _PAGE_SHIFT)
        return None if b is None else b.get(addr)

    def _pages_in(self, lo: int, hi: int) -> list[int]:
        """The pages holding words in [lo, hi) (hi > lo), at most one probe per page or per page held."""
        pages = self._pages
        first, last = lo >> _PAGE_SHIFT, (hi - 1) >> _PAGE_SHIFT
        if first == last:
            return [first] if first in pages else []
        if last - first >= len(pages):
            return [pg for pg in pages if first <= pg <= last]
        return [pg for pg in range(first, last + 1) if pg in pages]

    @staticmethod
    def _words_in(b: dict[int, int], lo: int, hi: int) -> list[int]:
        """The addresses of page bucket `b` in [lo, hi): probe each word or scan the bucket,
        whichever is shorter (all stored addresses are multiples of 8)."""
        if (hi - lo) >> 3 < len(b):
            return [a for a in range((lo + 7) & ~7, hi, 8) if a in b]
        return [a for a in b if lo <= a < hi]

    def forget(self, lo: int, hi: int) -> None:
        """Drop every word in [lo, hi): the memory was overwritten, cleared or unmapped."""
        pages = self._pages
        if not pages or hi <= lo:
            return
        pg = lo >> _PAGE_SHIFT
        if pg == (hi - 1) >> _PAGE_SHIFT:            # the common case: one page
            b = pages.get(pg)
            if b is not None:
                for a in self._words_in(b, lo, hi):
                    del b[a]
                if not b:
                    del pages[pg]
            return
        for pg in self._pages_in(lo, hi):
            start, end = pg << _PAGE_SHIFT, (pg + 1) << _PAGE_SHIFT
            if lo <= start and end <= hi:
                del pages[pg]
                continue
            b = pages[pg]
            for a in self._words_in(b, max(lo, start), min(hi, end)):
                del b[a]
            if not b:
                del pages[pg]

    def move(self, src: int, dst: int, n: int) -> None:
        """A copy of `n` bytes from `src` to `dst` (memcpy): the words go along."""
        pages = self._pages
        if not pages or n <= 0:
            return
        lo, hi = src, src + n
        moved = []
        for pg in self._pages_in(lo, hi):
            b = pages[pg]
            for a in self._words_in(b, max(lo, pg << _PAGE_SHIFT), min(hi, (pg + 1) << _PAGE_SHIFT)):
                moved.append((a + dst - src, b[a]))
        self.forget(dst, dst + n)
        for a, w in moved:
            self.put(a, w)
