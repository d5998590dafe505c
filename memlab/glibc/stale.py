"""Words glibc left in heap memory at chunk headers the model no longer tracks.

A merge never clears the header of the chunk it absorbs, and a chunk that becomes
part of top keeps the top-size word it last held. A later misuse (a double free,
a realloc of a freed block) makes glibc read such a word back, so the model keeps
the last value it knows at each such address. Words are grouped by page, so that
dropping everything in a range (memory cleared, unmapped or given back to the
kernel) costs one lookup per page, not one per word. A bulk step leaves whole
arithmetic rows of words (`put_row`), kept as rows; an address is held by at most
one of the page map and the rows.
"""

from __future__ import annotations

__all__ = ["StaleWords"]

_PAGE_SHIFT = 12
_MASK64 = (1 << 64) - 1


class StaleWords:
    """A sparse map: 8-byte-aligned address -> the word last left there.

    >>> w = StaleWords()
    >>> w.put(0x1008, 2016); w.put(0x1000, 2016); w.get(0x1008), w.get(0x2008)
    (2016, None)
    >>> w.forget(0x1000, 0x1008); w.get(0x1000), w.get(0x1008), len(w)
    (None, 2016, 1)
    >>> w.put_row(0x3000, 32, 4, 100, -32); w.get(0x3040), len(w)
    (36, 5)
    """

    __slots__ = ("_pages", "_rows")

    def __init__(self) -> None:
        self._pages: dict[int, dict[int, int]] = {}
        # rows (addr, stride, count, word, step): word + i * step at addr + i * stride
        self._rows: list[tuple[int, int, int, int, int]] = []

    def __len__(self) -> int:
        return sum(len(b) for b in self._pages.values()) + sum(r[2] for r in self._rows)

    def items(self) -> list[tuple[int, int]]:
        """Every (address, word), in address order."""
        out = [(a, w) for b in self._pages.values() for a, w in b.items()]
        for a, stride, count, word, step in self._rows:
            out += [(a + i * stride, (word + i * step) & _MASK64) for i in range(count)]
        out.sort()
        return out

    def put(self, addr: int, word: int) -> None:
        """Remember that `word` is what glibc last wrote at `addr`."""
        if self._rows:
            self._rows_without(addr, 8, 1)
        b = self._pages.get(addr >> _PAGE_SHIFT)
        if b is None:
            self._pages[addr >> _PAGE_SHIFT] = {addr: word}
        else:
            b[addr] = word

    def put_row(self, addr: int, stride: int, count: int, word: int, step: int) -> None:
        """`put(addr + i * stride, word + i * step)` for i = 0 .. count - 1, kept as one row."""
        if stride <= 0 or stride & 7 or count < 0:
            raise ValueError(f"a row needs a positive stride that is a multiple of 8 (got {stride}, count {count})")
        if count < 4:
            for i in range(count):
                self.put(addr + i * stride, (word + i * step) & _MASK64)
            return
        self.forget_row(addr, stride, count)
        self._rows.append((addr, stride, count, word & _MASK64, step))

    def forget_row(self, addr: int, stride: int, count: int) -> None:
        """Drop the words at addr, addr + stride, ..., `count` addresses (and no others)."""
        if stride <= 0 or stride & 7 or count <= 0:
            if count <= 0:
                return
            raise ValueError(f"a row needs a positive stride that is a multiple of 8 (got {stride})")
        last = addr + (count - 1) * stride
        pages = self._pages
        for pg in self._pages_in(addr, last + 1):             # drop single words on the row
            b = pages[pg]
            for a in [a for a in b if addr <= a <= last and not (a - addr) % stride]:
                del b[a]
            if not b:
                del pages[pg]
        if self._rows:
            self._rows_without(addr, stride, count)

    def _rows_without(self, addr: int, stride: int, count: int) -> None:
        """Drop the rows' words at addr, addr + stride, ... (`count` addresses)."""
        last = addr + (count - 1) * stride
        pages = self._pages
        kept = []
        for row in self._rows:
            a, s, n, w, st = row
            if a + (n - 1) * s < addr or a > last or (s == stride and (a - addr) % stride):
                kept.append(row)                              # no address in common
                continue
            i0, i1 = _span(a, s, n, addr, last + 1)
            if i0:
                kept.append((a, s, i0, w, st))
            if i1 < n:
                kept.append((a + i1 * s, s, n - i1, (w + i1 * st) & _MASK64, st))
            if not (s % stride or (a - addr) % stride):
                continue                                      # every address inside is dropped
            for i in range(i0, i1):                           # inside: keep what the row misses
                x = a + i * s
                if (x - addr) % stride:
                    b = pages.get(x >> _PAGE_SHIFT)
                    if b is None:
                        pages[x >> _PAGE_SHIFT] = b = {}
                    b[x] = (w + i * st) & _MASK64
        self._rows = kept

    def get(self, addr: int) -> int | None:
        """The remembered word at `addr`, or None."""
        b = self._pages.get(addr >> _PAGE_SHIFT)
        if b is not None and addr in b:
            return b[addr]
        for a, stride, count, word, step in self._rows:
            i, r = divmod(addr - a, stride)
            if not r and 0 <= i < count:
                return (word + i * step) & _MASK64
        return None

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
        if hi <= lo:
            return
        if self._rows:
            first = (lo + 7) & ~7                     # every word address is a multiple of 8
            if first < hi:
                self._rows_without(first, 8, (hi - first + 7) >> 3)
        pages = self._pages
        if not pages:
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
        if n <= 0 or not (pages or self._rows):
            return
        lo, hi = src, src + n
        rows = []
        for a, s, count, w, st in self._rows:
            i0, i1 = _span(a, s, count, lo, hi)
            if i0 < i1:
                rows.append((a + i0 * s + dst - src, s, i1 - i0, (w + i0 * st) & _MASK64, st))
        moved = []
        for pg in self._pages_in(lo, hi):
            b = pages[pg]
            for a in self._words_in(b, max(lo, pg << _PAGE_SHIFT), min(hi, (pg + 1) << _PAGE_SHIFT)):
                moved.append((a + dst - src, b[a]))
        self.forget(dst, dst + n)
        for row in rows:
            self.put_row(*row)
        for a, w in moved:
            self.put(a, w)


def _span(a: int, stride: int, count: int, lo: int, hi: int) -> tuple[int, int]:
    """The indices i0 .. i1 - 1 of the row's addresses a + i * stride that lie in [lo, hi)."""
    i0 = 0 if lo <= a else min(count, -((a - lo) // stride))
    i1 = 0 if hi <= a else min(count, -((a - hi) // stride))
    return i0, max(i0, i1)
