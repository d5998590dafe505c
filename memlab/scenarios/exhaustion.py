"""Lesson 09's 32-bit failure: big mallocs run out of address space long before memory runs out.

A 32-bit program on glibc 2.36 (i386) mallocs `big` bytes (100 MiB) until malloc returns
NULL, then `small` bytes (1 MiB) until it fails again, freeing nothing. Blocks of these sizes
are above the mmap threshold, so each is a mapping of its own, placed by the kernel
(`memlab.space.layout32`). The first phase fails when no free range holds a big block any more
although hundreds of MiB are still free, in ranges each too small: the second phase fills
them. `exhaustion()` computes it all on the model; `tests/test_exhaustion.py` holds the figures
against the same program run for real (`memlab/native/exhaust.c`, built with -m32).

    >>> r = exhaustion()
    >>> r.n_big, r.n_small                            # 100 MiB blocks, then 1 MiB blocks
    (39, 189)
    >>> r.at_failure.total_free // MiB, r.at_failure.largest_free // MiB
    (192, 83)

For a chart: `r.at_failure.regions` and `r.at_end.regions` are every mapping (kind "program",
"heap", "library", "stack" or "mmap": the blocks) and `.free` the free ranges, over
`r.user_space` bytes of addresses.

Which path glibc takes for each block, as sysmalloc does when no free chunk serves it: its own
mapping (`Arch.mmapped`: the chunk, a word and the alignment slack, in pages); when that fails,
growing the heap with sbrk (the request, the top pad and MINSIZE, less what top holds); when
that fails too, a mapping of at least 1 MiB that becomes the new top. The last two never
succeed in the measured runs (the break ends where the first malloc left it), and the model
agrees; they are modelled so that other sizes stay honest.
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.errors import SyscallError
from memlab.glibc.arch import I386, Arch
from memlab.native.exhaust import RealExhaustion, run_exhaust
from memlab.space.layout32 import Layout32, Region
from memlab.space.space32 import Space32
from memlab.units import MiB, align_up

__all__ = ["Picture", "Exhaustion", "exhaustion", "beside_real", "BIG", "SMALL"]

#: The lesson's block sizes.
BIG = 100 * MiB
SMALL = 1 * MiB
#: glibc's MMAP_AS_MORECORE_SIZE: the least it maps when sbrk fails.
_MORECORE_MMAP = 1 * MiB


@dataclass(frozen=True, slots=True)
class Picture:
    """The address space at one moment: mappings, free ranges and their totals.

    >>> p = exhaustion().at_end
    >>> p.largest_free < SMALL + 4096, p.total_free == sum(e - s for s, e in p.free)
    (True, True)
    """

    regions: tuple[Region, ...]            # everything mapped, by address
    free: tuple[tuple[int, int], ...]      # [start, end) ranges still free for a mapping
    total_free: int                        # bytes in them
    largest_free: int                      # the largest one: the biggest mapping still possible
    brk: int                               # the program break


@dataclass(frozen=True, slots=True)
class Exhaustion:
    """The figures of one run: how many blocks of each size fit, and the pictures.

    >>> r = exhaustion(big=1024 * MiB, small=100 * MiB)
    >>> r.n_big, r.n_small, r.mapped_big // MiB
    (3, 9, 1024)
    """

    big: int                  # bytes asked for per block, first phase
    small: int                # ... second phase
    n_big: int                # big blocks obtained before the first NULL
    n_small: int              # small blocks obtained after it, before the next NULL
    user_space: int           # the process's address-space size
    layout: Layout32          # where things sat when the program started
    at_failure: Picture       # when the first big malloc failed
    at_end: Picture           # when the first small malloc failed
    mapped_big: int           # bytes of address space one big block takes (its mapping)
    mapped_small: int         # ... one small block
    fallbacks: int            # blocks the kernel placed by its bottom-up fallback (both phases)
    heap_blocks: int          # blocks glibc carved from the heap or its 1 MiB fallback mapping
    first_big: int            # where the first big block's mapping starts (0: none)
    last_big: int             # ... the last one's


class _Malloc32:
    """The part of glibc's malloc these runs reach: blocks at or above the mmap threshold."""

    def __init__(self, space: Space32, arch: Arch) -> None:
        self.space, self.arch = space, arch
        self.heap_blocks = 0
        self.at = 0                            # the last block's mapping (0: from the heap)
        # tcache_init's first malloc makes the heap: the tcache chunk, then top
        space.sbrk(arch.first_heap_bytes)
        self.top = arch.first_heap_bytes - arch.front_padding - arch.tcache_chunk_size
        self.contiguous = True

    def malloc(self, n: int) -> bool:
        """True when malloc(n) returns a block; `self.at` is the mapping's start (0: the heap)."""
        a, space = self.arch, self.space
        self.at = 0
        nb = a.request2size(n)
        if nb < a.mmap_threshold:
            raise ValueError(f"blocks of {n:,} bytes are below the mmap threshold "
                             f"({a.mmap_threshold:,}): this scenario runs blocks that are mapped")
        if self.top >= nb + a.minsize:         # top holds it (only after a fallback mapping)
            self.top -= nb
            self.heap_blocks += 1
            return True
        try:
            self.at = space.mmap(a.mmapped(n)[0])
            return True
        except SyscallError:
            pass
        size = nb + a.top_pad + a.minsize
        if self.contiguous:
            size -= self.top
        size = align_up(size)
        try:
            space.sbrk(size)
            self.top += size - nb
            self.heap_blocks += 1
            return True
        except SyscallError:
            pass
        size = max(align_up(nb + a.top_pad + a.minsize), _MORECORE_MMAP)
        try:
            space.mmap(size)
        except SyscallError:
            return False
        self.contiguous = False               # the old top is freed; the mapping is the new top
        self.top = size - a.front_padding - nb
        self.heap_blocks += 1
        return True


