"""MapTable.place follows the kernel's top-down rule for where a new mapping goes.

The rule, as Linux applies it between the heap's end and mmap_base: a new mapping of `length`
bytes ends at the top of the highest free gap that holds it. A gap's top is either the upper
bound itself or the start of the region just above the gap. The oracle below states exactly that,
by brute force over those candidate tops (it never walks the table as MapTable does).
"""

import bisect
import random

import pytest
from hypothesis import given, settings, strategies as st

from memlab.space.maps import MapTable
from memlab.units import PAGE

LOW, HIGH = 0x1000_0000, 0x2000_0000


def _rule(regions, length, low, high):
    """Highest start `t - length` over tops t (high, or a region's start) whose span is free.

    Regions do not overlap, so sorted by start their ends are sorted too: the span [t - length, t)
    is free when the last region starting below t ends at or below t - length.
    """
    regions = sorted(regions)
    starts = [s for s, _ in regions]

    def free(a, t):
        k = bisect.bisect_left(starts, t) - 1
        return k < 0 or regions[k][1] <= a

    tops = [high] + [s for s in starts if s <= high]
    return max((t - length for t in tops if t - length >= low and free(t - length, t)), default=None)


@pytest.mark.parametrize("length, expected", [(10, 30), (11, 9), (20, 0), (21, None)])
def test_place_by_hand(length, expected):
    """Regions [20, 30) and [40, 50) under a bound of 50: gaps [30, 40) and [0, 20)."""
    t = MapTable()
    t.add(20, 30)
    t.add(40, 50)
    assert t.place(length, 0, 50) == expected == _rule(list(t), length, 0, 50)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["map", "unmap", "grow"]),
                          st.integers(1, 64), st.integers(0, 4095)), max_size=60),
       st.integers(1, 96))
def test_place_matches_the_top_down_walk(steps, probe):
    t = MapTable()
    for what, pages, where in steps:
        length = pages * PAGE
        if what == "map":
            addr = t.place(length, LOW, HIGH)
            assert addr == _rule(list(t), length, LOW, HIGH)
            if addr is not None:
                t.add(addr, addr + length)
        elif what == "unmap" and len(t):
            s, e = list(t)[where % len(t)]
            a = s + (where % max(1, (e - s) // PAGE)) * PAGE
            t.remove(a, min(e, a + length))
        elif what == "grow" and len(t):
            s, e = list(t)[where % len(t)]
            nxt = t.next_start(e)
            room = (nxt if nxt is not None else HIGH) - e
            if room >= PAGE:
                t.extend(s, e + PAGE)
        t.check()
        for low, high in ((LOW, HIGH), (LOW + 64 * PAGE, HIGH - 64 * PAGE)):
            assert t.place(probe * PAGE, low, high) == _rule(list(t), probe * PAGE, low, high)


def test_many_mappings_with_holes():
    rng = random.Random(7)
    t, live = MapTable(), []
    for _ in range(3000):
        if live and rng.random() < 0.4:
            s, e = live.pop(rng.randrange(len(live)))
            t.remove(s, e)
        else:
            length = rng.randrange(1, 40) * PAGE
            addr = t.place(length, LOW, HIGH)
            assert addr == _rule(list(t), length, LOW, HIGH)
            t.add(addr, addr + length)
            live.append((addr, addr + length))
    t.check()
