"""Malloc: glibc's malloc family (2.36, 2.41 or 2.43; x86-64 or i386) on a simulated address space (main arena, one thread).

    >>> m = Malloc()
    >>> p = m.malloc(1)
    >>> info = m.mallinfo2()
    >>> info.arena, info.uordblks, info.fordblks
    (135168, 688, 134480)
    >>> Malloc(glibc="2.43").malloc(1) - Malloc(glibc="2.41").malloc(1)   # no tcache block yet
    -656
    >>> m = Malloc(arch="i386"); p = m.malloc(1); m.mallinfo2().uordblks, m.mallinfo2().arena
    (424, 139264)
"""

from __future__ import annotations

import copy

from ..errors import MallocAbort
from ..space import AddressSpace
from ..space.layout32 import Layout32
from ..units import align_up
from .aligned import AlignedAlloc
from .arch import DEFAULT_ARCH, I386, X86_64, Arch
from .arena import Arena
from .bulk import BulkSteps
from .check import check_heap
from .chunk import IS_MMAPPED, mmapped_chunk_ok
from .heap import INUSE, LARGE, STATE_NAMES, UNSORTED
from .info import ChunkView, Mallinfo2, make_mallinfo2, stats_text
from .mallopt import M_MMAP_MAX, M_MMAP_THRESHOLD, M_MXFAST, M_PERTURB, M_TOP_PAD, M_TRIM_THRESHOLD
from .misuse import check_free, check_realloc
from .note import PathNote, describe
from .release import DEFAULT_RELEASE, Release, max_fast_for, release
from .tcache import Tcache

__all__ = ["Malloc", "Mallinfo2", "ChunkView", "NULL", "default_space"]

NULL = 0
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


def default_space(arch: Arch) -> AddressSpace:
    """A fresh address space laid out as a process of `arch` starts: x86-64's, or on i386 the
    break right after the program and mappings below the libraries, then below the program
    (`Layout32.typical`; the kernel's last, bottom-up resort is `memlab.space.space32`'s).

    >>> hex(default_space(I386).heap_start), hex(default_space(I386).mmap_base)   # libc's start
    ('0x5656a000', '0xf7d89000')
    """
    if arch.size_sz == X86_64.size_sz:
        return AddressSpace()
    layout = Layout32.typical()
    lowest = {kind: min(r.start for r in layout.regions if r.kind == kind)
              for kind in ("program", "library")}
    return AddressSpace(heap_start=layout.heap_start, mmap_base=lowest["library"],
                        mmap_below=(layout.floor, lowest["program"]))


def _show(v: int) -> str:
    return f"{v:#x}" if v > 0xFFFFFF else str(v)


