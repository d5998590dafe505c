"""Bulk steps: many equal mallocs or frees applied at once, leaving exactly the state single steps leave.

`malloc_run(n, count)` is `count` calls of `malloc(n)`; `free_run(p, stride, count)`
is `free(p)`, `free(p + stride)`, ... in that order. Where every call would take
the same path (carve from top, push onto a fastbin), the calls are applied in
closed form and their chunks kept as one run (memlab.glibc.runs); elsewhere they
are ordinary single calls. Runs follow x86-64's chunk layout: on another architecture every
call is a single call.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..units import PAGE
from .arch import X86_64
from .bins import bin_index
from .chunk import (HDR, MIN_LARGE, MINSIZE, PTRDIFF_MAX, SIZE_SZ, as_size_t as _size_t,
                    fastbin_index, request2size, tcache_index)
from .heap import FAST, INUSE, STATE_NAMES, UNSORTED
from .info import ChunkView
from .runs import Run, RunTable

__all__ = ["Block", "BulkSteps"]


@dataclass(frozen=True, slots=True)
class Block:
    """`count` user addresses addr, addr + stride, ... (addr 0: that many NULL results).

    >>> b = Block(0x1010, 32, 3); list(b) == [0x1010, 0x1030, 0x1050]
    True
    """

    addr: int
    stride: int
    count: int

    def __iter__(self):
        if not self.addr:
            return iter([0] * self.count)
        return iter(range(self.addr, self.addr + self.stride * self.count, self.stride))


def _blocks_add(out: list, addr: int, stride: int, count: int) -> None:
    """Append `count` addresses (addr, addr + stride, ...), extending the last Block if they continue it."""
    if out:
        last = out[-1]
        if last.addr and addr:
            step = addr - last.addr if last.count == 1 else last.stride
            if (step > 0 and addr == last.addr + step * last.count
                    and (count == 1 or stride == step)):
                out[-1] = Block(last.addr, step, last.count + count)
                return
        elif not last.addr and not addr:
            out[-1] = Block(0, 0, last.count + count)
            return
    out.append(Block(addr, stride if addr else 0, count))


class BulkSteps:
    """The bulk calls of `Malloc` (a mixin over its arena)."""

    def _run_table(self) -> RunTable:
        if self._runs is None:
            self._runs = RunTable(self._size, self._state, len(self._fast.bins))
        return self._runs

    def _split_run(self, c: int) -> bool:
        """Move chunk `c` out of its run into the chunk table; False if it is in no run."""
        return self._runs is not None and self._runs.split_out(c)

    # --- malloc -------------------------------------------------------------------------
    def malloc_run(self, n: int, count: int) -> tuple[Block, ...]:
        """`count` calls of malloc(n); the addresses as Blocks, in call order.

        >>> from memlab.glibc import Malloc
        >>> m = Malloc(); (b,) = m.malloc_run(4, 1000); b.stride, b.count
        (32, 1000)
        >>> m.mallinfo2().uordblks
        32656
        """
        _size_t("n", n)
        if count.__class__ is not int or count < 0:
            raise ValueError(f"count must be an int >= 0, got {count!r}")
        out: list[Block] = []
        if self._arch is not X86_64:
            nb = self._arch.request2size(n)
            for _ in range(count):
                _blocks_add(out, self.malloc(n), nb, 1)
            return tuple(out)
        if n > PTRDIFF_MAX:
            for _ in range(count):
                self.malloc(n)
            return (Block(0, 0, count),) if count else ()
        nb = request2size(n)
        done = 0
        while done < count:
            if self._carve_ready(nb):
                k = self._carve(nb, count - done, out)
                if k:
                    done += k
                    self._note = (("malloc", (n,)), self._path, nb)
                    continue
            p = self.malloc(n)
            _blocks_add(out, p, nb, 1)
            done += 1
        return tuple(out)

    def _carve_ready(self, nb: int) -> bool:
        """True when malloc(nb) would be served by carving top (glibc's step T)."""
        if self._perturb or nb > PAGE or self._top_size < nb + MINSIZE:
            return False
        tc = self._tcache
        if tc is None:
            if self._rel.has_tcache and not self._rel.tcache_lazy:
                return False                          # the first call creates the tcache
        elif nb <= self._tmax and tc.bins[tcache_index(nb)]:
            return False
        if nb <= self._max_fast and self._fast.bins[fastbin_index(nb)]:
            return False
        bins = self._bins
        if bins.unsorted or (nb >= MIN_LARGE and self._have_fast):
            return False
        return not bins.nonempty_mask() >> bin_index(nb)

    def _carve(self, nb: int, want: int, out: list) -> int:
        """Carve up to `want` chunks of nb from top, growing the heap as glibc would."""
        runs = self._run_table()
        done = 0
        run = runs.ending_at(self._top, nb, INUSE)
        while done < want:
            top, tsize = self._top, self._top_size
            k = min((tsize - MINSIZE) // nb, want - done) if tsize >= nb + MINSIZE else 0
            if k > 0 and not self._touch_fits(k * nb):
                break
            if k > 0:
                if run is not None and run.end == top:
                    run.count += k
                else:
                    run = runs.add(Run(top, nb, k, INUSE))
                self._top = top + k * nb
                self._top_size = tsize - k * nb
                self._touch(top + nb + SIZE_SZ, (k - 1) * nb + SIZE_SZ)   # each new top's size word
                _blocks_add(out, top + HDR, nb, k)
                done += k
                self._path = "top"
                self._info = ""
                continue
            # top is too small: glibc consolidates fastbins first, or maps the chunk
            if self._have_fast or (nb >= self._mmap_threshold and len(self._mmapped) < self._mmap_max):
                break
            self._info = ""
            c = self._sysmalloc(nb)
            if not c:
                self._path = "fail"
                _blocks_add(out, 0, 0, 1)
                return done + 1
            del self._size[c], self._state[c]
            if run is not None and run.end == c:
                run.count += 1
            else:
                run = runs.add(Run(c, nb, 1, INUSE))
            _blocks_add(out, c + HDR, nb, 1)
            done += 1
            if not self._carve_ready(nb):         # growth may have freed an old top (fenceposts)
                break
        return done

    def _touch_fits(self, nbytes: int) -> bool:
        """True when writing `nbytes` of new pages cannot make the kernel evict or swap in.

        Under memory pressure the order of single writes decides which pages are evicted,
        so bulk steps then fall back to single steps.
        """
        space = self._space
        ram = space.ram
        return ram is None or (not space.swap and space.rss + nbytes + 2 * PAGE <= ram)

    # --- free ---------------------------------------------------------------------------
    def free_run(self, p: int, stride: int, count: int) -> None:
        """free(p), free(p + stride), ..., `count` calls in that order.

        >>> from memlab.glibc import Malloc
        >>> m = Malloc(); (b,) = m.malloc_run(4, 1000); m.free_run(b.addr, b.stride, b.count)
        >>> m.mallinfo2().smblks, m.mallinfo2().fsmblks
        (993, 31776)
        """
        _size_t("p", p)
        if stride.__class__ is not int or count.__class__ is not int or count < 0:
            raise ValueError(f"stride and count must be ints (count >= 0), got {stride!r}, {count!r}")
        if self._arch is not X86_64:
            for k in range(count):
                self.free(p + k * stride)
            return
        done = 0
        while done < count:
            a = p + done * stride
            c = a - HDR
            k = self._fast_free_span(c, stride, count - done)
            if k < 2:
                k = self._merge_free_span(c, stride, count - done)
                if k < 2:
                    self.free(a)
                    done += 1
                else:
                    self._merge_run(c, stride, k)
                    done += k
                continue
            runs = self._runs
            size = stride
            r = runs.isolate(runs.find(c), c, k)
            r.state = FAST
            runs.push_fast(self._fast, fastbin_index(size), r)
            self._fast.count += k
            self._fast.bytes += k * size
            self._have_fast = True
            self._touch(c + HDR, (k - 1) * size + SIZE_SZ)        # each chunk's fd pointer
            self._path = "free-fastbin"
            self._info = ""
            self._note = (("free", (a + (k - 1) * stride,)), "free-fastbin", size)
            done += k

    def _freeable_run(self, c: int, stride: int) -> Run | None:
        """The in-use run of `stride`-byte chunks that chunk `c` is in, when frees of its chunks
        would pass the tcache by (its bin full, or no tcache in this release) and could be
        applied in bulk (no perturb byte, no memory pressure); else None."""
        runs = self._runs
        if runs is None or c in self._state or self._perturb:
            return None
        r = runs.find(c)
        if r is None or r.state != INUSE or r.size != stride:
            return None
        tc = self._tcache
        if tc is None:
            if self._rel.has_tcache:
                return None
        elif stride <= self._tmax and len(tc.bins[tcache_index(stride)]) < tc.limit:
            return None
        return r if self._touch_fits(0) else None

    def _fast_free_span(self, c: int, stride: int, want: int) -> int:
        """How many chunks from `c` on would each go to the fastbin as part of one in-use run."""
        r = self._freeable_run(c, stride) if stride <= self._max_fast else None
        return 0 if r is None else min(want, (r.end - c) // stride)

    def _merge_free_span(self, c: int, stride: int, want: int) -> int:
        """How many chunks from `c` on would each merge into the free chunk below them,
        one growing unsorted chunk that never reaches top, fastbins or a trim."""
        if self._have_fast or stride <= self._max_fast or self._top_size >= self._trim_threshold:
            return 0
        prev = self._free_end.get(c)
        if prev is None or self._state.get(prev) != UNSORTED or self._size[prev] < MIN_LARGE:
            return 0
        r = self._freeable_run(c, stride)
        return 0 if r is None else min(want, (r.end - c) // stride - 1)   # last chunk: single step

    def _merge_run(self, c: int, stride: int, k: int) -> None:
        """free() of the `k` run chunks from `c` on, each merging into the free chunk below."""
        runs = self._runs
        prev = self._free_end[c]
        below = self._size[prev]
        runs.remove(runs.isolate(runs.find(c), c, k))
        # each absorbed header keeps its footer (the size of the chunk below) and size word
        self._stale.put_row(c, stride, k, below, stride)
        self._stale.put_row(c + 8, stride, k, stride, 0)
        self._unbin(prev)
        self._touch(c + stride, (k - 1) * stride + 8)      # the footers written on the way
        self._to_unsorted(prev, below + k * stride)
        self._path = "free-unsorted"
        self._info = ""
        self._note = (("free", (c + HDR + (k - 1) * stride,)), "free-unsorted", stride)

    # --- views --------------------------------------------------------------------------
    def _chunk_items(self) -> list[tuple[int, int, int, int]]:
        """(addr, size, state, count) in address order: table entries (count 1) and runs."""
        items = [(a, s, self._state[a], 1) for a, s in self._size.items()]
        if self._runs:
            items += [(r.start, r.size, r.state, r.count) for r in self._runs]
        items.sort()
        return items

    def chunk_spans(self):
        """Heap chunks in address order as (addr, size, state name, count): `count` adjacent
        chunks of one size and state (a bulk run) in one item, so a picture of 10**8 chunks
        needs no 10**8 records.

        >>> from memlab.glibc import Malloc
        >>> m = Malloc(); _ = m.malloc_run(24, 1000); [(size, state, n) for _, size, state, n in m.chunk_spans()]
        [(656, 'in_use', 1), (32, 'in_use', 1), (32, 'in_use', 999), (102512, 'top', 1)]
        """
        items = self._chunk_items() if self._runs else sorted(
            (a, s, self._state[a], 1) for a, s in self._size.items())
        if self._top:
            items.append((self._top, self._top_size, -1, 1))
            items.sort()
        for addr, size, state, count in items:
            yield addr, size, "top" if state < 0 else STATE_NAMES[state], count

    def _chunk_views(self):
        """chunks() when runs exist: runs are expanded one chunk at a time."""
        top = self._top
        items = self._chunk_items()
        if top:
            items.append((top, self._top_size, -1, 1))
            items.sort()
        for addr, size, state, count in items:
            if state < 0:
                yield ChunkView(addr, size, "top")
                continue
            name = STATE_NAMES[state]
            for a in range(addr, addr + size * count, size):
                yield ChunkView(a, size, name)
