"""What the model does when a program misuses the heap in a way glibc does not detect.

glibc aborts with a message for the misuse it detects (`memlab.errors.MallocAbort`).
Other misuse silently corrupts the real heap; the model cannot follow a corrupted
heap, so it raises `UndefinedBehavior` instead, leaving its state unchanged.
The model keeps no byte contents: a word it does not track reads as 0.
"""

from __future__ import annotations

from ..errors import MallocAbort, MemlabError
from .heap import FAST, FENCE, INUSE, TCACHE

__all__ = ["UndefinedBehavior", "segfault", "check_free", "check_realloc"]


class UndefinedBehavior(MemlabError):
    """Misuse glibc would not notice: the real heap would now be corrupted.

    >>> str(UndefinedBehavior("free(p): p is already in a fastbin"))
    'free(p): p is already in a fastbin'
    """


def segfault(addr: int) -> MemlabError:
    """The exception for glibc reading the unmapped word at `addr`."""
    from ..space import SegmentationFault
    return SegmentationFault(addr, "read")


# The checks below run before anything changes, so a failed call leaves the model as it was.


def _unknown_chunk(m, p: int) -> None:
    """p does not point at a chunk the model tracks: its size word reads as 0."""
    if not any(r.start <= p - 8 < r.end for r in m._space.mappings()):
        raise segfault(p - 8)


def check_free(m, p: int, c: int) -> int:
    """glibc's checks on free(p) of a heap pointer; return the chunk size if p is in use."""
    state = m._state.get(c)
    if p & 15 or (state is None and c != m._top) or m._top == 0:
        _unknown_chunk(m, p)
        if m._rel.free_checks_size_first and not p & 15:
            raise MallocAbort("free(): invalid size")   # its size word reads as 0
        raise MallocAbort("free(): invalid pointer")
    if c == m._top:
        size = m._top_size
        if size <= max(m._max_fast, m._tmax):
            raise UndefinedBehavior(f"free({p:#x}): that is the top chunk; glibc would cache it")
        raise MallocAbort("double free or corruption (top)")
    size = m._size[c]
    if state == INUSE:
        return size
    if state == FENCE:
        raise MallocAbort("free(): invalid size")
    if state == TCACHE:
        raise MallocAbort("free(): double free detected in tcache 2")
    tc = m._tcache
    tcache_room = size <= m._tmax and (
        tc is None or len(tc.bins[(size - 17) >> 4]) < tc.limit)
    if state == FAST:
        if not tcache_room and m._fast.head((size >> 4) - 2) == c:
            raise MallocAbort("double free or corruption (fasttop)")
        raise UndefinedBehavior(
            f"free({p:#x}): double free of a fastbin chunk that glibc does not detect")
    if tcache_room or size <= m._max_fast:
        raise UndefinedBehavior(
            f"free({p:#x}): double free of a binned chunk that glibc does not detect")
    raise MallocAbort("double free or corruption (!prev)")


def check_realloc(m, p: int, c: int, n: int) -> None:
    """glibc's checks on realloc(p, n) of a heap pointer (p is not mmapped)."""
    state = m._state.get(c)
    if p & 15 or state is None:
        _unknown_chunk(m, p)
        raise MallocAbort("realloc(): invalid pointer")
    if state != INUSE:
        raise UndefinedBehavior(f"realloc({p:#x}, {n}): the chunk is not in use")
