"""Bulk steps (Malloc.malloc_run / free_run) leave exactly the state the single steps leave.

Each test drives two models side by side: one takes the bulk calls, the other the same
calls one at a time; then both take the same random single operations, which break
into the runs (frees in the middle, fastbin pops, consolidation, trims, reallocs). After
every step the two must agree on everything observable: chunks(), the bins in list
order, mallinfo2, the notes, and the address space (break, pages, system calls).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings, strategies as st

from memlab.glibc import M_MXFAST, M_TOP_PAD, M_TRIM_THRESHOLD, Malloc
from memlab.glibc.bulk import Block
from memlab.glibc.release import RELEASES


def state(m: Malloc):
    space = m.space
    bins = m._bins
    tc = m._tcache
    return (
        list(m.chunks()),
        m.mallinfo2(),
        [bins.chunks(i) for i in range(1, 127)],
        list(m._fast),
        [list(b) for b in tc.bins] if tc is not None else None,
        (m._top, m._top_size, m._last_remainder, m._have_fast),
        m.last_note,
        m._stale.items(),
        (space.brk, space.rss, space.vsz, space.resident_ranges(), dict(space.calls),
         [(e.call, e.args, e.result) for e in space.events]),
    )


def same(a: Malloc, b: Malloc) -> None:
    a.check()
    b.check()
    sa, sb = state(a), state(b)
    for k, (x, y) in enumerate(zip(sa, sb)):
        assert x == y, f"part {k} differs"


class Twin:
    """A bulk model and a single-step model, with the live blocks they share."""

    def __init__(self, glibc: str = "2.36") -> None:
        self.bulk = Malloc(glibc=glibc)
        self.single = Malloc(glibc=glibc)
        self.live: list[int] = []

    def malloc_run(self, n: int, count: int) -> list[int]:
        blocks = self.bulk.malloc_run(n, count)
        got = [p for b in blocks for p in b]
        want = [self.single.malloc(n) for _ in range(count)]
        assert got == want
        self.live += [p for p in got if p]
        same(self.bulk, self.single)
        return got

    def free_run(self, addrs: list[int], stride: int) -> None:
        self.bulk.free_run(addrs[0], stride, len(addrs))
        for p in addrs:
            self.single.free(p)
        gone = set(addrs)
        self.live = [p for p in self.live if p not in gone]
        same(self.bulk, self.single)

    def op(self, rng: random.Random) -> None:
        """One random single operation on both models."""
        kind = rng.choice(["malloc", "free", "realloc", "trim", "mallopt", "big", "usable",
                           "calloc", "memalign", "run"])
        size = rng.choice([0, 4, 24, 40, 100, 500, 1500, 5000])
        pad = rng.choice([0, 4096])
        mxfast = rng.choice([0, 64, 128])
        if kind in ("free", "realloc", "usable"):
            if not self.live:
                return
            i = rng.randrange(len(self.live))
            p = self.live[i]
        out = []
        for m in (self.bulk, self.single):
            if kind == "malloc":
                out.append(m.malloc(size))
            elif kind == "free":
                m.free(p)
            elif kind == "realloc":
                out.append(m.realloc(p, size or 60))
            elif kind == "trim":
                out.append(m.malloc_trim(pad))
            elif kind == "mallopt":
                out.append(m.mallopt(M_MXFAST, mxfast))
            elif kind == "big":
                out.append(m.malloc(2000))
            elif kind == "usable":
                out.append(m.malloc_usable_size(p))
            elif kind == "calloc":
                out.append(m.calloc(3, size))
            elif kind == "memalign":
                out.append(m.memalign(64, size))
            elif kind == "run":
                if m is self.bulk:
                    out.append([q for b in m.malloc_run(size, 50) for q in b])
                else:
                    out.append([m.malloc(size) for _ in range(50)])
        if out:
            assert out[0] == out[1]
        if kind in ("free", "realloc"):
            del self.live[i]
        if kind in ("malloc", "big", "realloc", "calloc", "memalign") and out[0]:
            self.live.append(out[0])
        if kind == "run":
            self.live += [q for q in out[0] if q]
        same(self.bulk, self.single)

    def free_one(self, rng: random.Random) -> None:
        if not self.live:
            return
        p = self.live.pop(rng.randrange(len(self.live)))
        self.bulk.free(p)
        self.single.free(p)
        same(self.bulk, self.single)

    def malloc_one(self, n: int) -> None:
        a, b = self.bulk.malloc(n), self.single.malloc(n)
        assert a == b
        if a:
            self.live.append(a)
        same(self.bulk, self.single)


def test_vecvec_shape_small():
    t = Twin()
    t.malloc_one(24 * 1000)
    addrs = t.malloc_run(4, 1000)
    t.free_run(addrs, 32)
    t.free_one(random.Random(0))
    assert t.bulk.mallinfo2().smblks == 993


def test_runs_are_compact():
    m = Malloc()
    (b,) = m.malloc_run(4, 200_000)
    assert b.count == 200_000 and b.stride == 32
    assert len(m._size) < 10 and len(m._runs) == 1
    m.free_run(b.addr, b.stride, b.count)
    assert len(m._size) < 20 and len(m._runs) == 1
    assert m.mallinfo2().smblks == 200_000 - 7
    m.check()


def test_block_iteration():
    assert list(Block(0x1010, 32, 2)) == [0x1010, 0x1030]
    assert list(Block(0, 0, 2)) == [0, 0]


@settings(max_examples=60)
@given(seed=st.integers(0, 2**32), n=st.sampled_from([0, 1, 4, 24, 25, 40, 100, 120, 200, 1000, 2000]),
       count=st.integers(0, 3000), before=st.integers(0, 12), after=st.integers(0, 25),
       top_pad=st.sampled_from([None, 0, 4096]), glibc=st.sampled_from(sorted(RELEASES)))
def test_bulk_equals_single_steps(seed, n, count, before, after, top_pad, glibc):
    rng = random.Random(seed)
    t = Twin(glibc)
    if top_pad is not None:
        for m in (t.bulk, t.single):
            m.mallopt(M_TOP_PAD, top_pad)
            m.mallopt(M_TRIM_THRESHOLD, 65536)
    for _ in range(before):
        if rng.random() < 0.5:
            t.malloc_one(rng.choice([4, 24, 100, 3000]))
        else:
            t.op(rng)
    addrs = t.malloc_run(n, count)
    for _ in range(rng.randrange(3)):
        t.op(rng)
    stride = addrs[1] - addrs[0] if len(addrs) > 1 else 32
    # free a stretch of the run in address order (maybe not all of it)
    lo = rng.randrange(max(1, len(addrs)))
    hi = rng.randrange(lo, len(addrs) + 1) if addrs else 0
    stretch = [p for p in addrs[lo:hi] if p in t.live]
    if stretch and all(b - a == stride for a, b in zip(stretch, stretch[1:])):
        t.free_run(stretch, stride)
    for _ in range(after):
        r = rng.random()
        if r < 0.3:
            t.free_one(rng)
        elif r < 0.45:
            t.malloc_one(rng.choice([4, 24, 40]))
        else:
            t.op(rng)


@settings(max_examples=30)
@given(seed=st.integers(0, 2**32), count=st.integers(8, 5000), cut=st.integers(0, 100),
       glibc=st.sampled_from(sorted(RELEASES)))
def test_pieces_and_reuse(seed, count, cut, glibc):
    """Runs made and freed in pieces, then taken apart by mallocs of the same size."""
    rng = random.Random(seed)
    t = Twin(glibc)
    addrs = t.malloc_run(4, count)
    k = min(cut, count)
    t.free_run(addrs[:k], 32) if k else None
    if k < count:
        t.free_run(addrs[k:], 32)
    for _ in range(rng.randrange(1, 40)):
        t.malloc_one(rng.choice([4, 24, 1200]))
    again = t.malloc_run(4, rng.randrange(0, count))
    if len(again) > 1:
        run = [p for p in again if p]
        if all(b - a == 32 for a, b in zip(run, run[1:])):
            t.free_run(run, 32)
    for _ in range(10):
        t.op(rng)


def test_small_ram_falls_back_to_exact_single_steps():
    """With little RAM the page writes' order matters: the bulk model then steps singly."""
    from memlab.space import AddressSpace

    a = Malloc(AddressSpace(ram=64 * 4096, swap=1 << 24))
    b = Malloc(AddressSpace(ram=64 * 4096, swap=1 << 24))
    blocks = a.malloc_run(4, 20_000)
    assert [p for blk in blocks for p in blk] == [b.malloc(4) for _ in range(20_000)]
    assert a.space.swapped_ranges() == b.space.swapped_ranges() and a.space.swap > 0
    same(a, b)


