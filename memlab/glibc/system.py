"""Memory from and back to the kernel: sysmalloc (brk, mmap, the mmap fallback), systrim, mtrim."""

from __future__ import annotations

from ..errors import MallocAbort, SyscallError
from ..space import MADV_DONTNEED
from ..units import PAGE, align_down, align_up
from .bins import N_BINS, UNSORTED as UNSORTED_BIN, bin_index
from .chunk import ALIGN, HDR, MASK64, MINSIZE, SIZE_SZ, mmapped_chunk_ok, to_signed
from .heap import FENCE, INUSE, Heap

__all__ = ["System"]

CHUNK_STRUCT = 48      #: sizeof(struct malloc_chunk): what malloc_trim leaves at a chunk's start


class System(Heap):
    """sysmalloc and the trimming paths, on top of the arena state."""

    # --- mmapped chunks -----------------------------------------------------------------
    def _mmap_chunk(self, nb: int) -> int:
        """Map a chunk of its own for `nb`; 0 if the kernel refuses."""
        size = align_up(nb + SIZE_SZ)
        try:
            mm = self._space.mmap(size)
        except SyscallError:
            return 0
        self._mmapped[mm] = (0, size - self._rel.mmap_chunk_tail)
        self._touch(mm, HDR)                      # prev_size 0 and the size word
        self._mmapped_mem += size
        self._max_n_mmaps = max(self._max_n_mmaps, len(self._mmapped))
        self._max_mmapped_mem = max(self._max_mmapped_mem, self._mmapped_mem)
        self._path = "mmap"
        self._info = f"chunk >= mmap threshold {self._mmap_threshold:,}: mapped {size:,} bytes"
        return mm

    def _munmap_chunk(self, c: int) -> None:
        offset, size = self._mmapped[c]
        block, total = c - offset, offset + size + self._rel.mmap_chunk_tail
        if not mmapped_chunk_ok(c, offset, total):
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
        size = nb + self._top_pad + MINSIZE
        if self._contiguous:
            size -= old_size
        size = to_signed(align_up(size & MASK64))
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
        if self._top_size >= nb + MINSIZE:
            return self._carve_top(nb)
        return 0

    def _carve_top(self, nb: int) -> int:
        """Split `nb` bytes off the bottom of top (which has at least nb + MINSIZE); return them."""
        top = self._top
        self._size[top] = nb
        self._state[top] = INUSE
        self._top = top + nb
        self._top_size -= nb
        self._touch(top + nb + SIZE_SZ, SIZE_SZ)      # the new top's size word
        return top

    def _mmap_fallback(self, size: int, nb: int, old_size: int) -> tuple[int, int] | None:
        """sbrk failed: map a region to serve as the new top (heap becomes non-contiguous)."""
        rule, unit = self._rel.mmap_fallback, self._rel.mmap_as_morecore_size
        if rule == "request":                     # 2.43: what sbrk was asked for, old top aside
            size = align_up((nb + self._top_pad + MINSIZE) & MASK64) & MASK64
            if size < unit:
                size = unit
        else:
            # glibc 2.36 passes this helper its page size and its 1 MiB minimum in swapped
            # places: a contiguous heap rounds up to a multiple of 1 MiB, and the minimum is
            # a page. 2.41 passes them in their places.
            swapped = rule == "swapped"
            if self._contiguous:
                size = to_signed(align_up((size + old_size) & MASK64, unit if swapped else PAGE))
            least = PAGE if swapped else unit
            if (size & MASK64) < least:
                size = least
            if (size & MASK64) <= nb or size <= 0:
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
            misalign = (brk + HDR) & (ALIGN - 1)
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
        elif snd_brk is None:
            snd_brk = space.brk
        self._top = aligned
        self._top_size = snd_brk - aligned + correction
        self._touch(aligned + SIZE_SZ, SIZE_SZ)
        self._system_mem += correction
        if old_size:
            old_size = (old_size - 2 * HDR) & ~(ALIGN - 1)
            fence = old_top + old_size                # two header-sized fenceposts
            self._size[fence] = HDR
            self._state[fence] = FENCE
            self._size[fence + HDR] = HDR
            self._state[fence + HDR] = FENCE
            self._touch(old_top + SIZE_SZ, SIZE_SZ)
            self._touch(fence + SIZE_SZ, HDR + SIZE_SZ)
            if old_size >= MINSIZE:
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
        top_area = top_size - MINSIZE - 1
        pad &= MASK64
        if (top_area & MASK64) <= pad:
            return 0
        extra = align_down(to_signed(top_area - pad))
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
                self._touch(self._top + SIZE_SZ, SIZE_SZ)
            return 1
        return 0

    def _mtrim(self, pad: int) -> int:
        """malloc_trim: consolidate, release whole free pages inside binned chunks, systrim."""
        self._consolidate()
        result = 0
        bins = self._bins
        advised = 0
        # only the unsorted bin and the bins of chunks that can hold a whole page
        for idx in [UNSORTED_BIN] + list(range(bin_index(PAGE), N_BINS - 1)):
            for c in bins.chunks(idx):
                size = self._size[c]
                if size > PAGE - 1 + CHUNK_STRUCT:
                    start = align_up(c + CHUNK_STRUCT)
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
