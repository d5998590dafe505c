"""glibc's internal allocator: _int_malloc, _int_free, malloc_consolidate, _int_realloc, _int_memalign.

The order of the searches in `_int_malloc` is glibc's exactly: fastbin, small bin,
(consolidation for large requests), the unsorted scan (last remainder, exact fits
stashed into tcache, everything else binned), the request's own large bin (best
fit, second chunk of an equal size), the next non-empty bin, top, and sysmalloc.
"""

from __future__ import annotations

from .bins import NSMALLBINS
from .chunk import ALIGN, IS_MMAPPED, PREV_INUSE
from .heap import INUSE, LARGE, SMALL, TCACHE, UNSORTED
from .runs import consolidate_run
from .system import System
from .tcache import Tcache

__all__ = ["Arena"]


class Arena(System):
    """The allocation and free algorithms of the main arena."""

    # --- allocation -------------------------------------------------------------------------
    def _int_malloc(self, nb: int) -> int:
        """Find a chunk of `nb` bytes (already rounded); return its address or 0."""
        # the index helpers, inline (a hot path); ti is nb's tcache bin when nb <= _tmax
        ti = (nb - self._tc_off) >> 4                 # tcache_index
        if nb <= self._max_fast:
            fi = (nb >> 4) - self._fb_base            # fastbin_index
            if self._fast.bins[fi]:
                return self._from_fastbin(nb, fi, ti)
        bins = self._bins
        if nb < self._min_large:
            idx = (nb >> 4) + self._sb_corr           # smallbin_index
            if bins.small_nonempty(idx):
                return self._from_smallbin(nb, idx, ti)
        else:                                         # a large request: fastbins go first
            idx = self._arch.largebin_index(nb)
            if self._have_fast:
                self._consolidate()
        while True:
            if bins.unsorted:                         # A and R (an empty scan finds nothing)
                c = self._scan_unsorted(nb, ti)
                if c:
                    return c
            if nb >= self._min_large:                       # L: best fit in the request's own bin
                c = bins.large_best_fit(idx, nb)
                if c is not None:
                    self._take_split(c, nb, False)
                    self._path = "largebin"
                    return c
            b = bins.next_nonempty(idx)               # B: smallest chunk of a bigger bin
            if b is not None:
                c = bins.tail(b)
                self._take_split(c, nb, nb < self._min_large)
                self._path = "binmap"
                return c
            top, tsize = self._top, self._top_size     # T: carve top, else consolidate or grow
            if tsize >= nb + self._minsize:                 # (_carve_top, inline: a hot path)
                self._size[top] = nb
                self._state[top] = INUSE
                self._top = top + nb
                self._top_size = tsize - nb
                self._touch(top + nb + self._sz, self._sz)
                self._path = "top"
                return top
            if self._have_fast:
                self._consolidate()
                idx = self._arch.bin_index(nb)
                continue
            return self._sysmalloc(nb)

    def _from_fastbin(self, nb: int, fi: int, ti: int) -> int:
        """F: pop the head of fastbin `fi`; move what the bin still holds into tcache bin `ti`."""
        fast = self._fast
        c = fast.pop(fi, nb)
        self._state[c] = INUSE
        tc = self._tcache
        if tc is not None and nb <= self._tmax:
            tb, fb = tc.bins[ti], fast.bins[fi]
            while len(tb) < tc.limit and fb:
                self._tcache_put(fast.pop(fi, nb), ti)
        self._path = "fastbin"
        return c

    def _from_smallbin(self, nb: int, idx: int, ti: int) -> int:
        """S: take the oldest chunk of small bin `idx`; move what the bin still holds into tcache
        bin `ti`."""
        bins = self._bins
        c = bins.take_small_tail(idx, nb)
        del self._free_end[c + nb]
        self._state[c] = INUSE
        tc = self._tcache
        if tc is None and self._tcache_pending:
            tc = self._lazy_tcache(self._arch.request2size(self._rel.tcache_struct_bytes))
        if tc is not None and nb <= self._tmax:
            tb = tc.bins[ti]
            while len(tb) < tc.limit and bins.small_nonempty(idx):
                v = bins.take_small_tail(idx, nb)
                del self._free_end[v + nb]
                self._tcache_put(v, ti)
        self._path = "smallbin"
        return c

    def _scan_unsorted(self, nb: int, ti: int) -> int:
        """A: sort the unsorted chunks into their bins, oldest first, until one serves `nb`:
        the last remainder split again for a small request, or an exact fit (which goes to
        tcache instead while its bin has room). R: if exact fits were cached, hand out the
        newest. Return the chunk, or 0 when the scan found none."""
        bins = self._bins
        state = self._state
        unsorted = bins.unsorted
        tc = self._tcache
        # exact fits met in the scan go to tcache bin ti while it has room
        stash_idx = ti if tc is not None and nb <= self._tmax else -1
        returned_cached = False
        iters = 0
        while unsorted:
            c, size = bins.pop_unsorted_tail()
            if (nb < self._min_large and not unsorted and c == self._last_remainder
                    and size > nb + self._minsize):         # it was the only one: split it again
                del self._free_end[c + size]
                self._size[c] = nb
                state[c] = INUSE
                rem = c + nb
                self._to_unsorted(rem, size - nb)
                self._last_remainder = rem
                self._path = "last-remainder"
                return c
            if size == nb:
                del self._free_end[c + size]
                if tc is None and self._tcache_pending:
                    state[c] = INUSE
                    tc = self._lazy_tcache(self._arch.request2size(self._rel.tcache_struct_bytes))
                    if tc is not None and nb <= self._tmax:
                        stash_idx = ti
                if stash_idx >= 0 and len(tc.bins[stash_idx]) < tc.limit:
                    self._tcache_put(c, stash_idx)
                    returned_cached = True
                    continue
                state[c] = INUSE
                self._path = "unsorted-exact"
                return c
            state[c] = SMALL if bins.place(c, size) < NSMALLBINS else LARGE   # into its bin
            iters += 1
            if iters >= self._rel.max_iters:
                break
        if returned_cached:                           # R: hand out the newest stashed chunk
            self._path = "tcache-stash"
            return self._tcache_get(stash_idx)
        return 0

    def _lazy_tcache(self, request: int):
        """2.43: make the tcache now, from an `_int_malloc(request)` (tried once only)."""
        self._tcache_pending = False
        rel = self._rel
        c = self._int_malloc(self._arch.request2size(request))
        if c:
            if self._perturb:
                self._touch(c + self._hdr, request)
            self._tcache = Tcache(c, rel.tcache_bins, rel.tcache_count)
            self._touch(c + self._hdr, rel.tcache_struct_bytes)   # memset of the struct
        return self._tcache

    def _take_split(self, c: int, nb: int, remember: bool) -> None:
        """Take binned chunk `c` for `nb`; a remainder of MINSIZE or more goes to the unsorted head."""
        size = self._unbin(c)
        self._state[c] = INUSE
        if size - nb < self._minsize:
            self._size[c] = size
            return
        self._size[c] = nb
        rem = c + nb
        self._to_unsorted(rem, size - nb)
        if remember:
            self._last_remainder = rem

    # --- free -------------------------------------------------------------------------------
    def _int_free(self, c: int, size: int) -> None:
        """Release heap chunk `c` (in use, `size` bytes): tcache, fastbin, or coalesce and bin."""
        tc = self._tcache
        if tc is not None and size <= self._tmax:
            tb = tc.bins[(size - self._tc_off) >> 4]  # tcache_index
            if len(tb) < tc.limit:                    # _tcache_put, inline: a hot path
                self._state[c] = TCACHE
                tb.append(c)
                self._touch(c + self._hdr, self._key)
                self._path = "free-tcache"
                return
        if size <= self._max_fast:
            if self._perturb:
                self._perturb_fill(c + self._hdr, size - self._hdr)
            self._fast_push(c, size)
            self._path = "free-fastbin"
            return
        self._free_merge(c, size)

    def _free_merge(self, c: int, size: int, perturb: bool = True) -> None:
        """Coalesce in-use chunk `c` with free neighbours or top, bin it, maybe trim."""
        if perturb and self._perturb:
            self._perturb_fill(c + self._hdr, size - self._hdr)
        del self._size[c]
        del self._state[c]
        size = self._coalesce(c, size, True)
        if size >= self._rel.fastbin_consolidation_threshold:
            if self._have_fast:
                self._consolidate()
            self._trim_top()

    def _trim_top(self) -> None:
        """After a large free: systrim when top has reached the trim threshold (main arena)."""
        if self._top_size >= self._trim_threshold:
            if self._systrim(self._top_pad):
                self._path = "free-top-trim"

    def _coalesce(self, c: int, size: int, freed: bool) -> int:
        """Merge free chunk `c` (out of the chunk table) with a free chunk below and a free
        chunk or top above, and bin the result: as free does (`freed`, which also sets the
        path), or at the unsorted head as malloc_consolidate does. Return the merged size
        (top's new size when top has absorbed the chunk).

        Each absorbed header's words stay in memory (the misuse checks read them).
        """
        stale = self._stale
        prev = self._free_end.get(c)
        nxt = c + size
        if prev is not None:                          # consolidate backward
            stale.put(c, self._size[prev])            # footer, and size with P clear
            stale.put(c + self._sz, size)
            size += self._unbin(prev)
            c = prev
        if nxt == self._top:                          # into top: the old top-size word stays
            stale.put(nxt + self._sz, self._top_size | PREV_INUSE)
            self._top = c
            self._top_size += size
            if freed:
                self._path = "free-top"
            return self._top_size
        if UNSORTED <= self._state.get(nxt, INUSE) <= LARGE:   # consolidate forward
            stale.put(nxt + self._sz, self._size[nxt] | PREV_INUSE)   # (runs are never binned)
            size += self._unbin(nxt)
        if freed:
            self._path = self._to_freed_bin(c, size)
        else:
            self._to_unsorted(c, size)
        return size

    def _consolidate(self) -> None:
        """malloc_consolidate: empty every fastbin, coalescing each chunk into unsorted or top."""
        self._have_fast = False
        fast = self._fast
        if not fast.count:
            return
        size_of = self._size
        state = self._state
        for fi in range(len(fast.bins)):
            if not fast.bins[fi]:
                continue
            for c in fast.take_all(fi, fast.size_of(fi)):
                if c.__class__ is not int:            # a run: all but its lowest chunk at once
                    c = consolidate_run(self, c)
                size = size_of.pop(c)
                del state[c]
                self._coalesce(c, size, False)

    # --- realloc and memalign ---------------------------------------------------------------
    def _int_realloc(self, c: int, oldsize: int, nb: int) -> int:
        """Resize heap chunk `c`; return the chunk to use (maybe `c`), or 0."""
        nxt = c + oldsize
        if oldsize >= nb:
            newsize = oldsize
            self._path = "realloc-inplace"
        elif nxt == self._top and oldsize + self._top_size >= nb + self._minsize:
            newtop = c + nb
            self._stale.put(nxt + self._sz, self._top_size | PREV_INUSE)
            self._top_size = oldsize + self._top_size - nb
            self._top = newtop
            self._size[c] = nb
            self._touch(newtop + self._sz, self._sz)
            self._path = "realloc-inplace"
            return c
        elif (nxt != self._top and UNSORTED <= self._state.get(nxt, INUSE) <= LARGE
              and oldsize + self._size[nxt] >= nb):
            self._stale.put(nxt + self._sz, self._size[nxt] | PREV_INUSE)
            newsize = oldsize + self._unbin(nxt)
            self._path = "realloc-inplace"
        else:
            n = self._int_malloc(nb)
            if not n:
                return 0
            self._perturb_after(n, nb - (ALIGN - 1))     # glibc asks _int_malloc for that much
            if n == nxt:
                self._stale.put(n + self._sz, self._size[n] | PREV_INUSE)
                newsize = oldsize + self._size.pop(n)
                del self._state[n]
                self._path = "realloc-inplace"
            else:
                self._touch(n + self._hdr, oldsize - self._sz)       # memcpy of the old contents
                self._stale.move(c + self._hdr, n + self._hdr, oldsize - self._sz)
                self._inner_free(c, oldsize)
                self._path = "realloc-move"
                return n
        if newsize - nb < self._minsize:
            self._size[c] = newsize
        else:
            self._size[c] = nb
            rem = c + nb
            self._size[rem] = newsize - nb
            self._state[rem] = INUSE
            self._touch(rem + self._sz, self._sz)
            path = self._path
            self._inner_free(rem, newsize - nb)
            self._path = path
        return c

    def _inner_free(self, c: int, size: int) -> None:
        """A free made by malloc itself (realloc's leftovers, sysmalloc's old top)."""
        if self._rel.inner_frees_to_arena:
            self._free_merge(c, size)
        else:
            self._int_free(c, size)

    def _int_memalign(self, align: int, nb: int) -> int:
        """Allocate `nb` bytes at a multiple of `align` (> 16, a power of two); 0 on failure."""
        rel = self._rel
        c = self._int_malloc(self._arch.request2size(nb + align + self._minsize))
        if not c:
            return 0
        path = self._path
        self._perturb_after(c, nb + align + self._minsize)
        mm = self._mmapped.get(c)
        if (c + self._hdr) % align:
            new = ((c + self._hdr + align - 1) & -align) - self._hdr
            if new - c < self._minsize:
                new += align
            lead = new - c
            if mm is not None:
                offset, size = self._mmapped.pop(c)
                self._stale.put(c, offset)                # the old header stays in memory
                self._stale.put(c + self._sz, size | IS_MMAPPED)
                self._mmapped[new] = (offset + lead, size - lead)
                self._touch(new, self._hdr)
                self._path = path
                return new
            newsize = self._size[c] - lead
            self._size[new] = newsize
            self._state[new] = INUSE
            self._touch(new + self._sz, self._sz)
            self._size[c] = lead
            if rel.memalign_pieces_to_arena:
                self._free_merge(c, lead)
            else:
                self._int_free(c, lead)
            c = new
        if mm is None:
            size = self._size[c]
            rule = rel.memalign_trailer
            if rule == "above-minsize":
                split = size > nb + self._minsize
            elif rule == "minsize":
                split = size - nb >= self._minsize
            else:                                     # any excess next to top or a free chunk
                nxt = c + size
                split = size > nb and (size - nb >= self._minsize or nxt == self._top
                                       or UNSORTED <= self._state.get(nxt, INUSE) <= LARGE)
            if split:
                rem = c + nb
                self._size[rem] = size - nb
                self._state[rem] = INUSE
                self._touch(rem + self._sz, self._sz)
                self._size[c] = nb
                if rel.memalign_pieces_to_arena:
                    self._free_merge(rem, size - nb, perturb=False)
                else:
                    self._int_free(rem, size - nb)
        self._path = path
        return c

    def _perturb_after(self, c: int, nbytes: int) -> None:
        """alloc_perturb of an `_int_malloc` result (every exit but the stashed-chunk one)."""
        if self._perturb and self._path != "tcache-stash":
            self._touch(c + self._hdr, nbytes)
