"""The memalign family: memalign, aligned_alloc, posix_memalign, valloc, pvalloc.

Alignments up to 16 are plain mallocs (tcache included); larger ones are rounded up
to a power of two >= 32 and served by `_int_memalign`, which never uses or creates
the tcache. Results for alignments above 4096 depend on the absolute addresses
the AddressSpace hands out (its heap_start and mmap placement).
"""

from __future__ import annotations

import errno

from ..units import PAGE
from .chunk import ALIGN, is_power_of_two
from .heap import INUSE

__all__ = ["AlignedAlloc"]

NULL = 0


class AlignedAlloc:
    """Public aligned-allocation calls of `Malloc` (a mixin over its arena)."""

    def memalign(self, align: int, n: int) -> int:
        """Allocate `n` bytes at a multiple of `align` (rounded up to a power of two).

        >>> from memlab.glibc import Malloc
        >>> m = Malloc(); m.memalign(4096, 100) % 4096
        0
        """
        align = self._fit("align", align)
        n = self._fit("n", n)
        self._info = ""
        call = ("memalign", (align, n))
        r = self._mid_memalign(align, n)
        self._note = (call, self._path if r else "fail", "")
        return r

    def _mid_memalign(self, align: int, n: int) -> int:
        hdr = self._hdr
        if align <= ALIGN:
            nb = self._arch.checked_request2size(n)
            c = self._malloc_chunk(nb, n) if nb else 0
            return c + hdr if c else NULL
        if align < self._minsize:
            align = self._minsize
        if align > self._mask // 2 + 1:
            return NULL
        if not is_power_of_two(align):
            a = 2 * ALIGN
            while a < align:
                a <<= 1
            align = a
        nb = self._arch.checked_request2size(n)
        if nb and self._rel.memalign_tcache_lookup:
            c = self._tcache_aligned(align, nb)
            if c:
                return c + hdr
        if not nb or nb + align + self._minsize > self._ptrdiff_max:
            return NULL                                 # _int_malloc refuses what it is asked
        c = self._int_memalign(align, nb)
        return c + hdr if c else NULL

    def _tcache_aligned(self, align: int, nb: int) -> int:
        """2.41 on: the first chunk of nb's tcache bin (head first) whose block is aligned."""
        tc = self._tcache
        if tc is None or nb > self._tmax:
            return 0
        tb = tc.bins[self._arch.tcache_index(nb)]
        for i in range(len(tb) - 1, -1, -1):          # the list's head is the last item
            c = tb[i]
            if not (c + self._hdr) % align:
                del tb[i]
                self._state[c] = INUSE
                self._path = "tcache"
                return c
        return 0

    def aligned_alloc(self, align: int, n: int) -> int:
        """memalign, except that from glibc 2.41 an alignment that is 0 or not a power of two
        fails with EINVAL (no check that n is a multiple of align).

        >>> from memlab.glibc import Malloc
        >>> Malloc().aligned_alloc(64, 10) % 64, Malloc(glibc="2.41").aligned_alloc(48, 10)
        (0, 0)
        """
        if self._rel.aligned_alloc_strict and (align == 0 or not is_power_of_two(align)):
            self._fit("align", align)
            self._fit("n", n)
            self._info = ""
            self._note = (("aligned_alloc", (align, n)), "fail", "EINVAL:")
            return NULL
        return self.memalign(align, n)

    def posix_memalign(self, align: int, n: int) -> tuple[int, int]:
        """Return (0, address), (EINVAL, 0) for a bad alignment, or (ENOMEM, 0).

        >>> from memlab.glibc import Malloc
        >>> Malloc().posix_memalign(24, 10)
        (22, 0)
        """
        align = self._fit("align", align)
        n = self._fit("n", n)
        sz = self._sz                                   # sizeof(void *)
        if align % sz or not is_power_of_two(align // sz) or align == 0:
            self._info = ""
            self._note = (f"posix_memalign({align}, {n})", "fail", "EINVAL:")
            return errno.EINVAL, NULL
        r = self.memalign(align, n)
        return (0, r) if r else (errno.ENOMEM, NULL)

    def valloc(self, n: int) -> int:
        """memalign(4096, n).

        >>> from memlab.glibc import Malloc
        >>> Malloc().valloc(1) % 4096
        0
        """
        return self.memalign(PAGE, n)

    def pvalloc(self, n: int) -> int:
        """memalign(4096, n rounded up to whole pages).

        >>> from memlab.glibc import Malloc
        >>> m = Malloc(); m.malloc_usable_size(m.pvalloc(1))
        4104
        """
        n = self._fit("n", n)
        if n + PAGE - 1 > self._mask:
            return NULL
        return self.memalign(PAGE, (n + PAGE - 1) & -(PAGE - 1) & self._mask)   # glibc's mask, as written