def test_check_notices_a_lost_fast_run():
    m = Malloc()
    (blk,) = m.malloc_run(4, 100)
    m.free_run(blk.addr, blk.stride, blk.count)
    m.check()
    m._runs.deep[0].pop(0)                    # the run vanishes from its fastbin
    try:
        m.check()
    except AssertionError as e:
        assert "fast" in str(e)
    else:
        raise AssertionError("check() missed a fast run that is in no fastbin")


@settings(max_examples=10)
@given(n=st.sampled_from([4, 40, 100, 1000, 3000]), count=st.integers(1, 3000),
       pad=st.sampled_from([-4096, -1]))
def test_bulk_through_non_contiguous_growth(n, count, pad):
    """A negative M_TOP_PAD sends growth to the mmap fallback: new regions and fenceposts."""
    t = Twin()
    for m in (t.bulk, t.single):
        m.mallopt(M_TOP_PAD, pad)
    t.malloc_one(10)
    addrs = t.malloc_run(n, count)
    t.malloc_run(24, 100)
    live = [p for p in addrs if p]
    if len(live) > 1 and all(b - a == live[1] - live[0] for a, b in zip(live, live[1:])):
        t.free_run(live, live[1] - live[0])


@pytest.mark.slow
@settings(max_examples=8)
@given(seed=st.integers(0, 2**32), count=st.integers(50_000, 150_000))
def test_large_runs_equal_single_steps(seed, count):
    rng = random.Random(seed)
    t = Twin()
    t.malloc_one(24 * count)
    addrs = t.malloc_run(4, count)
    for _ in range(5):
        t.op(rng)
    alive = set(t.live)
    live = [p for p in addrs if p in alive]
    if len(live) > 1 and all(b - a == 32 for a, b in zip(live, live[1:])):
        t.free_run(live, 32)
    for _ in range(20):
        t.op(rng)


