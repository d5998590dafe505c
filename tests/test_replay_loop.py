"""Replayer.run (one loop over runs of operations) follows the same rules as step() one at a time."""

from hypothesis import given, settings, strategies as st

from memlab.glibc import Malloc
from memlab.replay import Replayer
from memlab.trace import Op

_line = st.one_of(
    st.builds(lambda i, n: f"a {i} {n}", st.integers(0, 5), st.sampled_from([0, 1, 24, 100, 1000, 140000])),
    st.builds(lambda i: f"f {i}", st.integers(0, 6)),
    st.builds(lambda i, n: f"r {i} {n}", st.integers(0, 5), st.sampled_from([0, 8, 500, 5000])),
    st.builds(lambda i, k, n: f"c {i} {k} {n}", st.integers(0, 5), st.integers(0, 3), st.integers(0, 64)),
    st.builds(lambda i: f"m {i} 64 100", st.integers(0, 5)),
    st.builds(lambda i: f"w {i}", st.integers(0, 6)),
    st.just("t 0"),
    st.just("o M_MMAP_THRESHOLD 4096"),
    st.builds(lambda k: f"s label{k}", st.integers(0, 3)),
)


def _state(r: Replayer):
    return (r.op, r.held, r.live, r.done, [s.as_dict() for s in r.snapshots])


@settings(max_examples=150, deadline=None)
@given(st.lists(_line, max_size=40), st.one_of(st.none(), st.integers(1, 4)),
       st.lists(st.integers(0, 45), max_size=4))
def test_run_matches_step(lines, every, stops):
    text = "\n".join(lines)
    one = Replayer(text, Malloc(), every)
    while one.step() is not None:
        pass
    many, ref = Replayer(text, Malloc(), every), Replayer(text, Malloc(), every)
    for stop in sorted(stops):
        many.run(stop)
        while not ref.done and ref.op < stop:     # what run(stop) means, one step at a time
            ref.step()
        assert _state(many) == _state(ref)
        assert str(many.step()) == str(ref.step())      # stepping on from where run stopped
        assert _state(many) == _state(ref)
    many.run()
    assert _state(many) == _state(one)
    assert many.malloc.mallinfo2() == one.malloc.mallinfo2()


class _Failing(Malloc):
    """Malloc whose k-th free raises, to check the replayer's counters after a failure."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self._left = k

    def free(self, p: int) -> None:
        self._left -= 1
        if self._left == 0:
            raise RuntimeError("stop here")
        super().free(p)


def test_a_failing_operation_leaves_the_same_counters():
    text = "a 0 10\na 1 20\ns x\nf 0\na 2 30\nf 1\nf 2\n"
    for k in (1, 2, 3):
        stepped, ran = Replayer(text, _Failing(k)), Replayer(text, _Failing(k))
        for r, go in ((stepped, lambda r: [r.step() for _ in range(10)]), (ran, lambda r: r.run())):
            try:
                go(r)
            except RuntimeError:
                pass
        assert (stepped.op, stepped.held, stepped.live, stepped.peek()) == \
               (ran.op, ran.held, ran.live, ran.peek())
        assert isinstance(ran.peek(), (Op, type(None)))
