"""Runs: many equal chunks side by side in one state, kept as one record (for bulk steps).

Glossary:
  run        `Run(start, size, count, state)`: the chunks start, start + size, ...,
             start + (count - 1) * size, all of chunk size `size` and in state INUSE
             or FAST. A run stands for `count` entries of the chunk table; its chunks
             are in neither `_size` nor `_state` (the two never overlap).
  fast run   a run in state FAST. It is also a stretch of its fastbin: the chunks were
             pushed in address order, so the highest one is nearest the bin's head.
  deep part  `RunTable.deep[i]`: what fastbin i holds below its ordinary list, bottom
             first: fast runs and single chunks (single chunks are in the chunk table).
             While the deep part is not empty the list holds at least one chunk, so the
             allocation code's `if fastbin:` tests stay true.

Lookups go to the dicts first; the run table is asked only on a miss (`find`), and
a chunk that an ordinary operation needs is split out of its run (`split_out`).
"""

from __future__ import annotations

from bisect import bisect_right, insort

from .chunk import MIN_LARGE, SIZE_SZ, fastbin_index
from .heap import FAST, INUSE, LARGE, UNSORTED

__all__ = ["Run", "RunTable", "consolidate_run"]


class Run:
    """`count` adjacent chunks of `size` bytes from `start`, in one state.

    >>> r = Run(0x1000, 32, 4, 0); hex(r.end), r.last == 0x1060
    ('0x1080', True)
    """

    __slots__ = ("start", "size", "count", "state")

    def __init__(self, start: int, size: int, count: int, state: int) -> None:
        self.start = start
        self.size = size
        self.count = count
        self.state = state

    @property
    def end(self) -> int:
        return self.start + self.size * self.count

    @property
    def last(self) -> int:
        return self.start + self.size * (self.count - 1)

    def __repr__(self) -> str:
        return f"Run({self.start:#x}, {self.size}, {self.count}, {self.state})"


class RunTable:
    """The runs of one heap, sorted by address, and the deep parts of its fastbins.

    >>> size, state = {}, {}
    >>> t = RunTable(size, state, 10)
    >>> r = t.add(Run(0x1000, 32, 10, INUSE))
    >>> t.find(0x1040) is r, t.find(0x1048), len(t)
    (True, None, 1)
    >>> t.split_out(0x1040), size, len(t)
    (True, {4160: 32}, 2)
    """

    __slots__ = ("_starts", "_by_start", "_size", "_state", "deep")

    def __init__(self, size: dict, state: dict, nfast: int) -> None:
        self._starts: list[int] = []
        self._by_start: dict[int, Run] = {}
        self._size = size
        self._state = state
        self.deep: list[list] = [[] for _ in range(nfast)]

    def __len__(self) -> int:
        return len(self._starts)

    def __iter__(self):
        by = self._by_start
        return (by[s] for s in self._starts)

    # --- table ----------------------------------------------------------------------------
    def add(self, run: Run) -> Run:
        insort(self._starts, run.start)
        self._by_start[run.start] = run
        return run

    def remove(self, run: Run) -> None:
        del self._by_start[run.start]
        i = bisect_right(self._starts, run.start) - 1
        del self._starts[i]

    def find(self, c: int) -> Run | None:
        """The run holding chunk address `c`, or None."""
        starts = self._starts
        i = bisect_right(starts, c) - 1
        if i < 0:
            return None
        r = self._by_start[starts[i]]
        if c < r.end and not (c - r.start) % r.size:
            return r
        return None

    def ending_at(self, end: int, size: int, state: int) -> Run | None:
        """The run of `size`-byte chunks in `state` whose last chunk ends at `end`."""
        r = self.find(end - size)
        if r is not None and r.end == end and r.size == size and r.state == state:
            return r
        return None

    # --- splitting ------------------------------------------------------------------------
    def _cut(self, r: Run, c: int) -> Run | None:
        """Cut run `r` before chunk `c` (inside it): `r` keeps the lower part; return the upper."""
        k = (c - r.start) // r.size
        upper = Run(c, r.size, r.count - k, r.state)
        r.count = k
        self.add(upper)
        if r.state == FAST:
            deep = self.deep[fastbin_index(r.size)]
            j = _index(deep, r)
            deep.insert(j + 1, upper)
        return upper

    def isolate(self, r: Run, c: int, n: int) -> Run:
        """Make chunks c .. c + (n-1)*size of run `r` a run of their own and return it."""
        if c != r.start:
            r = self._cut(r, c)
        if n < r.count:
            self._cut(r, c + n * r.size)
        return r

    def split_out(self, c: int) -> bool:
        """If chunk `c` lies in a run, move it into the chunk table (same state); True if so."""
        r = self.find(c)
        if r is None:
            return False
        r = self.isolate(r, c, 1)
        self._size[c] = r.size
        self._state[c] = r.state
        self.remove(r)
        if r.state == FAST:
            deep = self.deep[fastbin_index(r.size)]
            deep[_index(deep, r)] = c
        return True

    # --- fastbins -------------------------------------------------------------------------
    def push_fast(self, fast, idx: int, run: Run) -> None:
        """Push fast run `run` (already in the table) onto fastbin `idx` of FastBins `fast`."""
        lst = fast.bins[idx]
        deep = self.deep[idx]
        deep.extend(lst)
        lst.clear()
        if len(deep) >= 2 and deep[-1].__class__ is int:      # rejoin the previous run
            below = deep[-2]
            top = deep[-1]
            if (below.__class__ is Run and below.end == top and top + run.size == run.start
                    and below.size == run.size):
                deep.pop()
                del self._size[top], self._state[top]
                self.remove(run)
                below.count += 1 + run.count
                run = None
        if run is not None:
            deep.append(run)
        lst.append(self.pop_top(idx))
        fast.runs = self

    def pop_top(self, idx: int) -> int:
        """Take the chunk nearest the head from the deep part of fastbin `idx`, into the table."""
        deep = self.deep[idx]
        item = deep[-1]
        if item.__class__ is int:
            return deep.pop()
        item.count -= 1
        c = item.start + item.size * item.count
        if not item.count:
            deep.pop()
            self.remove(item)
        self._size[c] = item.size
        self._state[c] = FAST
        return c

    def take_deep(self, idx: int) -> list:
        """Empty the deep part of fastbin `idx`; return it head first (runs as Run items)."""
        deep = self.deep[idx]
        self.deep[idx] = []
        deep.reverse()
        return deep

    def deep_count(self, idx: int) -> int:
        return sum(1 if x.__class__ is int else x.count for x in self.deep[idx])


