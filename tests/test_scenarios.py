"""Tests for memlab.scenarios and its helpers (scenarios_costs, _report, _real), held against real glibc."""

import pytest
from hypothesis import given, strategies as st

from memlab.scenarios import (
    DYNAMIC_THRESHOLD, PUSH_BACK, RESERVE, SCENARIOS, SMALL_REQUESTS, TWO_SOURCES, VECVEC,
    Param, push_back_capacities, reserve, scenario, small_requests, two_sources,
    vecvec,
)
from memlab.scenarios.costs import malloc_cost, mmap_every_request_cost, odd_sizes
from memlab.scenarios.report import FIELDS, run_scenario
from memlab.trace import parse_trace


def heap_ops(ops):
    """(kind, id, size) of the malloc/free operations, in order."""
    return [(op.kind, op.id, op.size) for op in ops if op.kind in ("malloc", "free")]


def assert_balanced(ops):
    """Every block is freed exactly once, after it was allocated, and nothing is left live."""
    live = set()
    for kind, ident, _ in heap_ops(ops):
        if kind == "malloc":
            assert ident not in live, f"id {ident} allocated twice"
            live.add(ident)
        else:
            assert ident in live, f"id {ident} freed while not live"
            live.remove(ident)
    assert not live


class TestParam:
    """A Param rejects bad ranges and out-of-range values, naming itself."""

    def test_default_outside_range(self):
        with pytest.raises(ValueError, match="default 5 outside"):
            Param("n", 10, 20, 1, 5, "x")

    def test_step_must_be_positive(self):
        with pytest.raises(ValueError, match="step"):
            Param("n", 1, 20, 0, 5, "x")

    def test_value_outside_range(self):
        with pytest.raises(ValueError, match="n = 21"):
            Param("n", 1, 20, 1, 5, "x").check(21)

    def test_value_not_int(self):
        with pytest.raises(TypeError, match="n must be an int"):
            Param("n", 1, 20, 1, 5, "x").check(2.0)


class TestScenario:
    """A Scenario fills defaults, rejects unknown names and echoes its configuration first."""

    def test_unknown_parameter(self):
        with pytest.raises(TypeError, match="no parameter m"):
            VECVEC.text(m=3)

    def test_defaults_used(self):
        assert VECVEC.values() == {"n": VECVEC.params[0].default}

    def test_header_names_the_configuration(self):
        assert SMALL_REQUESTS.text(n=3, size=7).splitlines()[0] == "# small_requests: n=3 size=7"

    def test_registry(self):
        assert set(SCENARIOS) == {"vecvec", "push_back", "reserve", "small_requests",
                                  "two_sources", "dynamic_threshold", "worker_threads"}
        assert scenario("vecvec") is VECVEC
        with pytest.raises(KeyError, match="no scenario 'nope'"):
            scenario("nope")

    @pytest.mark.parametrize("s", list(SCENARIOS.values()), ids=lambda s: s.name)
    def test_every_scenario_parses_and_is_balanced(self, s):
        ops = s.build()
        assert ops == parse_trace(s.text())
        assert_balanced(ops)

    def test_save(self, tmp_path):
        path = RESERVE.save(str(tmp_path / "r.trace"), n=3)
        assert open(path).read() == RESERVE.text(n=3)


class TestVecvec:
    """vecvec(n): the outer block of 24*n bytes, n blocks of 4, inner freed in order, outer last."""

    def test_three(self):
        assert heap_ops(VECVEC.build(n=3)) == [
            ("malloc", 0, 72), ("malloc", 1, 4), ("malloc", 2, 4), ("malloc", 3, 4),
            ("free", 1, None), ("free", 2, None), ("free", 3, None), ("free", 0, None)]

    @given(st.integers(1, 300))
    def test_counts(self, n):
        ops = VECVEC.build(n=n)
        sizes = [size for kind, _, size in heap_ops(ops) if kind == "malloc"]
        assert sizes == [24 * n] + [4] * n
        assert_balanced(ops)


