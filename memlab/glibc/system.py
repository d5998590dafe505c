"""Memory from and back to the kernel: sysmalloc (brk, mmap, the mmap fallback), systrim, mtrim."""

from __future__ import annotations

from ..errors import MallocAbort, SyscallError
from ..space import MADV_DONTNEED
from ..units import PAGE, align_down, align_up
from .bins import N_BINS, UNSORTED as UNSORTED_BIN
from .chunk import ALIGN, mmapped_chunk_ok, to_signed
from .heap import FENCE, INUSE, Heap

__all__ = ["System"]


class System(Heap):
    """sysmalloc and the trimming paths, on top of the arena state."""

    # --- mmapped chunks -----------------------------------------------------------------
    def _mmap_chunk(self, nb: int) -> int:
        """Map a chunk of its own for `nb`; 0 if the kernel refuses. Where the header is not a
        multiple of the alignment (i386), the chunk starts that far in (its prev_size says
        how far) and the mapping has room for it."""
        pad = self._arch.front_padding
        size = align_up(nb + self._sz + (ALIGN - 1 if pad else 0))
        try:
            mm = self._space.mmap(size)
        except SyscallError:
            return 0
        c = mm + pad
        self._mmapped[c] = (pad, size - pad - self._rel.mmap_chunk_tail)
        self._touch(c, self._hdr)                 # prev_size (the padding) and the size word
        self._mmapped_mem += size
        self._max_n_mmaps = max(self._max_n_mmaps, len(self._mmapped))
        self._max_mmapped_mem = max(self._max_mmapped_mem, self._mmapped_mem)
        self._path = "mmap"
        self._info = f"chunk >= mmap threshold {self._mmap_threshold:,}: mapped {size:,} bytes"
        return c

    def _munmap_chunk(self, c: int) -> None:
        offset, size = self._mmapped[c]
        block, total = c - offset, offset + size + self._rel.mmap_chunk_tail
        if not mmapped_chunk_ok(c, offset, total, self._hdr):
            raise MallocAbort("munmap_chunk(): invalid pointer")
        del self._mmapped[c]
        self._mmapped_mem -= total
        self._space.munmap(block, total)
        self._stale.forget(block, block + total)

    # --- sysmalloc ------------------------------------------------------------------------
    def _sysmalloc(self, nb: int) -> int:
        """Serve `nb` when top is too small: mmap a chunk, or grow the heap; 0 on failure."""
        if nb >= self._mmap_threshold and len(self._mmapped) < self._mmap_max:
            c = self._mmap_chunk(nb)
            if c:
                return c
        space = self._space
        old_top, old_size = self._top, self._top_size
        old_end = old_top + old_size
        size = nb + self._top_pad + self._minsize
        if self._contiguous:
            size -= old_size
        size = to_signed(align_up(size & self._mask), self._mask)
        brk = snd_brk = None
        if size > 0:
            try:
                brk = space.sbrk(size)
                self._path = "sbrk"
                self._info = f"sbrk({size:,})"
            except SyscallError:
                brk = None
        if brk is None:
            got = self._mmap_fallback(size, nb, old_size)
            if got is not None:
                brk, size = got
                snd_brk = brk + size
                self._path = "mmap-fallback"
                self._info = f"sbrk refused: mapped {size:,} bytes as the new top"
        if brk is not None:
            if self._sbrk_base == 0:
                self._sbrk_base = brk
            self._system_mem += size
            if brk == old_end and snd_brk is None:
                self._top_size = old_size + size          # the heap simply grew
            elif self._contiguous and old_size and brk < old_end:
                raise MallocAbort("break adjusted to free malloc space")
            else:
                self._new_top_region(brk, size, snd_brk, old_top, old_size, old_end)
        self._max_system_mem = max(self._max_system_mem, self._system_mem)
        if self._top_size >= nb + self._minsize:
            return self._carve_top(nb)
        return 0

    def _carve_top(self, nb: int) -> int:
        """Split `nb` bytes off the bottom of top (which has at least nb + MINSIZE); return them."""
        top = self._top
        self._size[top] = nb
        self._state[top] = INUSE
        self._top = top + nb
        self._top_size -= nb
        self._touch(top + nb + self._sz, self._sz)      # the new top's size word
        return top

    def _mmap_fallback(self, size: int, nb: int, old_size: int) -> tuple[int, int] | None:
        """sbrk failed: map a region to serve as the new top (heap becomes non-contiguous)."""
        rule, unit = self._rel.mmap_fallback, self._rel.mmap_as_morecore_size
        if rule == "request":                     # 2.43: what sbrk was asked for, old top aside
            size = align_up((nb + self._top_pad + self._minsize) & self._mask) & self._mask
            if size < unit:
                size = unit
        else:
            # glibc 2.36 passes this helper its page size and its 1 MiB minimum in swapped
            # places: a contiguous heap rounds up to a multiple of 1 MiB, and the minimum is
            # a page. 2.41 passes them in their places.
            swapped = rule == "swapped"
            if self._contiguous:
                size = to_signed(align_up((size + old_size) & self._mask, unit if swapped else PAGE), self._mask)
            least = PAGE if swapped else unit
            if (size & self._mask) < least:
                size = least
            size &= self._mask            # a negative long is a size_t to MMAP: 2-4 GiB on i386
            if size <= nb:
                return None
        try:
            mbrk = self._space.mmap(size)
        except SyscallError:
            return None
        self._contiguous = False
        return mbrk, size

    def _new_top_region(self, brk, size, snd_brk, old_top, old_size, old_end) -> None:
        """Start top in fresh memory that does not extend the old top (first call,
        foreign sbrk or non-contiguous region), fencing the old top off."""
        space = self._space
        correction = 0
        aligned = brk
        if self._contiguous:
            if old_size:
                self._system_mem += brk - old_end
            misalign = (brk + self._hdr) & (ALIGN - 1)
            if misalign:
                correction = ALIGN - misalign
                aligned += correction
            correction += old_size
            end = brk + size + correction
            correction += align_up(end) - end
            try:
                snd_brk = space.sbrk(correction)
            except SyscallError:
                correction = 0
                snd_brk = space.brk
        else:
            misalign = (brk + self._hdr) & (ALIGN - 1)
            if misalign:                          # skipped, not counted (i386's front bytes)
                aligned += ALIGN - misalign
            if snd_brk is None:
                snd_brk = space.brk
        self._top = aligned
        self._top_size = snd_brk - aligned + correction
        self._touch(aligned + self._sz, self._sz)
        self._system_mem += correction
        if old_size:
            old_size = (old_size - 2 * self._hdr) & ~(ALIGN - 1)
            fence = old_top + old_size                # two header-sized fenceposts
            self._size[fence] = self._hdr
            self._state[fence] = FENCE
            self._size[fence + self._hdr] = self._hdr
            self._state[fence + self._hdr] = FENCE
            self._touch(old_top + self._sz, self._sz)
            self._touch(fence + self._sz, self._hdr + self._sz)
            if old_size >= self._minsize:
                self._size[old_top] = old_size
                self._state[old_top] = INUSE
                self._inner_free(old_top, old_size)
            elif old_size:
                self._size[old_top] = old_size
                self._state[old_top] = FENCE

    # --- trimming -------------------------------------------------------------------------
    def _systrim(self, pad: int) -> int:
        """Give the top of the heap back with a negative sbrk, keeping `pad` bytes."""
        top_size = self._top_size
        top_area = top_size - self._minsize - 1
        pad &= self._mask
        if (top_area & self._mask) <= pad:
            return 0
        extra = align_down(to_signed(top_area - pad, self._mask))
        if extra == 0:
            return 0
        space = self._space
        current = space.brk
        if current != self._top + top_size:
            return 0
        try:
            space.sbrk(-extra)
        except SyscallError:
            pass
        released = current - space.brk
        if released:
            self._info = f"top {top_size:,} -> {top_size - released:,}: sbrk({-released:,})"
            self._system_mem -= released
            self._top_size = top_size - released
            self._stale.forget(current - released, current)
            if released < 0:
                self._touch(self._top + self._sz, self._sz)
            return 1
        return 0

    def _mtrim(self, pad: int) -> int:
        """malloc_trim: consolidate, release whole free pages inside binned chunks, systrim."""
        self._consolidate()
        result = 0
        bins = self._bins
        chunk_struct = self._arch.chunk_struct    # what malloc_trim leaves at a chunk's start
        advised = 0
        # only the unsorted bin and the bins of chunks that can hold a whole page
        for idx in [UNSORTED_BIN] + list(range(self._arch.bin_index(PAGE), N_BINS - 1)):
            for c in bins.chunks(idx):
                size = self._size[c]
                if size > PAGE - 1 + chunk_struct:
                    start = align_up(c + chunk_struct)
                    whole = align_down(size - (start - c))
                    if whole > 0:
                        self._space.madvise(start, whole, MADV_DONTNEED)
                        self._stale.forget(start, start + whole)
                        advised += whole
                        result = 1
        trimmed = self._systrim(pad)
        if advised:
            self._info = f"madvise(DONTNEED) of {advised:,} bytes" + (
                "; " + self._info if trimmed else "")
        return result | trimmed
