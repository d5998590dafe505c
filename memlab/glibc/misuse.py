"""What the model does when a program misuses the heap: glibc's checks, replayed on its words.

glibc aborts with a message for the misuse it detects (`memlab.errors.MallocAbort`).
Other misuse silently corrupts the real heap; the model cannot follow a corrupted
heap, so it raises `UndefinedBehavior` instead. Either way its state is left unchanged.

The checks read memory words the way glibc does. The model keeps no byte contents, so
a word is known only where glibc's own writes put it: the header of every chunk the
model tracks (top and mmapped chunks included), the footer of every binned chunk, the
nextsize links of free large chunks, and the words left at headers that merges absorbed
(`memlab.glibc.stale`). Any other word of mapped memory reads as 0 (so a free-list link
left inside a live block is not seen); a word of unmapped memory is a segmentation fault.
The chunks of a bulk step's run (`memlab.glibc.runs`) have their header words too.
"""

from __future__ import annotations

import copy

from ..errors import MallocAbort, MemlabError
from ..space import SegmentationFault
from .chunk import ALIGN, IS_MMAPPED, PREV_INUSE, SIZE_BITS, mmapped_chunk_ok
from .heap import INUSE, LARGE, TCACHE, UNSORTED

__all__ = ["UndefinedBehavior", "segfault", "read_word", "check_free", "check_realloc"]


class UndefinedBehavior(MemlabError):
    """Misuse glibc would not notice: the real heap would now be corrupted.

    >>> str(UndefinedBehavior("free(p): p is already in a fastbin"))
    'free(p): p is already in a fastbin'
    """


def segfault(addr: int) -> MemlabError:
    """The exception for glibc reading the unmapped word at `addr`."""
    return SegmentationFault(addr, "read")


def read_word(m, a: int, over: dict[int, int] | None = None) -> int:
    """The word (8 bytes on x86-64, 4 on i386) glibc would read at address `a` of Malloc `m`'s memory.

    `over` holds words glibc has written in the call being replayed, which the model's
    state does not show.

    >>> from memlab.glibc import Malloc
    >>> m = Malloc(); p = m.malloc(24); read_word(m, p - 8)    # 32 | PREV_INUSE
    33
    """
    a &= m._mask
    if over and a in over:
        return over[a]
    c = a - m._sz                              # a size word?
    s = m._size.get(c)
    if s is None and m._runs is not None:        # a chunk of a run (in use or fast)
        r = m._runs.find(c)
        if r is not None and r.start <= c:
            s = r.size
    if s is not None:
        return s if c in m._free_end else s | PREV_INUSE
    if c == m._top and c:
        return m._top_size | PREV_INUSE
    mm = m._mmapped.get(c)
    if mm is not None:
        return mm[1] | IS_MMAPPED
    owner = m._free_end.get(a)                   # a footer (prev_size of the next chunk)?
    if owner is not None:
        return m._size[owner]
    mm = m._mmapped.get(a)
    if mm is not None:
        return mm[0]
    if not any(r.start <= a < r.end for r in m._space.mappings()):
        raise segfault(a)
    sz = m._sz
    for q in (a - 4 * sz, a - 5 * sz):           # a large free chunk's nextsize links?
        st = m._state.get(q)
        if (st == UNSORTED or st == LARGE) and m._size[q] >= m._min_large:
            return 0 if st == UNSORTED else _nextsize_link(m, q, a - q == 5 * sz)
    w = m._stale.get(a)
    return 0 if w is None else w


def _nextsize_link(m, q: int, back: bool) -> int:
    """fd_nextsize (or bk_nextsize) of chunk `q` in a large bin: the head of the next smaller
    (larger) size in the bin's circular list of size heads; NULL unless q heads its size."""
    size = m._size[q]
    lb = m._bins._large[m._arch.largebin_index(size)]
    if lb._groups[size][0] != q:
        return 0
    sizes = lb._sizes                            # ascending
    j = sizes.index(size)
    k = (j + 1) % len(sizes) if back else (j - 1) % len(sizes)
    return lb._groups[sizes[k]][0]


def _undefined(call: str, what: str) -> UndefinedBehavior:
    return UndefinedBehavior(f"{call}: {what}; glibc does not detect it and the heap is now corrupt")


# --- free -------------------------------------------------------------------------------------


