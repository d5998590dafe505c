"""The heap's invariants, verified (for tests and for students poking at a model)."""

from __future__ import annotations

from .bins import N_BINS, NSMALLBINS, UNSORTED as UNSORTED_BIN
from .chunk import ALIGN
from .heap import FAST, FENCE, INUSE, LARGE, SMALL, TCACHE, UNSORTED

__all__ = ["check_heap"]


def _fail(msg: str) -> None:
    raise AssertionError(msg)


def check_heap(m) -> None:
    """Raise AssertionError naming the first broken invariant of Malloc `m`.

    Invariants: the chunks and top tile each heap region exactly; no binned chunk
    touches another binned chunk or top; each bin holds only its sizes and large
    bins are sorted; footers match binned chunks; arena == uordblks + fordblks;
    tcache bins hold at most `count` chunks of their size; the counters match a
    recount; top has at least MINSIZE once the heap exists.

    >>> from memlab.glibc import Malloc
    >>> m = Malloc(); _ = m.malloc(100); m.check()
    """
    size, state, rel = m._size, m._state, m._rel
    arch, hdr, minsize = rel.arch, m._hdr, m._minsize
    if set(size) != set(state):
        _fail("chunk table: sizes and states name different chunks")
    # tiling (runs of equal chunks count as `count` chunks each: memlab.glibc.runs)
    addrs = sorted(size)
    items = m._chunk_items() if m._runs else [(a, size[a], state[a], 1) for a in addrs]
    starts = {it[0] for it in items}
    top, top_size = m._top, m._top_size
    if top:
        if top in size:
            _fail(f"top {top:#x} is also in the chunk table")
        if top_size < minsize:
            _fail(f"top size {top_size} < MINSIZE")
        if (top + hdr) % ALIGN or (top + top_size) % ALIGN:
            _fail(f"top {top:#x} size {top_size}: its user area or its end is misaligned")
    prev_end = None
    prev_binned = False
    for a, s, st, count in items:
        if count > 1 and st not in (INUSE, FAST):
            _fail(f"run at {a:#x} is in state {st}: runs are in use or in a fastbin")
        if st != FENCE and ((a + hdr) % ALIGN or s % ALIGN or s < minsize):
            _fail(f"chunk {a:#x} size {s}: misaligned or too small")
        binned = UNSORTED <= st <= LARGE
        if prev_end is not None and a < prev_end:
            _fail(f"chunk {a:#x} overlaps the previous chunk (ends {prev_end:#x})")
        if prev_end == a and binned and prev_binned:
            _fail(f"two adjacent binned free chunks end at {a:#x}")
        nxt = a + s * count
        if nxt != top and nxt not in starts and st != FENCE:
            # the next address must be a chunk, or the end of a region behind a fencepost
            _fail(f"chunk {a:#x} size {s}: no chunk follows at {nxt:#x}")
        if binned and nxt == top:
            _fail(f"binned chunk {a:#x} touches top")
        if binned and m._free_end.get(nxt) != a:
            _fail(f"binned chunk {a:#x}: footer missing")
        prev_end, prev_binned = nxt, binned
    if len(m._free_end) != sum(1 for a in addrs if UNSORTED <= state[a] <= LARGE):
        _fail("footer map holds chunks that are not binned")
    # bins
    bins = m._bins
    seen = 0
    total = 0
    for idx in range(UNSORTED_BIN, N_BINS - 1):
        chunks = bins.chunks(idx)
        last = None
        for c in chunks:
            s = size.get(c)
            if s is None:
                _fail(f"bin {idx} holds {c:#x}, not a chunk")
            want = UNSORTED if idx == UNSORTED_BIN else (SMALL if idx < NSMALLBINS else LARGE)
            if state[c] != want:
                _fail(f"bin {idx} holds {c:#x} whose state is {state[c]}")
            if idx != UNSORTED_BIN and arch.bin_index(s) != idx:
                _fail(f"bin {idx} holds a chunk of size {s}")
            if idx >= NSMALLBINS and last is not None and s > last:
                _fail(f"large bin {idx} not sorted (size {s} after {last})")
            last = s
            seen += 1
            total += s
        if idx >= 2 and bool(chunks) != bool(bins.nonempty_mask() >> idx & 1):
            _fail(f"bin {idx}: non-empty mask is wrong")
    if seen != bins.count or total != bins.bytes:
        _fail(f"bin counters {bins.count}/{bins.bytes} != recount {seen}/{total}")
    if seen != sum(1 for a in addrs if UNSORTED <= state[a] <= LARGE):
        _fail("some binned chunk is in no bin")
    # fastbins
    fast = m._fast
    n = b = 0
    runs = m._runs
    fast_runs = 0
    for fi, lst in enumerate(fast.bins):
        deep = runs.deep[fi] if runs is not None else []
        if deep and not lst:
            _fail(f"fastbin {fi}: deep part without a list head")
        for c in deep:
            if c.__class__ is int:
                continue
            if runs.find(c.start) is not c or c.state != FAST or c.size != fast.size_of(fi):
                _fail(f"fastbin {fi} holds run {c!r} that the run table does not")
            if c.size > m._max_fast:
                _fail(f"fastbin run {c!r} larger than max_fast")
            n += c.count
            b += c.count * c.size
            fast_runs += 1
        for c in lst + [c for c in deep if c.__class__ is int]:
            if state.get(c) != FAST or size[c] != fast.size_of(fi):
                _fail(f"fastbin {fi} holds {c:#x} of wrong size or state")
            if size[c] > m._max_fast:
                _fail(f"fastbin chunk {c:#x} larger than max_fast")
            n += 1
            b += size[c]
    if n != fast.count or b != fast.bytes:
        _fail("fastbin counters wrong")
    if n != sum(it[3] for it in items if it[2] == FAST):
        _fail("some fastbin chunk is in no fastbin")
    if runs is not None and fast_runs != sum(1 for r in runs if r.state == FAST):
        _fail("some fast run is in no fastbin")
    # tcache
    tc = m._tcache
    t = 0
    if tc is not None:
        if tc.addr and state.get(tc.addr) != INUSE and tc.addr not in m._mmapped:
            _fail("tcache bookkeeping chunk is not in use")
        for i, lst in enumerate(tc.bins):
            if len(lst) > tc.limit:
                _fail(f"tcache bin {i} holds {len(lst)} > {tc.limit}")
            for c in lst:
                if state.get(c) != TCACHE or arch.tcache_index(size[c]) != i:
                    _fail(f"tcache bin {i} holds {c:#x} of wrong size or state")
                t += 1
    if t != sum(1 for a in addrs if state[a] == TCACHE):
        _fail("some tcache chunk is in no tcache bin")
    # counters
    mi = m.mallinfo2()
    if mi.arena != mi.uordblks + mi.fordblks:
        _fail("arena != uordblks + fordblks")
    heap_bytes = sum(it[1] * it[3] for it in items) + top_size
    if m._contiguous and top:
        heap_bytes += (items[0][0] if items else top) - m._sbrk_base   # the front padding
        if heap_bytes != m._system_mem:
            _fail(f"front padding + chunks + top ({heap_bytes}) != arena ({m._system_mem})")
    tail = rel.mmap_chunk_tail
    if mi.hblkhd - m._mmapped_drift != sum(o + s + tail for o, s in m._mmapped.values()):
        _fail("hblkhd != total of mmapped chunks")
