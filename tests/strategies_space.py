"""Hypothesis strategies for AddressSpace tests: a small space and the arguments of its calls."""

from hypothesis import strategies as st

from memlab.space import MADV_DONTNEED, MADV_FREE
from memlab.units import PAGE

__all__ = ["HEAP", "BASE", "addresses", "lengths", "deltas", "advice", "sizes"]

HEAP = 0x40_0000              # heap_start of the small test space
BASE = HEAP + 48 * PAGE       # mmap_base: 48 pages above the heap, so gaps run out


def addresses():
    """Addresses around the small space: mostly page aligned, sometimes not, sometimes outside."""
    page = st.integers(min_value=-2, max_value=50).map(lambda k: HEAP + k * PAGE)
    return st.one_of(page, page, page, st.tuples(page, st.integers(1, PAGE - 1)).map(sum))


def lengths():
    """Lengths in bytes: mostly a few pages, sometimes odd, zero or negative."""
    pages = st.integers(min_value=1, max_value=10).map(lambda k: k * PAGE)
    odd = st.integers(min_value=1, max_value=10 * PAGE)
    return st.one_of(pages, pages, odd, st.sampled_from([0, -1, -PAGE]))


def deltas():
    """sbrk arguments: growth or shrinkage by bytes or pages."""
    return st.one_of(st.integers(min_value=-6 * PAGE, max_value=6 * PAGE),
                     st.integers(min_value=-3, max_value=3).map(lambda k: k * PAGE))


def advice():
    """madvise advice: the two modelled ones and an unknown number."""
    return st.sampled_from([MADV_DONTNEED, MADV_FREE, MADV_FREE, 99])


def sizes():
    """(ram, swap) pairs for the small space: unlimited, or a few pages."""
    small = st.tuples(st.integers(2, 12).map(lambda k: k * PAGE),
                      st.integers(0, 8).map(lambda k: k * PAGE))
    return st.one_of(st.just((None, None)), small)
