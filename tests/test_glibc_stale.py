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
    st.tuples(st.just("forget_row"), addrs, st.tuples(st.sampled_from([8, 16, 32, 48]), st.integers(0, 300))),
    st.tuples(st.just("row"), addrs, st.tuples(st.sampled_from([8, 16, 32, 48, 4096]), st.integers(0, 300),
                                                st.integers(0, 2**20), st.sampled_from([0, 16, -16, 32]))),
), max_size=60)


def contents(w: StaleWords) -> dict[int, int]:
    items = w.items()
    assert len({a for a, _ in items}) == len(items), "an address is held twice"
    return dict(items)


@settings(max_examples=300)
@given(ops)
def test_matches_a_plain_dict(program):
    w, ref = StaleWords(), {}
    for kind, a, arg in program:
        if kind == "put":
            w.put(a, arg)
            ref[a] = arg
        elif kind == "row":
            stride, count, word, step = arg
            w.put_row(a, stride, count, word, step)
            ref.update({a + i * stride: (word + i * step) % 2**64 for i in range(count)})
        elif kind == "forget_row":
            stride, count = arg
            w.forget_row(a, stride, count)
            for i in range(count):
                ref.pop(a + i * stride, None)
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


def test_rows_are_kept_compact():
    w = StaleWords()
    w.put_row(BASE, 32, 1_000_000, 64, 32)
    w.put_row(BASE + 8, 32, 1_000_000, 32, 0)
    assert len(w) == 2_000_000 and not w._pages and len(w._rows) == 2
    assert w.get(BASE + 32 * 999_999) == 64 + 32 * 999_999 and w.get(BASE + 8 + 32 * 5) == 32
    w.forget(BASE + 32 * 10, BASE + 32 * 20)                  # cuts both rows in two
    assert len(w._rows) == 4 and len(w) == 2_000_000 - 20
    assert w.get(BASE + 32 * 15) is None and w.get(BASE + 32 * 20) == 64 + 32 * 20


def test_bad_row_is_refused():
    import pytest
    with pytest.raises(ValueError, match="stride"):
        StaleWords().put_row(BASE, 12, 5, 0, 0)
