"""The stale-word store behaves like a plain address -> word map with range deletes and copies."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from memlab.glibc.stale import StaleWords

BASE = 0x5555_5555_9000
addrs = st.integers(0, 6000).map(lambda k: BASE + 8 * k)          # ~12 pages of words
lengths = st.sampled_from([8, 16, 120, 1000, 4096, 5000, 20000])
ops = st.lists(st.one_of(
    st.tuples(st.just("put"), addrs, st.integers(0, 2**64 - 1)),
    st.tuples(st.just("forget"), st.integers(0, 48000).map(lambda k: BASE + k), lengths),
    st.tuples(st.just("move"), addrs, st.tuples(addrs, lengths)),
), max_size=60)


def contents(w: StaleWords) -> dict[int, int]:
    return {a: v for b in w._pages.values() for a, v in b.items()}


@settings(max_examples=200)
@given(ops)
def test_matches_a_plain_dict(program):
    w, ref = StaleWords(), {}
    for kind, a, arg in program:
        if kind == "put":
            w.put(a, arg)
            ref[a] = arg
        elif kind == "forget":
            w.forget(a, a + arg)
            ref = {k: v for k, v in ref.items() if not a <= k < a + arg}
        else:
            dst, n = arg
            w.move(a, dst, n)
            moved = {k + dst - a: v for k, v in ref.items() if a <= k < a + n}
            ref = {k: v for k, v in ref.items() if not dst <= k < dst + n}
            ref.update(moved)
        assert contents(w) == ref
        assert all(w._pages.values()), "an empty page bucket was left behind"
    assert len(w) == len(ref)
    for a in ref:
        assert w.get(a) == ref[a]
