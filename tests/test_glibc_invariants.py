"""The heap's invariants hold after every operation of random traces, and misuse changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from memlab.errors import MallocAbort
from memlab.glibc import Malloc, UndefinedBehavior
from memlab.space import SegmentationFault
from memlab.replay import Replayer
from memlab.trace import parse_trace, read_trace

from strategies import random_trace, threaded_trace, threaded_traces, traces


def run_checked(text: str) -> Malloc:
    """Replay `text` on a fresh model, checking every invariant after each operation."""
    m = Malloc()
    ptr: dict[int, int] = {}
    req: dict[int, int] = {}
    for op in parse_trace(text):
        k = op.kind
        if k == "malloc":
            ptr[op.id] = m.malloc(op.size)
            req[op.id] = op.size
        elif k == "free":
            m.free(ptr.pop(op.id, 0))
        elif k == "realloc":
            r = m.realloc(ptr.get(op.id, 0), op.size)
            if r or op.size == 0:
                ptr[op.id] = r
                req[op.id] = op.size
        elif k == "calloc":
            ptr[op.id] = m.calloc(op.nmemb, op.size)
            req[op.id] = op.nmemb * op.size
        elif k == "memalign":
            ptr[op.id] = m.memalign(op.align, op.size)
            req[op.id] = op.size
        elif k == "write":
            if ptr.get(op.id) and req.get(op.id):
                m.space.touch(ptr[op.id], req[op.id])
        elif k == "trim":
            m.malloc_trim(op.pad)
        elif k == "mallopt":
            m.mallopt(op.param, op.value)
        m.check()
        m.space.check()
    return m


@settings(max_examples=60)
@given(traces(max_ops=120))
def test_invariants_hold_on_random_traces(text):
    run_checked(text)


def run_threaded_checked(text: str, glibc: str = "2.36", every: int = 1) -> None:
    """Replay a threaded trace on the threaded model, checking every arena, heap, thread's
    tcache and the arena bookkeeping after every `every`-th operation."""
    r = Replayer(read_trace(text), Malloc(glibc=glibc))
    while r.step() is not None:
        if r.op % every == 0:
            try:
                r.malloc.check()
            except AssertionError as e:
                raise AssertionError(f"after op {r.op}: {e}") from None


@pytest.mark.parametrize("glibc", ["2.36", "2.41", "2.43"])
def test_invariants_hold_with_threads(glibc):
    @settings(max_examples=40, deadline=None)
    @given(threaded_traces(max_ops=80))
    def check(text):
        run_threaded_checked(text, glibc)

    check()
    run_threaded_checked(threaded_trace(120, seed=7), glibc, every=5)


def test_invariants_hold_on_a_long_trace():
    m = run_checked(random_trace(1500, seed=11, n_ids=60))
    assert m.mallinfo2().arena > 0


class TestCheckCatchesBreakage:
    """check() fails when the model's state is broken (so the invariant tests can fail)."""

    def test_counter_mismatch(self):
        m = Malloc()
        m.free(m.malloc(2000))
        m.malloc(10)
        m._bins.bytes += 16
        with pytest.raises(AssertionError):
            m.check()

    def test_overlap(self):
        m = Malloc()
        p = m.malloc(100)
        m._size[p - 16] += 16
        with pytest.raises(AssertionError):
            m.check()


@settings(max_examples=30)
@given(traces(max_ops=60))
def test_misuse_leaves_state_unchanged(text):
    m = run_checked(text)
    p = m.malloc(40)
    m.free(p)
    before = (m.mallinfo2(), list(m.chunks()), m.space.rss, m.space.brk)
    # with M_MMAP_THRESHOLD 0 the block was mmapped and is gone: reading its header faults
    for bad in (p, p + 8, p + 32):
        with pytest.raises((MallocAbort, UndefinedBehavior, SegmentationFault)):
            m.free(bad)
        assert (m.mallinfo2(), list(m.chunks()), m.space.rss, m.space.brk) == before
