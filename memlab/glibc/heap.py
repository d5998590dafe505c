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
               never releases a chunk's first 48 bytes.
"""

from __future__ import annotations

from .bins import Bins
from .chunk import HDR, MIN_LARGE, SIZE_SZ
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
        self._touch = space.touch
        self._size: dict[int, int] = {}
        self._state: dict[int, int] = {}
        self._free_end: dict[int, int] = {}
        self._stale = StaleWords()      # words left at headers no longer tracked (misuse checks)
        self._bins = Bins()
        self._fast = FastBins(rel.nfastbins)
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
        self._touch(c + SIZE_SZ, 40 if size >= MIN_LARGE else 24)   # size, fd, bk (+nextsize)
        if size >= MIN_LARGE:
            self._stale.forget(c + 32, c + 48)           # nextsize links cleared
        self._touch(c + size, SIZE_SZ)                   # footer: next chunk's prev_size

    def _to_freed_bin(self, c: int, size: int) -> str:
        """Bin a chunk freed to the arena: unsorted, or (2.41 on) its small bin if small."""
        if size >= MIN_LARGE or not self._rel.small_free_to_smallbin:
            self._to_unsorted(c, size)
            return "free-unsorted"
        self._size[c] = size
        self._state[c] = SMALL
        self._free_end[c + size] = c
        self._bins.place(c, size)
        self._touch(c + SIZE_SZ, 24)                     # size word, fd/bk
        self._touch(c + size, SIZE_SZ)                   # footer
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
        self._touch(c + HDR, 16)                         # next pointer and key

    def _tcache_get(self, idx: int) -> int:
        """tcache_get: take the head of tcache bin `idx` (not empty) and mark it in use."""
        c = self._tcache.bins[idx].pop()
        self._state[c] = INUSE
        return c

    def _fast_push(self, c: int, size: int) -> None:
        self._state[c] = FAST
        self._fast.push(c, size)
        self._have_fast = True
        self._touch(c + HDR, SIZE_SZ)                    # fd pointer

    # --- helpers ----------------------------------------------------------------------
    def _perturb_fill(self, addr: int, n: int) -> None:
        if self._perturb and n > 0:
            self._touch(addr, n)
