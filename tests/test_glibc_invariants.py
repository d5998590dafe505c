"""The heap's invariants hold after every operation of random traces, and misuse changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from memlab.errors import MallocAbort
from memlab.glibc import Malloc, UndefinedBehavior
from memlab.space import SegmentationFault
from memlab.trace import parse_trace

from strategies import random_trace, traces


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