def _index(items: list, run: Run) -> int:
    for j in range(len(items) - 1, -1, -1):
        if items[j] is run:
            return j
    raise AssertionError(f"{run!r} is not where the run table says")


def _stale_row_into_unsorted(m, low: int, size: int, n: int, extra: int, nxt_free: bool) -> None:
    """The size words consolidate_run's steps leave when its chunk goes to unsorted.

    The word at chunk j (j = 2 .. n - 1 counted from the run's start, and nxt = chunk n
    when it merges) is ((n - j) * size + extra) | 1; a 32-byte step binning a chunk of
    1024 bytes or more clears the nextsize links over the word it just left.
    """
    # step i (n - 1 down to 1) bins a chunk of (n - i) * size + extra bytes; from 1024 on,
    # that clears the words at c_i + 32 and c_i + 40 (i = 1 .. deepest)
    deepest = min(n - 1, n + (extra - MIN_LARGE) // size)
    if deepest >= 1:
        m._stale.forget_row(low + 32, size, deepest)
        m._stale.forget_row(low + 40, size, deepest)
    first, last = 2, n if nxt_free else n - 1
    if size == 32:                      # kept only where (n - j + 1) * 32 + extra < MIN_LARGE
        first = max(first, n + 2 + (extra - MIN_LARGE) // 32)
    if first <= last:
        word = ((n - first) * size + extra) | 1
        m._stale.put_row(low + (first - 1) * size + 8, size, last - first + 1, word, -size)


def consolidate_run(m, r: Run) -> int:
    """malloc_consolidate's walk over fast run `r` (taken from its fastbin), in closed form.

    The walk meets the chunks from the highest down. Each chunk but the lowest finds its
    lower neighbour still in the fastbin (no backward merge) and its upper neighbour
    either top or the free chunk the previous step made, so they all end up as one
    chunk: merged into top, or at the unsorted head with one footer. The lowest chunk
    is returned (now in the chunk table) for the ordinary code to finish.
    """
    runs = m._runs
    runs.remove(r)
    size, start, n = r.size, r.start, r.count
    if n > 1:
        low, high = start + size, r.last
        total = (n - 1) * size
        nxt = high + size
        # Step j (from the top down) leaves the size word it absorbs at chunk j + 1: the
        # words at low + size + 8, ... (the last one at nxt + 8 when nxt merges too).
        if nxt == m._top:
            m._stale.put_row(low + size + 8, size, n - 1, (m._top_size + total - size) | 1, -size)
            m._top = low
            m._top_size += total
        else:
            s = m._state.get(nxt, INUSE)
            merged = size
            extra = 0
            if UNSORTED <= s <= LARGE:
                extra = m._size[nxt]
            _stale_row_into_unsorted(m, low, size, n, extra, UNSORTED <= s <= LARGE)
            if extra:
                m._unbin(nxt)
                total += extra
                merged += extra
            m._to_unsorted(low, total)
            # every step wrote a header (and links) at its chunk: the highest one's reach
            m._touch(low + SIZE_SZ, high - low + (40 if merged >= MIN_LARGE else 24))
    m._size[start] = size
    m._state[start] = FAST
    return start
