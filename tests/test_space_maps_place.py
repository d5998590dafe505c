"""MapTable.place's size-class index gives the same gap as walking every region from the top."""

import random

from hypothesis import given, settings, strategies as st

from memlab.space.maps import MapTable

PAGE = 4096
LOW, HIGH = 0x1000_0000, 0x2000_0000


def _scan(regions, length, low, high):
    """The top-down rule, written independently: highest gap in [low, high) holding length."""
    gap_end = high
    for s, e in sorted(regions, reverse=True):
        if s >= gap_end:
            continue
        if gap_end - max(e, low) >= length:
            return gap_end - length
        gap_end = s
        if gap_end <= low:
            return None
    return gap_end - length if gap_end - low >= length else None


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
            assert addr == _scan(list(t), length, LOW, HIGH)
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
            assert t.place(probe * PAGE, low, high) == _scan(list(t), probe * PAGE, low, high)


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
            assert addr == _scan(list(t), length, LOW, HIGH)
            t.add(addr, addr + length)
            live.append((addr, addr + length))
    t.check()