def _outcome(m: Malloc, call, *args):
    """What the call does: its result, or the message of the abort it raises."""
    try:
        return ("ok", call(m, *args))
    except Exception as e:                    # MallocAbort and UndefinedBehavior both count
        return (type(e).__name__, str(e))


@settings(max_examples=40)
@given(glibc=st.sampled_from(sorted(RELEASES)), n=st.sampled_from([4, 200, 1000]),
       count=st.integers(20, 400), picks=st.lists(st.floats(0, 1), min_size=1, max_size=6),
       offset=st.sampled_from([0, 16, -16, 8]))
def test_misuse_after_bulk_merges_reads_the_same_stale_words(glibc, n, count, picks, offset):
    """After a bulk free that merged its chunks, a double free, a free of a shifted pointer or a
    realloc of a freed block inside the merged chunk meets the words single steps left."""
    t = Twin(glibc)
    t.malloc_one(24 * 1000)
    addrs = t.malloc_run(n, count)
    t.malloc_one(24)                          # keeps the run away from top
    t.free_run(addrs, addrs[1] - addrs[0])
    for x in picks:
        p = addrs[min(int(x * count), count - 1)] + offset
        for call in (lambda m, q: m.free(q), lambda m, q: m.realloc(q, 10)):
            assert _outcome(t.bulk, call, p) == _outcome(t.single, call, p)
            same(t.bulk, t.single)