def _picture(space: Space32) -> Picture:
    return Picture(space.regions(), space.free_ranges(), space.total_free, space.largest_free, space.brk)


def exhaustion(big: int = BIG, small: int = SMALL, layout: Layout32 | None = None,
               limit: int = 1 << 20) -> Exhaustion:
    """Run the lesson's program on the model of a 32-bit process (`layout`: the typical one
    measured here, on a 64-bit kernel, unless given); the figures as an `Exhaustion`.

    >>> exhaustion(layout=Layout32.typical(legacy=True)).n_big       # bottom-up only
    27
    >>> from memlab.space.layout32 import USER_SPACE_32
    >>> exhaustion(layout=Layout32.typical(user_space=USER_SPACE_32)).n_big   # a 32-bit kernel
    30
    """
    for name, value in (("big", big), ("small", small)):
        if type(value) is not int or not 0 < value < 2**32:
            raise ValueError(f"{name} must be a whole number of bytes from 1 to 2**32-1, not {value!r}")
    layout = layout or Layout32.typical()
    space = Space32(layout)
    heap = _Malloc32(space, I386)
    n_big = n_small = first = last = 0
    while n_big < limit and heap.malloc(big):
        n_big += 1
        last = heap.at
        first = first or last
    at_failure = _picture(space)
    while n_small < limit and heap.malloc(small):
        n_small += 1
    return Exhaustion(big, small, n_big, n_small, layout.user_space, layout, at_failure, _picture(space),
                      I386.mmapped(big)[0], I386.mmapped(small)[0], space.fallbacks, heap.heap_blocks,
                      first, last)


def beside_real(big: int = BIG, small: int = SMALL, randomize: bool = False,
                legacy: bool = False) -> tuple[Exhaustion, RealExhaustion]:
    """The same program run for real (-m32, the machine's i386 glibc) and on the model started
    from the real run's own layout: (model, real). NativeUnavailable without a 32-bit toolchain.

    >>> model, real = beside_real()
    >>> (model.n_big, model.n_small) == (real.n_big, real.n_small)
    True
    """
    real = run_exhaust(big, small, randomize=randomize, legacy=legacy)
    layout = Layout32.from_maps(real.maps_start, real.start_brk, legacy=legacy)
    return exhaustion(big, small, layout), real
