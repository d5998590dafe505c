"""The heap map's picture from bulk runs (Malloc.chunk_spans) equals the one from every chunk."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from memlab.charts.heap import HeapPicture
from memlab.glibc import Malloc


class _ChunksOnly:
    """The same model seen only through chunks(): the picture is built one chunk at a time."""

    def __init__(self, m):
        self.space = m.space
        self.chunks = m.chunks
        self.mmapped_chunks = m.mmapped_chunks


steps = st.lists(st.tuples(st.sampled_from(["run", "free_run", "malloc", "free_one"]),
                           st.integers(1, 3000), st.integers(1, 400)), max_size=8)


@settings(max_examples=40, deadline=None)
@given(steps=steps)
def test_spans_and_chunks_give_the_same_picture(steps):
    m = Malloc()
    blocks = []
    for kind, n, count in steps:
        if kind == "run":
            blocks += [b for b in m.malloc_run(n, count) if b.addr]
        elif kind == "malloc":
            m.malloc(n)
        elif blocks:
            b = blocks.pop(0)
            if kind == "free_run":
                m.free_run(b.addr, b.stride, b.count)
            else:
                m.free(b.addr)
                if b.count > 1:
                    blocks.insert(0, type(b)(b.addr + b.stride, b.stride, b.count - 1))
    assert HeapPicture.of(m) == HeapPicture.of(_ChunksOnly(m))


def test_a_hundred_million_chunks_are_a_few_runs():
    """10**8 chunks of a bulk model, half freed: the picture holds runs, not chunks."""
    m = Malloc()
    (b,) = m.malloc_run(24, 10**8)
    m.free_run(b.addr, b.stride, 10**8 // 2)
    picture = HeapPicture.of(m)
    assert len(picture.runs) <= 6
    assert sum(e - s for s, e, _ in picture.runs) == picture.brk - picture.heap_start