class Malloc(BulkSteps, AlignedAlloc, Arena):
    """glibc's malloc family for one single-threaded process.

    Addresses are those of the simulated address space; 0 is NULL. Misuse that
    glibc detects raises `MallocAbort` with glibc's message; misuse it does not
    detect raises `UndefinedBehavior`. Either way the state is left unchanged.

    >>> m = Malloc()
    >>> a = m.malloc(24); b = m.malloc(24)
    >>> b - a, m.malloc_usable_size(a)
    (32, 24)
    >>> m.free(a); m.malloc(10) == a
    True
    """

    def __init__(self, space=None, glibc: str | Release = DEFAULT_RELEASE,
                 arch: str | Arch = DEFAULT_ARCH) -> None:
        rel = release(glibc, arch)
        if space is None:
            space = default_space(rel.arch)
        super().__init__(space, rel)
        self._note = ("", "null", "")
        self._info = ""                          # numbers for the latest call's note

    # --- views ------------------------------------------------------------------------------
    @property
    def space(self):
        """The AddressSpace the heap lives in.

        >>> m = Malloc(); _ = m.malloc(1); m.space.brk - m.space.heap_start
        135168
        """
        return self._space

    @property
    def arch(self) -> Arch:
        """The architecture glibc is built for.

        >>> Malloc().arch.name, Malloc(arch="i386").arch.size_sz
        ('x86-64', 4)
        """
        return self._arch

    @property
    def release(self) -> Release:
        """The glibc release modelled.

        >>> Malloc().release.name, Malloc(glibc="2.43").release.has_fastbins
        ('2.36', False)
        """
        return self._rel

    @property
    def mmap_threshold(self) -> int:
        """Requests whose chunk is at least this big are mmapped (when top cannot serve them).

        >>> Malloc().mmap_threshold
        131072
        """
        return self._mmap_threshold

    @property
    def trim_threshold(self) -> int:
        """A free that leaves top at least this big trims the heap.

        >>> Malloc().trim_threshold
        131072
        """
        return self._trim_threshold

    @property
    def top_pad(self) -> int:
        """Extra bytes asked of sbrk on growth and kept on trimming.

        >>> Malloc().top_pad
        131072
        """
        return self._top_pad

    @property
    def max_fast(self) -> int:
        """Largest chunk size that goes to a fastbin.

        >>> Malloc().max_fast
        128
        """
        return self._max_fast

    @property
    def mmap_max(self) -> int:
        """Most mmapped chunks allowed at once.

        >>> Malloc().mmap_max
        65536
        """
        return self._mmap_max

    @property
    def last_note(self) -> PathNote:
        """What the latest public call did.

        >>> m = Malloc(); _ = m.malloc(200000); m.last_note.path
        'mmap'
        """
        return self.note_of(self.note_token)

    @property
    def note_token(self) -> tuple:
        """The latest call's note, unformatted: cheap to keep for every operation of a replay
        (`note_of` turns it into the PathNote; the same call gives the identical token).

        >>> m = Malloc(); _ = m.malloc(100); m.note_of(m.note_token) == m.last_note
        True
        """
        return self._note, self._info

    @staticmethod
    def note_of(token: tuple) -> PathNote:
        """The PathNote of a `note_token`."""
        (call, path, detail), info = token
        if isinstance(call, tuple):                  # (function name, arguments)
            name, args = call
            call = f"{name}({', '.join(a if isinstance(a, str) else _show(a) for a in args)})"
        if isinstance(detail, int):                  # a chunk size
            detail = f"{detail:,}-byte chunk:"
        return describe(call, path, detail, info)

    # --- malloc -------------------------------------------------------------------------------
    def _maybe_init_tcache(self) -> None:
        if (self._tcache is None and self._rel.has_tcache and not self._rel.tcache_lazy
                and not self._no_tcache_init):
            rel = self._rel
            if not rel.tcache_in_heap:            # bookkeeping outside the arena
                self._tcache = Tcache(0, rel.tcache_bins, rel.tcache_count)
                return
            c = self._int_malloc(rel.tcache_chunk_size)
            if c:
                self._perturb_after(c, rel.tcache_struct_bytes)
                self._tcache = Tcache(c, rel.tcache_bins, rel.tcache_count)
                self._touch(c + self._hdr, rel.tcache_struct_bytes)   # memset of the struct

    def tcache_init_fails(self) -> bool:
        """Whether the tcache, not made yet, cannot be allocated in the main arena: glibc's
        tcache_init then retries in a new arena (arena_get_retry), which only `Threads` has.

        >>> m = Malloc(); m.tcache_init_fails()
        False
        >>> _ = m.mallopt(M_TOP_PAD, -2000000); m.tcache_init_fails()   # the sbrk request wraps
        True
        """
        rel = self._rel
        if (self._tcache is not None or not rel.has_tcache or rel.tcache_lazy
                or not rel.tcache_in_heap or self._no_tcache_init):
            return False
        probe = copy.deepcopy(self)
        probe._maybe_init_tcache()
        return probe._tcache is None

    def malloc(self, n: int) -> int:
        """Allocate `n` bytes; return the user address or NULL.

        >>> m = Malloc(); p = m.malloc(100); m.malloc_usable_size(p)
        104
        """
        self._info = ""
        if n.__class__ is not int or n < 0 or n > self._mask:
            n = self._fit("n", n)
        nb = self._minsize if n <= self._min_req else (n + self._req_pad) & ~15  # request2size, inline
        if n > self._ptrdiff_max:
            self._note = (("malloc", (n,)), "fail", "")
            return NULL
        c = self._malloc_chunk(nb, n)
        self._note = (("malloc", (n,)), self._path if c else "fail", nb)
        return c + self._hdr if c else NULL

    def _tcache_take(self, nb: int) -> int:
        """The head of the tcache bin of chunk size `nb`, now in use; 0 if that bin is empty
        or there is none (`_malloc_chunk` has this inline)."""
        tc = self._tcache
        if tc is not None and nb <= self._tmax:
            ti = (nb - self._tc_off) >> 4
            if tc.bins[ti]:
                return self._tcache_get(ti)
        return 0

    def _malloc_chunk(self, nb: int, n: int) -> int:
        """__libc_malloc after the size check: tcache init, tcache hit, else _int_malloc."""
        if self._tcache is None:
            self._maybe_init_tcache()
        tc = self._tcache                        # _tcache_take, inline: the hottest path of all
        if tc is not None and nb <= self._tmax:
            tb = tc.bins[(nb - self._tc_off) >> 4]   # tcache_index
            if tb:
                c = tb.pop()
                self._state[c] = INUSE
                self._path = "tcache"
                return c
        c = self._int_malloc(nb)
        if c and self._perturb:
            self._perturb_after(c, n)
        return c

    # --- free ---------------------------------------------------------------------------------
    def free(self, p: int) -> None:
        """Release the block at `p` (NULL: nothing).

        >>> m = Malloc(); p = m.malloc(100); m.free(p); m.last_note.path
        'free-tcache'
        """
        self._info = ""
        if p.__class__ is not int or p < 0 or p > self._mask:
            p = self._fit("p", p)
        call = ("free", (p,))
        if p == NULL:
            self._note = (call, "null", "")
            return
        c = p - self._hdr
        if self._state.get(c) == INUSE:
            size = self._size[c]                 # the common case: a block in use
        elif c in self._mmapped:
            self._free_mmapped(c)
            self._note = (call, "munmap", "")
            return
        elif self._split_run(c):                 # a chunk of a run: now in the table
            return self.free(p)
        else:
            size = check_free(self, p, c)        # raises for every misuse
        if self._tcache is None:
            if self._tcache_pending and size <= self._tmax:
                self._lazy_tcache(self._rel.tcache_struct_bytes)
            self._maybe_init_tcache()
        self._int_free(c, size)
        self._note = (call, self._path, size)

    def _free_mmapped(self, c: int) -> None:
        offset, size = self._mmapped[c]
        word = size | IS_MMAPPED
        if not self._no_dyn_threshold and self._mmap_threshold < word <= self._rel.mmap_threshold_max:
            self._mmap_threshold = size
            self._trim_threshold = 2 * size
        self._munmap_chunk(c)
        self._path = "munmap"
        total = offset + size + self._rel.mmap_chunk_tail
        self._info = (f"munmap of {total:,} bytes; mmap threshold {self._mmap_threshold:,},"
                      f" trim threshold {self._trim_threshold:,}")

    # --- realloc ------------------------------------------------------------------------------
    def realloc(self, p: int, n: int) -> int:
        """Resize the block at `p` to `n` bytes; realloc(NULL, n) = malloc(n); realloc(p, 0) frees.

        >>> m = Malloc(); p = m.malloc(100); m.realloc(p, 5000) == p   # grows into top
        True
        """
        p = self._fit("p", p)
        n = self._fit("n", n)
        self._info = ""
        call = ("realloc", (p, n))
        if n == 0 and p != NULL:
            self.free(p)
            self._note = (call, self._note[1], "")
            return NULL
        if p == NULL:
            r = self.malloc(n)
            self._note = (call,) + self._note[1:]
            return r
        c = p - self._hdr
        mm = self._mmapped.get(c)
        if self._rel.realloc_keep_slack and self._realloc_fits(c, mm, n):
            self._note = (call, "realloc-inplace", "")
            return p
        if mm is None:
            if c not in self._state:
                self._split_run(c)
            check_realloc(self, p, c, n)
            if self._tcache is None:
                self._maybe_init_tcache()
        nb = self._arch.checked_request2size(n)
        if not nb:
            self._note = (call, "fail", "")
            return NULL
        if mm is not None:
            r = self._realloc_mmapped(c, n, nb)
            self._note = (call, self._path if r else "fail", "")
            return r
        oldsize = self._size[c]
        r = self._int_realloc(c, oldsize, nb)
        self._note = (call, self._path if r else "fail", "")
        return r + self._hdr if r else NULL

    def _realloc_fits(self, c: int, mm, n: int) -> bool:
        """2.41 on: the block already has room for `n` with little to spare: keep it as is."""
        if mm is not None:
            usable = self._mmapped_usable(mm[1])
        elif self._state.get(c) == INUSE:
            usable = self._size[c] - self._sz
        else:
            return False
        if n > usable:
            return False
        spare = usable - n
        return spare < self._rel.realloc_keep_slack or (
            mm is not None and spare <= self._rel.realloc_keep_slack_mmapped)

    def _mmapped_usable(self, size: int) -> int:
        """Usable bytes of an mmapped chunk of `size`: size - 16; with a header-sized tail
        after the chunk (2.43) its first word is usable too, as a heap chunk's neighbour's."""
        return size - (self._sz if self._rel.mmap_chunk_tail else self._hdr)

    def _realloc_mmapped(self, c: int, n: int, nb: int) -> int:
        offset, size = self._mmapped[c]
        tail = self._rel.mmap_chunk_tail
        block, total = c - offset, offset + size + tail
        if not mmapped_chunk_ok(c, offset, total, self._hdr):
            raise MallocAbort("mremap_chunk(): invalid pointer")
        new_len = align_up(nb + offset + self._sz)
        if new_len == total:
            self._path = "mremap"
            return c + self._hdr
        try:
            new_block = self._space.mremap(block, total, new_len, True)
        except OSError:
            new_block = None
        if new_block is not None:
            self._stale.forget(block, block + total)
            del self._mmapped[c]
            new_c = new_block + offset
            self._mmapped[new_c] = (offset, new_len - offset - tail)
            self._touch(new_c + self._sz, self._sz)
            self._mmapped_mem += new_len - total + self._rel.mremap_hblkhd_drift
            self._mmapped_drift += self._rel.mremap_hblkhd_drift
            self._max_mmapped_mem = max(self._max_mmapped_mem, self._mmapped_mem)
            self._path = "mremap"
            return new_c + self._hdr
        if (n <= self._mmapped_usable(size) if self._rel.mremap_failure_checks_request
                else size - self._sz >= nb):
            self._path = "realloc-inplace"
            return c + self._hdr
        r = self.malloc(n)
        if not r:
            return NULL
        self._touch(r, size - self._hdr)
        self._stale.move(c + self._hdr, r, size - self._hdr)
        self._munmap_chunk(c)
        self._path = "realloc-move"
        return r

    # --- calloc -------------------------------------------------------------------------------
    def calloc(self, nmemb: int, size: int) -> int:
        """Allocate nmemb*size zeroed bytes (from tcache only since 2.41); NULL on overflow or failure.

        >>> m = Malloc(); m.calloc(2**32, 2**32)
        0
        """
        nmemb = self._fit("nmemb", nmemb)
        size = self._fit("size", size)
        self._info = ""
        call = ("calloc", (nmemb, size))
        n = nmemb * size
        if n > self._ptrdiff_max:
            self._note = (call, "fail", "")
            return NULL
        if self._rel.calloc_uses_tcache:
            nb = self._arch.checked_request2size(n)
            if not nb:
                self._note = (call, "fail", "")
                return NULL
            self._maybe_init_tcache()
            c = self._tcache_take(nb)
            if c:
                self._touch(c + self._hdr, self._size[c] - self._sz)   # the whole block is cleared
                self._note = (call, "tcache", nb)
                return c + self._hdr
        if self._tcache is None:
            self._maybe_init_tcache()
        oldtop = self._top
        oldtopsize = self._clear_limit(oldtop, self._top_size)
        if self._clear_all:                      # retried in another arena: clear everything
            oldtop = -1
        nb = self._arch.checked_request2size(n)
        c = self._int_malloc(nb) if nb else 0
        if not c:
            self._note = (call, "fail", "")
            return NULL
        self._perturb_after(c, n)
        self._note = (call, self._path, nb)
        if c in self._mmapped:
            if self._perturb:
                self._touch(c + self._hdr, n)
            return c + self._hdr
        csz = self._size[c]
        if not self._perturb and c == oldtop and csz > oldtopsize:
            csz = oldtopsize
        self._touch(c + self._hdr, csz - self._sz)
        self._stale.forget(c + self._hdr, c + csz + self._sz)
        return c + self._hdr

    def _clear_limit(self, oldtop: int, oldtopsize: int) -> int:
        """How much of top calloc takes as possibly dirty (beyond it, fresh from the kernel)."""
        if self._rel.morecore_clears < 2:
            # memory below the highest break ever reached may hold old data
            fresh = (self._sbrk_base + self._max_system_mem - oldtop) & self._mask
            if oldtopsize < fresh:
                oldtopsize = fresh
        return oldtopsize

    # --- maintenance --------------------------------------------------------------------------
    def malloc_trim(self, pad: int) -> int:
        """Consolidate, release whole free pages (madvise) and trim top to `pad`; 1 if anything went back.

        >>> m = Malloc(); _ = m.malloc(1); m.malloc_trim(0), m.mallinfo2().keepcost
        (1, 3408)
        """
        pad = self._fit("pad", pad)
        self._info = ""
        r = self._mtrim(pad)
        self._note = (f"malloc_trim({pad})", "trim", "")
        return r

    def mallopt(self, param: int, value: int) -> int:
        """Set a malloc parameter (after consolidating fastbins); glibc's return value.

        >>> m = Malloc(); m.mallopt(M_MXFAST, 161), m.mallopt(M_MMAP_THRESHOLD, 4096)
        (0, 1)
        """
        for name, v in (("param", param), ("value", value)):
            if not isinstance(v, int) or not _INT_MIN <= v <= _INT_MAX:
                raise ValueError(f"mallopt {name} must be a C int, got {v!r}")
        self._info = ""
        self._consolidate()
        res = 1
        u = value & self._mask
        if param == M_MXFAST:
            if self._rel.mxfast_always_accepted:
                pass
            elif u <= self._rel.max_fast_size:
                if self._rel.has_fastbins:
                    self._max_fast = max_fast_for(self._rel, u)
            else:
                res = 0
        elif param == M_TRIM_THRESHOLD:
            self._trim_threshold = u
            self._no_dyn_threshold = True
        elif param == M_TOP_PAD:
            self._top_pad = u
            self._no_dyn_threshold = True
        elif param == M_MMAP_THRESHOLD:
            self._mmap_threshold = u
            self._no_dyn_threshold = True
        elif param == M_MMAP_MAX:
            self._mmap_max = value
            self._no_dyn_threshold = True
        elif param == M_PERTURB:
            self._perturb = value
        self._note = (f"mallopt({param}, {value})", "mallopt", "")
        return res

    def malloc_usable_size(self, p: int) -> int:
        """Bytes usable at `p`: chunk size - 8 (heap) or - 16 (mmapped); 0 for NULL or a free chunk.

        >>> m = Malloc(); m.malloc_usable_size(m.malloc(200000)), m.malloc_usable_size(0)
        (200688, 0)
        """
        p = self._fit("p", p)
        if p == NULL:
            return 0
        c = p - self._hdr
        mm = self._mmapped.get(c)
        if mm is not None:
            return self._mmapped_usable(mm[1])
        state = self._state.get(c)
        if state is None and self._split_run(c):
            state = self._state[c]
        if state is None or UNSORTED <= state <= LARGE:
            return 0
        return self._size[c] - self._sz

    # --- statistics ---------------------------------------------------------------------------
    def mallinfo2(self) -> Mallinfo2:
        """glibc's mallinfo2() for the main arena.

        >>> Malloc().mallinfo2().ordblks   # top counts, even before the heap exists
        1
        """
        fast, bins = self._fast, self._bins
        free = self._top_size + fast.bytes + bins.bytes
        return make_mallinfo2(self._system_mem, 1 + bins.count, fast.count, len(self._mmapped),
                              self._mmapped_mem, fast.bytes, self._system_mem - free, free,
                              self._top_size)

    def malloc_stats(self) -> str:
        """The text glibc's malloc_stats() writes to stderr.

        >>> Malloc().malloc_stats().splitlines()[1]
        'system bytes     =          0'
        """
        return stats_text(self.mallinfo2(), self._mmapped_mem, self._max_n_mmaps,
                          self._max_mmapped_mem)

    def chunks(self):
        """Heap chunks in address order (top included), as ChunkView records.

        >>> m = Malloc(); _ = m.malloc(1); [c.size for c in m.chunks()]
        [656, 32, 134480]
        """
        if self._runs:
            yield from self._chunk_views()
            return
        table = dict(self._size)
        if self._top:
            table[self._top] = self._top_size
        for addr in sorted(table):
            if addr == self._top:
                yield ChunkView(addr, self._top_size, "top")
            else:
                yield ChunkView(addr, table[addr], STATE_NAMES[self._state[addr]])

    def mmapped_chunks(self):
        """mmapped chunks in address order, as ChunkView records (state 'mmapped').

        >>> m = Malloc(); _ = m.malloc(200000); [c.size for c in m.mmapped_chunks()]
        [200704]
        """
        for c in sorted(self._mmapped):
            yield ChunkView(c, self._mmapped[c][1], "mmapped")

    def check(self) -> None:
        """Verify the heap's invariants; AssertionError names the first one broken."""
        check_heap(self)