class TestPushBack:
    """push_back(n): capacities double from 1; each new block before the old one is freed."""

    def test_capacities(self):
        assert push_back_capacities(1) == (1,)
        assert push_back_capacities(1000) == tuple(2**k for k in range(11))

    def test_bad_n(self):
        with pytest.raises(ValueError, match="n must be an int >= 1"):
            push_back_capacities(0)

    @given(st.integers(1, 5000))
    def test_growth(self, n):
        ops = PUSH_BACK.build(n=n)
        mallocs = [size for kind, _, size in heap_ops(ops) if kind == "malloc"]
        assert mallocs[0] == 4
        assert all(b == 2 * a for a, b in zip(mallocs, mallocs[1:]))
        assert 4 * n <= mallocs[-1] < 8 * n or mallocs[-1] == 4
        # at most two blocks are ever live at once
        live = peak = 0
        for kind, _, _ in heap_ops(ops):
            live += 1 if kind == "malloc" else -1
            peak = max(peak, live)
        assert peak == (2 if n > 1 else 1)
        assert_balanced(ops)


class TestOthers:
    """reserve, small_requests, two_sources and dynamic_threshold give the documented sequences."""

    def test_reserve(self):
        assert heap_ops(RESERVE.build(n=250_000)) == [("malloc", 0, 1_000_000), ("free", 0, None)]

    def test_small_requests(self):
        assert heap_ops(SMALL_REQUESTS.build(n=2, size=17)) == [
            ("malloc", 0, 17), ("malloc", 1, 17), ("free", 0, None), ("free", 1, None)]

    def test_two_sources(self):
        assert heap_ops(TWO_SOURCES.build(size=8192)) == [
            ("malloc", 0, 8192), ("malloc", 1, 2000), ("free", 0, None), ("free", 1, None)]

    def test_dynamic_threshold(self):
        mib = 1 << 20
        assert heap_ops(DYNAMIC_THRESHOLD.build()) == [
            ("malloc", 0, mib), ("free", 0, None), ("malloc", 1, mib), ("free", 1, None)]

    def test_snapshot_labels(self):
        labels = [op.label for op in DYNAMIC_THRESHOLD.build() if op.kind == "snapshot"]
        assert labels == ["first live", "first freed", "second live", "second freed"]


class TestMmapEveryRequest:
    """Each request costs whole pages and two system calls."""

    def test_one_byte(self):
        c = mmap_every_request_cost([1])
        assert (c.mapped, c.wasted, c.syscalls) == (4096, 4095, 2)

    def test_exact_pages_waste_nothing(self):
        assert mmap_every_request_cost([4096, 8192]).wasted == 0

    def test_bad_size(self):
        with pytest.raises(ValueError, match=r"sizes\[1\]"):
            mmap_every_request_cost([8, 0])

    @given(st.lists(st.integers(1, 10**6), max_size=50))
    def test_waste_below_a_page_each(self, sizes):
        c = mmap_every_request_cost(sizes)
        assert 0 <= c.wasted < 4096 * max(len(sizes), 1)
        assert c.mapped % 4096 == 0
        assert c.syscalls == 2 * len(sizes)

    def test_odd_sizes_seeded(self):
        assert odd_sizes(50, seed=7) == odd_sizes(50, seed=7)
        assert odd_sizes(50, seed=7) != odd_sizes(50, seed=8)


# ---------------------------------------------------------------------------------------------
# The model against the real glibc. Numbers written out below were measured with memlab's C
# replayer on Debian 12's glibc 2.36 (and agree with GLIBC-FACTS.md's appendix where it has them).



SMALL_CASES = [(VECVEC, {"n": 300}), (VECVEC, {"n": 6000}), (PUSH_BACK, {"n": 70_000}),
               (RESERVE, {"n": 40_000}), (SMALL_REQUESTS, {"n": 500, "size": 130}),
               (TWO_SOURCES, {"size": 100_000}), (TWO_SOURCES, {"size": 200_000}),
               (DYNAMIC_THRESHOLD, {})]