def check_free(m, p: int, c: int) -> int:
    """glibc's checks on free(p) of a pointer the model does not hold in use (p = c + 16).

    Returns the chunk size if p is a heap chunk in use; otherwise raises what glibc does:
    MallocAbort with its message, a segmentation fault, or UndefinedBehavior when every
    check passes on memory that is not in use.

    >>> from memlab.glibc import Malloc
    >>> m = Malloc(); a = m.malloc(2000); b = m.malloc(2000); _ = m.malloc(10)
    >>> m.free(a); m.free(b)            # b's header is absorbed: its stale size word stays
    >>> check_free(m, b, b - 16)
    Traceback (most recent call last):
    memlab.errors.MallocAbort: double free or corruption (!prev)
    """
    if m._state.get(c) == INUSE:
        return m._size[c]
    word = read_word(m, c + m._sz)
    call = f"free({p:#x})"
    if word & IS_MMAPPED:
        _check_munmap(m, c, word)
        raise _undefined(call, "glibc would unmap memory that is not a mapped chunk")
    _int_free_checks(m, c, word, call)
    raise AssertionError("unreachable")


def _check_munmap(m, c: int, word: int) -> None:
    prev = read_word(m, c)
    if not mmapped_chunk_ok(c, prev, prev + (word & ~SIZE_BITS)):
        raise MallocAbort("munmap_chunk(): invalid pointer")


def _int_free_checks(m, c: int, word: int, call: str, over: dict[int, int] | None = None) -> None:
    """The checks of glibc's _int_free on chunk `c` whose size word reads `word`; they always
    raise here, since the model only runs them for a chunk that is not in use."""
    size = word & ~SIZE_BITS
    if m._rel.free_checks_size_first:            # the alignment alone, then size and overflow
        if (c + m._hdr) & (ALIGN - 1):
            raise MallocAbort("free(): invalid pointer")
        if size < m._minsize or c + size - m._minsize > m._mask:
            raise MallocAbort("free(): invalid size")
    if c > (-size & m._mask) or (c + m._hdr) & (ALIGN - 1):
        raise MallocAbort("free(): invalid pointer")
    if size < m._minsize or size & (ALIGN - 1):
        raise MallocAbort("free(): invalid size")
    state = m._state.get(c)
    tc = m._tcache
    if tc is not None and size <= m._tmax:
        tb = tc.bins[m._arch.tcache_index(size)]
        if state == TCACHE and c in tb:          # its key word is set: glibc walks the bin
            raise MallocAbort("free(): double free detected in tcache 2")
        if len(tb) < tc.limit:
            raise _undefined(call, "a chunk that is not in use would be cached in tcache")
    if size <= m._max_fast:
        nw = read_word(m, c + size + m._sz, over)
        if nw <= m._hdr or nw & ~SIZE_BITS >= m._system_mem:
            raise MallocAbort("free(): invalid next size (fast)")
        if m._fast.head(m._arch.fastbin_index(size)) == c:
            raise MallocAbort("double free or corruption (fasttop)")
        raise _undefined(call, "a chunk that is not in use would be put in a fastbin")
    if word & IS_MMAPPED:
        raise _undefined(call, "glibc ignores a chunk that claims to be mmapped here")
    top = m._top
    if c == top and top:
        raise MallocAbort("double free or corruption (top)")
    nxt = c + size
    if m._contiguous and top and nxt >= top + m._top_size:
        raise MallocAbort("double free or corruption (out)")
    nw = read_word(m, nxt + m._sz, over)
    if not nw & PREV_INUSE:
        raise MallocAbort("double free or corruption (!prev)")
    nsize = nw & ~SIZE_BITS
    if nw <= m._hdr or nsize >= m._system_mem:
        raise MallocAbort("free(): invalid next size (normal)")
    if not word & PREV_INUSE:                   # consolidate backward
        prevsize = read_word(m, c, over)
        q = (c - prevsize) & m._mask
        if read_word(m, q + m._sz, over) & ~SIZE_BITS != prevsize:
            raise MallocAbort("corrupted size vs. prev_size while consolidating")
        _check_unlink(m, q, call, over)
    if nxt != top and not read_word(m, nxt + nsize + m._sz, over) & PREV_INUSE:
        _check_unlink(m, nxt, call, over)       # consolidate forward
    raise _undefined(call, "a chunk that is not in use would be binned again")


def _check_unlink(m, q: int, call: str, over: dict[int, int] | None = None) -> None:
    """unlink_chunk's checks on chunk `q`: they pass for a chunk really in a bin; for any
    other chunk its link words are followed as glibc does (0 where the model knows none)."""
    size = read_word(m, q + m._sz, over) & ~SIZE_BITS
    if read_word(m, (q + size) & m._mask, over) != size:
        raise MallocAbort("corrupted size vs. prev_size")
    state = m._state.get(q)
    if state is not None and UNSORTED <= state <= LARGE and m._size[q] == size:
        return
    fd_at, bk_at = 2 * m._sz, 3 * m._sz         # offsets of the fd and bk words
    fd, bk = read_word(m, q + fd_at, over), read_word(m, q + bk_at, over)
    if read_word(m, fd + bk_at, over) != q or read_word(m, bk + fd_at, over) != q:
        raise MallocAbort("corrupted double-linked list")
    raise _undefined(call, f"glibc would unlink {q:#x}, which is in no bin")


