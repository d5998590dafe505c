"""The Windows model (memlab.windows): placement, heaps, big blocks, HeapDestroy, bad calls.

These run always; tests/test_windows_wine.py holds the same relations against Wine.
"""

from __future__ import annotations

import random

import pytest

from memlab.scenarios.windows import FIXES, seed_run
from memlab.units import GiB, KiB, MiB
from memlab.windows import GRANULARITY, LARGE_BLOCK, PAGE, Process, WinApiError, block_size
from memlab.windows.facts import DEFAULT_IMAGES, EXE_BASE, SEGMENT_RESERVE


def test_a_fresh_process_holds_its_images_stack_and_process_heap():
    m = Process().view()
    kinds = [r.kind for r in m.regions]
    assert kinds.count("image") == len(DEFAULT_IMAGES) and kinds.count("stack") == 1
    assert [r.size for r in m.regions if r.kind == "heap"] == [SEGMENT_RESERVE]
    assert any(r.base == EXE_BASE for r in m.regions)
    assert m.free_total + sum(-(-r.size // GRANULARITY) * GRANULARITY for r in m.regions) \
        == m.high - m.low


def test_reservations_take_the_lowest_whole_granules_and_come_back():
    p = Process()
    a, b = p.virtual_alloc(1), p.virtual_alloc(70 * KiB)
    assert a % GRANULARITY == 0 and b == a + GRANULARITY
    c = p.virtual_alloc(1)
    assert c == b + 2 * GRANULARITY                   # 70 KiB take two granules
    p.virtual_free(a)
    assert p.virtual_alloc(GRANULARITY) == a          # the lowest hole first


def test_blocks_reuse_merge_and_carve():
    p = Process()
    h = p.heap_create()
    a, b, c = (h.alloc(100) for _ in range(3))
    assert b - a == c - b == block_size(100) == 112
    h.free(a)
    h.free(b)                                         # merged with a: one 224-byte free block
    assert h.alloc(200) == a                          # 208 bytes fit in it
    assert h.in_use == 208 + 112


def test_a_heap_grows_by_doubling_segments_and_commits_pages():
    p = Process()
    h = p.heap_create()
    h.alloc_many([60_000] * 100)                      # about 6 MiB
    sizes = [s for _, s in h.segments()]
    assert sizes == [1 * MiB, 2 * MiB, 4 * MiB]
    committed = {r.base: r.committed for r in p.view().regions}
    first, last = h.segments()[0][0], h.segments()[-1][0]
    assert 1 * MiB - block_size(60_000) <= committed[first] <= 1 * MiB
    assert 0 < committed[last] < 4 * MiB
    assert committed[last] % PAGE == 0


def test_big_blocks_have_their_own_region_and_leave_at_free():
    p = Process()
    h = p.heap_create()
    before = p.view()
    small = h.alloc(LARGE_BLOCK - 8)                  # exactly the limit with its header
    big = h.alloc(LARGE_BLOCK - 7)
    assert small in range(h.segments()[0][0], h.segments()[0][0] + SEGMENT_RESERVE)
    assert big % GRANULARITY == 32 and len(h.regions()) == 2
    h.free(big)
    assert p.view().free == before.free


def test_heap_destroy_gives_back_every_region():
    p = Process()
    before = p.view()
    h = p.heap_create()
    h.alloc_many([350] * 20_000 + [MiB])
    assert p.view().free_total < before.free_total
    p.heap_destroy(h)
    assert p.view() == before


@pytest.mark.parametrize("seed", range(5))
def test_bulk_calls_equal_single_calls(seed):
    rng = random.Random(seed)
    sizes = [rng.choice([rng.randint(1, 500), rng.randint(1, 200_000), 600 * KiB])
             for _ in range(400)]
    one, many = Process(), Process()
    h1, h2 = one.heap_create(), many.heap_create()
    single = [h1.alloc(n) for n in sizes]
    assert h2.alloc_many(sizes) == single and one.view() == many.view()
    drop = rng.sample(single, 200)
    for a in drop:
        h1.free(a)
    h2.free_many(drop)
    assert one.view() == many.view() and h1.in_use == h2.in_use
    again = [rng.randint(1, 3000) for _ in range(100)]
    assert h2.alloc_many(again) == [h1.alloc(n) for n in again]


def test_a_full_space_fails_cleanly():
    p = Process()
    assert p.virtual_alloc(3 * GiB) is None
    h = p.heap_create()
    before = p.view()
    assert h.alloc(1800 * MiB) is None               # a big block needs a region: none is that long
    assert p.view() == before and len(h.regions()) == 1


@pytest.mark.parametrize("call, message", [
    (lambda p, h: h.free(12345), "HeapFree: 0x3039 is no block of heap"),
    (lambda p, h: p.virtual_free(0x400000), "VirtualFree: 0x400000 is not the base"),
    (lambda p, h: p.heap_destroy(p.process_heap), "the process heap cannot be destroyed"),
    (lambda p, h: h.alloc(-1), "HeapAlloc of -1 bytes"),
])
def test_bad_calls_are_refused_in_one_line_and_change_nothing(call, message):
    p = Process()
    h = p.heap_create()
    h.alloc(100)
    before = p.view()
    with pytest.raises(WinApiError, match=message) as info:
        call(p, h)
    assert "\n" not in str(info.value) and p.view() == before


def test_a_destroyed_heap_refuses_calls_and_a_double_free_is_refused():
    p = Process()
    h = p.heap_create()
    a = h.alloc(10)
    h.free(a)
    with pytest.raises(WinApiError, match="no block"):
        h.free(a)
    p.heap_destroy(h)
    with pytest.raises(WinApiError, match="destroyed"):
        h.alloc(10)
    with pytest.raises(WinApiError, match="not a live heap"):
        p.heap_destroy(h)
    with pytest.raises(WinApiError, match="user space"):
        Process("1 GiB")


class TestSeedScenario:
    """Lesson 09's scenario: 1 GiB of 300-400-byte objects, half dropped, then 500 MiB."""

    @pytest.fixture(scope="class")
    @classmethod
    def runs(cls):
        return {fix: seed_run(1024 * MiB, 500 * MiB, fix) for fix in FIXES}

    def test_every_object_is_made_in_every_variant(self, runs):
        assert all(r.made == r.asked for r in runs.values())

    def test_the_big_block_fails_with_far_more_free_in_total(self, runs):
        run = runs["none"]
        m = run.stage("half dropped").map
        assert not run.big_ok and m.largest_free < 500 * MiB
        assert m.free_total + m.heap_free > 2 * 500 * MiB

    def test_each_fix_brings_it(self, runs):
        assert [runs[f].big_ok for f in FIXES] == [False, True, True, True, True]

    def test_dropping_objects_gives_no_address_space_back(self, runs):
        run = runs["none"]
        assert run.stage("half dropped").map.free == run.stage("built").map.free
