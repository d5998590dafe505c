"""The per-thread cache (tcache) and the fastbins: LIFO lists of chunks that look in use.

Chunks in either keep the next chunk's PREV_INUSE bit set, so they never
coalesce while cached, and mallinfo2 counts tcache chunks as in use.
"""

from __future__ import annotations

__all__ = ["Tcache", "FastBins"]


class Tcache:
    """64 LIFO bins of at most `limit` chunks, plus the address of its bookkeeping chunk.

    >>> t = Tcache(0x10, bins=64, limit=7)
    >>> t.bins[1] += [0x500, 0x600]; list(t)      # each bin's head (its last item) first
    [1536, 1280]
    """

    __slots__ = ("addr", "bins", "limit")

    def __init__(self, addr: int, bins: int, limit: int) -> None:
        self.addr = addr                      # chunk holding the bookkeeping struct
        self.bins: list[list[int]] = [[] for _ in range(bins)]
        self.limit = limit

    def __iter__(self):
        for b in self.bins:
            yield from reversed(b)


class FastBins:
    """LIFO singly linked lists by chunk size, 16 bytes apart from `base` * 16 (x86-64: ten,
    32, 48, ..., 176), with totals.

    >>> f = FastBins(10, base=2)
    >>> f.push(0x500, 48); f.count, f.bytes, f.head(1), f.size_of(1)
    (1, 48, 1280, 48)
    """

    __slots__ = ("bins", "count", "bytes", "runs", "_base")

    def __init__(self, n: int, base: int) -> None:
        self._base = base
        self.bins: list[list[int]] = [[] for _ in range(n)]
        self.count = 0
        self.bytes = 0
        self.runs = None                      # RunTable holding deep parts (memlab.glibc.runs)

    def push(self, chunk: int, size: int) -> None:
        self.bins[(size >> 4) - self._base].append(chunk)   # fastbin_index, inline (hot)
        self.count += 1
        self.bytes += size

    def pop(self, idx: int, size: int) -> int:
        self.count -= 1
        self.bytes -= size
        b = self.bins[idx]
        c = b.pop()
        if not b and self.runs is not None and self.runs.deep[idx]:
            b.append(self.runs.pop_top(idx))
        return c

    def size_of(self, idx: int) -> int:
        """The chunk size bin `idx` holds."""
        return (idx + self._base) << 4

    def head(self, idx: int) -> int | None:
        b = self.bins[idx]
        return b[-1] if b else None

    def take_all(self, idx: int, size: int) -> list[int]:
        """Empty bin `idx`; return its chunks from head to tail."""
        b = self.bins[idx]
        self.bins[idx] = []
        n = len(b)
        b.reverse()
        if self.runs is not None and self.runs.deep[idx]:
            n += self.runs.deep_count(idx)
            b += self.runs.take_deep(idx)     # runs stay Run items: the caller walks them
        self.count -= n
        self.bytes -= n * size
        return b

    def __iter__(self):
        for i, b in enumerate(self.bins):
            yield from reversed(b)
            if self.runs is not None:
                for x in reversed(self.runs.deep[i]):
                    if x.__class__ is int:
                        yield x
                    else:
                        yield from range(x.last, x.start - 1, -x.size)
