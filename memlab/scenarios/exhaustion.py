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

The program runs on memlab's model of glibc 2.36 for i386 (`memlab.glibc.Malloc(arch="i386")`)
over that 32-bit address space: each block takes sysmalloc's path when no free chunk serves it,
its own mapping (`Arch.mmapped`: the chunk, a word and the alignment slack, in pages); when
that fails, growing the heap with sbrk; when that fails too, a mapping of at least 1 MiB that
becomes the new top. The last two never succeed in the measured runs (the break ends where the
first malloc left it).
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.glibc import Malloc
from memlab.glibc.arch import I386
from memlab.native.exhaust import RealExhaustion, run_exhaust
from memlab.space.layout32 import Layout32, Region
from memlab.space.space32 import Space32
from memlab.units import MiB, align_up

__all__ = ["Picture", "Exhaustion", "exhaustion", "beside_real", "BIG", "SMALL"]

#: The lesson's block sizes.
BIG = 100 * MiB
SMALL = 1 * MiB


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
    for n in (big, small):
        if I386.request2size(n) < I386.mmap_threshold:
            raise ValueError(f"blocks of {n:,} bytes are below the mmap threshold "
                             f"({I386.mmap_threshold:,}): this scenario runs blocks that are mapped")
    layout = layout or Layout32.typical()
    space = Space32(layout)
    heap = Malloc(space, arch=I386)
    n_big = n_small = first = last = heap_blocks = 0
    while n_big < limit and (p := heap.malloc(big)):
        n_big += 1
        at = _mapping_of(heap, p)
        heap_blocks += not at
        last = at or last
        first = first or at
    at_failure = _picture(space)
    while n_small < limit and (p := heap.malloc(small)):
        n_small += 1
        heap_blocks += not _mapping_of(heap, p)
    return Exhaustion(big, small, n_big, n_small, layout.user_space, layout, at_failure, _picture(space),
                      I386.mmapped(big)[0], I386.mmapped(small)[0], space.fallbacks, heap_blocks,
                      first, last)


def _mapping_of(heap: Malloc, p: int) -> int:
    """Where the mapping of the block at `p` starts, 0 when glibc carved it from the heap."""
    if heap.last_note.path != "mmap":
        return 0
    return p - I386.chunk_header - I386.front_padding


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