# --- realloc ----------------------------------------------------------------------------------


def check_realloc(m, p: int, c: int, n: int) -> None:
    """glibc's checks on realloc(p, n) of a heap pointer (p is not a tracked mmapped chunk).

    Returns normally if p is in use, or if glibc returns NULL at once (n too big);
    otherwise replays glibc's path on the chunk and raises what glibc does.

    >>> from memlab.glibc import Malloc
    >>> m = Malloc(); p = m.malloc(24); _ = m.malloc(8); m.free(p)
    >>> check_realloc(m, p, p - 16, 100)    # must move: the free of the old chunk decides
    Traceback (most recent call last):
    memlab.errors.MallocAbort: free(): double free detected in tcache 2
    """
    if m._state.get(c) == INUSE:
        return
    call = f"realloc({p:#x}, {n})"
    word = read_word(m, c + m._sz)
    oldsize = word & ~SIZE_BITS
    if c > (-oldsize & m._mask) or (c + m._hdr) & (ALIGN - 1):
        raise MallocAbort("realloc(): invalid pointer")
    nb = m._arch.checked_request2size(n)
    if not nb:
        return
    if word & IS_MMAPPED:
        prev = read_word(m, c)
        if not mmapped_chunk_ok(c, prev, prev + oldsize, m._hdr):
            raise MallocAbort("mremap_chunk(): invalid pointer")
        raise _undefined(call, "glibc would remap memory that is not a mapped chunk")
    if word <= m._hdr or oldsize >= m._system_mem:
        raise MallocAbort("realloc(): invalid old size")
    nxt = c + oldsize
    nw = read_word(m, nxt + m._sz)
    nsize = nw & ~SIZE_BITS
    if nw <= m._hdr or nsize >= m._system_mem:
        raise MallocAbort("realloc(): invalid next size")
    if oldsize >= nb:
        _check_split(m, c, word, oldsize, nb, call)
    top = m._top
    if nxt == top and oldsize + nsize >= nb + m._minsize:
        raise _undefined(call, "a chunk that is not in use would grow into top")
    if nxt != top and not read_word(m, nxt + nsize + m._sz) & PREV_INUSE and oldsize + nsize >= nb:
        _check_unlink(m, nxt, call)
        _check_split(m, c, word, oldsize + nsize, nb, call)
    _check_move(m, c, oldsize, nb, nxt, call)


def _check_split(m, c: int, word: int, newsize: int, nb: int, call: str) -> None:
    """realloc keeps `c` with `newsize` bytes: a tail of MINSIZE or more is cut off and freed
    (glibc's free checks run on it, with the headers the cut has just written)."""
    rsize = newsize - nb
    if rsize >= m._minsize:
        rem = c + nb
        end = c + newsize
        over = {c + m._sz: nb | (word & SIZE_BITS), rem + m._sz: rsize | PREV_INUSE}
        over[end + m._sz] = read_word(m, end + m._sz, over) | PREV_INUSE
        _int_free_checks(m, rem, rsize | PREV_INUSE, call, over)
    raise _undefined(call, "a chunk that is not in use would be resized in place")


def _check_move(m, c: int, oldsize: int, nb: int, nxt: int, call: str) -> None:
    """realloc must allocate, copy and free the old chunk: run the allocation, then the free's
    checks on the old chunk in the heap as the allocation left it, then undo everything."""
    saved = _save(m)
    try:
        new = m._int_malloc(nb)
        if not new:
            raise _undefined(call, "the allocation failed after a chunk that is not in use was read")
        if new == nxt:
            _check_split(m, c, read_word(m, c + m._sz), oldsize + m._size[new], nb, call)
        word = read_word(m, c + m._sz)
        if m._state.get(c) == INUSE:
            raise _undefined(call, "glibc would free the block it has just handed out")
        _int_free_checks(m, c, word, call)
    finally:
        _restore(m, saved)


def _save(m):
    """A deep copy of the model's state and of its address space (the space object is kept)."""
    space = m._space
    return copy.deepcopy(m.__dict__, {id(space): space}), copy.deepcopy(space.__dict__)


def _restore(m, saved) -> None:
    state, space_state = saved
    m.__dict__.clear()
    m.__dict__.update(state)
    m._space.__dict__.clear()
    m._space.__dict__.update(space_state)
