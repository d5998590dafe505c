"""The arena's state: the chunk table, top, the caches and bins, and the writes glibc makes.

Glossary (all sizes are chunk sizes, headers included):
  chunk table  `_size[addr]` for every heap chunk except top; `_state[addr]` says where it is:
               INUSE, TCACHE, FAST (these three look in use to their neighbours), UNSORTED,
               SMALL, LARGE (binned: the next chunk's PREV_INUSE bit is clear and the next
               chunk's prev_size holds the size) or FENCE (a sysmalloc fencepost, in use).
  footer map   `_free_end[end] = addr` for binned chunks: what glibc finds through a clear
               PREV_INUSE bit and the prev_size word when it coalesces backward.
  top          the chunk at the high end of the current heap region, never in the table.
  touches      every write glibc makes to heap memory that may land on a page not yet
               resident goes through `space.touch`, so the resident set follows glibc's.
               Writes into link words of chunks already in a bin are not repeated: those
               words were written when the chunk entered the unsorted bin, and malloc_trim
               never releases a chunk's first six words (struct malloc_chunk).
"""

from __future__ import annotations

from .bins import Bins
from .chunk import as_size_t
from .release import Release
from .stale import StaleWords
from .tcache import FastBins, Tcache

__all__ = ["INUSE", "TCACHE", "FAST", "UNSORTED", "SMALL", "LARGE", "FENCE", "STATE_NAMES",
           "Heap"]

INUSE, TCACHE, FAST, UNSORTED, SMALL, LARGE, FENCE = range(7)
STATE_NAMES = ("in_use", "tcache", "fastbin", "unsorted", "small", "large", "in_use")


class Heap:
    """Arena state shared by the allocation, free and system-memory code (no public API)."""

    _runs = None        # RunTable once a bulk step has made a run (memlab.glibc.runs)
    _no_tcache_init = False   # a thread shutting down never makes a tcache again
    _clear_all = False        # calloc retried in another arena: its top is not the old top

    def __init__(self, space, rel: Release) -> None:
        self._space = space
        self._rel = rel
        a = rel.arch                    # the word-size figures, read once (hot paths use them)
        self._arch = a
        self._sz = a.size_sz            # SIZE_SZ
        self._hdr = a.chunk_header      # CHUNK_HDR_SZ: user pointer = chunk + this
        self._minsize = a.minsize       # MINSIZE
        self._min_large = a.min_large_size
        self._mask = a.word_mask        # SIZE_MAX
        self._ptrdiff_max = a.ptrdiff_max
        self._min_req = a.minsize - a.size_sz           # requests up to this get MINSIZE
        self._req_pad = a.size_sz + a.malloc_alignment - 1   # request2size: (n + this) & ~15
        self._tc_off = a.tcache_offset  # tcache bin = (size - this) >> 4
        self._fb_base = a.fastbin_base  # fastbin = (size >> 4) - this
        self._sb_corr = a.smallbin_correction   # small bin = (size >> 4) + this
        self._links = 3 * a.size_sz     # a binned chunk's size word, fd and bk
        self._key = 2 * a.size_sz       # a cached chunk's next pointer and key
        self._touch = space.touch
        self._size: dict[int, int] = {}
        self._state: dict[int, int] = {}
        self._free_end: dict[int, int] = {}
        self._stale = StaleWords()      # words left at headers no longer tracked (misuse checks)
        self._bins = Bins(a)
        self._fast = FastBins(rel.nfastbins, a.fastbin_base)
        self._tcache: Tcache | None = None
        self._tcache_pending = rel.has_tcache and rel.tcache_lazy   # made on first need (2.43)
        self._tmax = rel.tcache_max_size if rel.has_tcache else 0   # largest cached chunk
        self._top = 0                   # 0: the initial dummy top inside libc (size 0)
        self._top_size = 0
        self._system_mem = 0
        self._max_system_mem = 0
        self._sbrk_base = 0
        self._contiguous = True
        self._have_fast = False
        self._last_remainder = 0
        # mmapped chunks: chunk address -> (offset from mapping start, chunk size)
        self._mmapped: dict[int, tuple[int, int]] = {}
        self._mmapped_mem = 0
        self._mmapped_drift = 0         # what mmapped_mem counts too much (2.43's mremap)
        self._max_n_mmaps = 0
        self._max_mmapped_mem = 0
        # parameters (mallopt)
        self._max_fast = rel.default_max_fast if rel.has_fastbins else 0
        self._mmap_threshold = rel.mmap_threshold
        self._trim_threshold = rel.trim_threshold
        self._top_pad = rel.top_pad
        self._mmap_max = rel.mmap_max
        self._no_dyn_threshold = False
        self._perturb = 0
        self._path = ""                 # the branch the latest call took (for notes)

    # --- binned chunks ----------------------------------------------------------------
    def _to_unsorted(self, c: int, size: int) -> None:
        """Make `c` a free chunk at the unsorted head: header, links, footer are written."""
        self._size[c] = size
        self._state[c] = UNSORTED
        self._free_end[c + size] = c
        self._bins.push_unsorted(c, size)
        sz = self._sz
        if size < self._min_large:
            self._touch(c + sz, self._links)             # size, fd, bk
        else:                                            # ... and the nextsize links, cleared
            self._touch(c + sz, self._links + 2 * sz)
            self._stale.forget(c + 4 * sz, c + 6 * sz)
        self._touch(c + size, sz)                        # footer: next chunk's prev_size

    def _to_freed_bin(self, c: int, size: int) -> str:
        """Bin a chunk freed to the arena: unsorted, or (2.41 on) its small bin if small."""
        if size >= self._min_large or not self._rel.small_free_to_smallbin:
            self._to_unsorted(c, size)
            return "free-unsorted"
        self._size[c] = size
        self._state[c] = SMALL
        self._free_end[c + size] = c
        self._bins.place(c, size)
        self._touch(c + self._sz, self._links)           # size word, fd/bk
        self._touch(c + size, self._sz)                  # footer
        return "free-smallbin"

    def _unbin(self, c: int) -> int:
        """Unlink binned chunk `c` and forget it; return its size."""
        size = self._size.pop(c)
        self._bins.remove(c, size, self._state.pop(c) == UNSORTED)
        del self._free_end[c + size]
        return size

    # --- caches -----------------------------------------------------------------------
    def _tcache_put(self, c: int, idx: int) -> None:
        """tcache_put: chunk `c` goes to the head of tcache bin `idx`."""
        self._state[c] = TCACHE
        self._tcache.bins[idx].append(c)
        self._touch(c + self._hdr, self._key)            # next pointer and key

    def _tcache_get(self, idx: int) -> int:
        """tcache_get: take the head of tcache bin `idx` (not empty) and mark it in use."""
        c = self._tcache.bins[idx].pop()
        self._state[c] = INUSE
        return c

    def _fast_push(self, c: int, size: int) -> None:
        self._state[c] = FAST
        self._fast.push(c, size)
        self._have_fast = True
        self._touch(c + self._hdr, self._sz)             # fd pointer

    # --- helpers ----------------------------------------------------------------------
    def _fit(self, name: str, value: int) -> int:
        """An argument as this architecture's size_t receives it: checked as a 64-bit size_t
        (a trace's range), then, on a narrower word, SIZE_MAX for what does not fit (as the
        replayer of a 32-bit build passes it)."""
        if value.__class__ is int and 0 <= value <= self._mask:
            return value
        value = as_size_t(name, value)
        return value if value <= self._mask else self._mask

    def _perturb_fill(self, addr: int, n: int) -> None:
        if self._perturb and n > 0:
            self._touch(addr, n)