class TestAgainstRealGlibc:
    """Every snapshot of every scenario equals the real glibc 2.36's, field for field."""

    @pytest.mark.parametrize("s, values", SMALL_CASES,
                             ids=[f"{s.name}-{v}" for s, v in SMALL_CASES])
    def test_snapshots_equal(self, s, values, glibc_236):
        from memlab.native import replay_native

        model = run_scenario(s, **values).snapshots
        real = replay_native(s.build(**values))
        assert [label for label, _ in model] == [r["label"] for r in real]
        for (label, snap), r in zip(model, real):
            assert {f: snap[f] for f in FIELDS} == {f: r[f] for f in FIELDS}, label

    def test_malloc_cost_heap_matches_real(self, glibc_236):
        from memlab.native import replay_native

        sizes = odd_sizes(2000, seed=5)
        cost = malloc_cost(sizes)
        text = "".join(f"a {i} {n}\n" for i, n in enumerate(sizes)) + "s built\n"
        built = replay_native(parse_trace(text))[0]
        assert (cost.peak_heap, cost.peak_used) == (built["arena"] + built["hblkhd"],
                                                    built["uordblks"] + built["hblkhd"])


class TestLessonFacts:
    """The numbers the lessons state, from the model, equal those measured on real glibc 2.36."""

    def test_vecvec_keeps_the_heap(self):
        o = run_scenario(VECVEC, n=10_000)
        assert o.snapshot("built")["hblkhd"] == 241_664
        assert {k: o.end[k] for k in ("brk", "hblkhd", "uordblks", "smblks", "rss")} == {
            "brk": 405_504, "hblkhd": 0, "uordblks": 880, "smblks": 9_993, "rss": 323_584}
        assert dict(o.free_paths) == {"free-fastbin": 9_993, "free-tcache": 7, "munmap": 1}
        assert (o.released_munmap, o.released_brk) == (241_664, 0)

    def test_vecvec_then_trim_shrinks_to_a_page(self):
        from memlab.glibc import Malloc
        from memlab.replay import replay

        ops = parse_trace(VECVEC.text(n=10_000) + "t 0\n")
        assert replay(ops, Malloc)[-1].brk == 4096

    def test_dynamic_threshold(self):
        o = run_scenario(DYNAMIC_THRESHOLD)
        live, freed = o.snapshot("second live"), o.snapshot("second freed")
        assert (live["brk"], live["uordblks"], live["fordblks"]) == (1_183_744, 1_049_248, 134_496)
        assert (freed["brk"], freed["fordblks"], freed["rss"]) == (1_183_744, 1_183_088, 1_052_672)
        assert o.snapshot("first freed")["rss"] == 4096

    def test_push_back_and_reserve(self):
        pb = run_scenario(PUSH_BACK, n=100_000)
        assert pb.snapshot("built")["hblkhd"] == 528_384
        assert (pb.end["brk"], pb.end["rss"]) == (135_168, 135_168)
        rs = run_scenario(RESERVE, n=100_000)
        assert rs.snapshot("built")["hblkhd"] == 401_408
        assert rs.end["rss"] == 4096

    def test_two_sources(self):
        low = run_scenario(TWO_SOURCES, size=100_000)
        assert [snap["rss"] for _, snap in low.snapshots] == [106_496] * 3
        high = run_scenario(TWO_SOURCES, size=200_000)
        assert high.snapshot("first freed")["rss"] == 4096

    def test_131072_comes_from_the_heap(self):
        from memlab.glibc import Malloc

        m = Malloc()
        m.malloc(131_072)
        assert m.last_note.path == "top"
        assert m.mallinfo2().hblks == 0

    def test_first_malloc(self):
        cost = malloc_cost([1])
        assert (cost.peak_heap, cost.peak_used) == (135_168, 688)


class TestWithMax:
    """with_max widens a parameter's range without touching the original scenario."""

    def test_widens(self):
        wide = VECVEC.with_max(n=10**8)
        assert wide.params[0].max == 10**8 and VECVEC.params[0].max == 10_000
        assert wide.values(n=50_000) == {"n": 50_000}
        with pytest.raises(ValueError, match="outside"):
            VECVEC.values(n=50_000)

    def test_unknown(self):
        with pytest.raises(TypeError, match="no parameter size"):
            VECVEC.with_max(size=3)


class TestOuterBlockSwitch:
    """The outer block fits the new heap's top up to n = 5,603 and is mapped from 5,604 (real 2.36)."""

    def test_switch(self):
        assert run_scenario(VECVEC, n=5_603).snapshot("built")["hblkhd"] == 0
        assert run_scenario(VECVEC, n=5_604).snapshot("built")["hblkhd"] == 135_168


class TestCompareReal:
    """compare_real puts model and real side by side, and explains when the real side is missing."""

    def test_without_a_compiler(self, monkeypatch):
        import memlab.native
        from memlab.native import NativeUnavailable
        from memlab.scenarios.real import compare_real

        def refuse(*args, **kwargs):
            raise NativeUnavailable("no C compiler (cc) found")

        monkeypatch.setattr(memlab.native, "replay_native", refuse)
        c = compare_real(RESERVE, n=10)
        assert c.rows == () and not c.matches
        assert "no C compiler" in c.report()

    def test_on_this_machine(self, glibc_236):
        from memlab.scenarios.real import compare_real

        c = compare_real(VECVEC, n=200)
        assert c.matches, c.report()
        assert c.real_glibc == "2.36" and "every number agrees" in c.report()


class TestLargestWithin:
    """largest_within doubles until the budget or the parameter's maximum stops it."""

    def test_stops_at_the_maximum(self):
        from memlab.scenarios.report import largest_within

        reach = largest_within(RESERVE.with_max(n=3000), "n", budget=30.0, start=1000)
        assert reach.value == 2000 and reach.estimate(4000) == pytest.approx(2 * reach.seconds)

    def test_unknown_parameter(self):
        from memlab.scenarios.report import largest_within

        with pytest.raises(KeyError, match="no parameter 'm'"):
            largest_within(VECVEC, "m")


class TestMalloptStopsTheDynamicThreshold:
    """Setting a threshold or the pad with mallopt keeps the second 1 MiB block mapped (GLIBC-FACTS 6.4)."""

    @pytest.mark.parametrize("settings, paths", [
        ({"M_TRIM_THRESHOLD": 262_144}, {"mmap": 2}),
        ({"M_TOP_PAD": 65_536}, {"mmap": 2}),
        ({"M_MXFAST": 64}, {"mmap": 1, "sbrk": 1}),
    ])
    def test_paths(self, settings, paths):
        assert dict(run_scenario(DYNAMIC_THRESHOLD, settings=settings).malloc_paths) == paths

    def test_real(self, glibc_236):
        from memlab.native import replay_native

        ops = parse_trace("o M_TRIM_THRESHOLD 262144\n" + DYNAMIC_THRESHOLD.text())
        second = [s for s in replay_native(ops) if s["label"] == "second live"][0]
        assert (second["hblks"], second["brk"]) == (1, 135_168)


class TestWritersRejectBadInput:
    """The trace writers name the bad argument."""

    @pytest.mark.parametrize("call, args, name", [
        (vecvec, (0,), "n"), (small_requests, (2, -1), "size"), (two_sources, (1.5,), "size"),
        (reserve, (True,), "n"),
    ])
    def test_bad(self, call, args, name):
        with pytest.raises(ValueError, match=f"{name} must be an int"):
            call(*args)


class TestOtherRelease:
    """compare_real can run the real side on another unpacked glibc release."""

    def test_glibc_243(self, glibc_236, release_root):
        """On glibc 2.43 one malloc(1) shows 32 bytes in use, not 688 (REAL-GLIBC.md)."""
        from memlab.scenarios.real import compare_real

        c = compare_real(SMALL_REQUESTS, n=1, size=1, fields=("uordblks",),
                         libc_dir=str(release_root("2.43")))
        assert c.real_glibc == "2.43"
        assert c.differences[0] == ("built", "uordblks", 688, 32)
