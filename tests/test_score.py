"""Allocators students write (memlab.allocators), the checked replay that scores them, `memlab score`.

Truth: the glibc side of a score is held against the real glibc (every operation's snapshot
from the native replayer); the students' side is read from the address space, whose calls are
replayed here on the real kernel (tests/kernel_probe.c) with the same resident bytes after each;
the metrics are checked by hand on traces small enough to count.
"""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.allocators import ALIGNMENT, Allocator, Bump, Glibc, LeakTracer, Pool, Segregated
from memlab.allocators.segregated import SPAN
from memlab.cli import MESSAGE, main
from memlab.native import replay_native
from memlab.scenarios.scoring import TRACES, compare, format_scores, trace_text
from memlab.score import AllocatorFailed, entry_lines, score_trace
from memlab.space import AddressSpace
from memlab.units import PAGE, align_up

from strategies import hostile_traces, traces
from test_space_kernel import Probe, probe_binary  # noqa: F401  (a fixture)


# --- deliberately broken allocators ------------------------------------------------------------
class Overlapping(Allocator):
    def malloc(self, n):
        if not self.space.vsz:
            self.first = self.space.mmap(PAGE)
        return self.first

    def free(self, p):
        pass


class Misaligned(Segregated):
    def malloc(self, n):
        return super().malloc(n) + 8


class Unmapped(Allocator):
    def malloc(self, n):
        return 0x10000

    def free(self, p):
        pass


class TooShort(Allocator):
    """Maps one page, hands out blocks of any size from its start."""

    def malloc(self, n):
        return self.space.mmap(PAGE)

    def free(self, p):
        pass


class Raising(Bump):
    def free(self, p):
        raise KeyError(p)


class NoCopy(Bump):
    def realloc(self, p, n):
        q = self.malloc(n)
        self.free(p)
        return q


class Null(Bump):
    def malloc(self, n):
        return 0 if n > 100 else super().malloc(n)


class NotAnAddress(Bump):
    def malloc(self, n):
        return float(super().malloc(n))


class Negative(Bump):
    def malloc(self, n):
        return -16


class Exiting(Bump):
    def malloc(self, n):
        raise SystemExit(3)


class Endless(Bump):
    def malloc(self, n):
        return self.malloc(n)


TRACE = "# two blocks\na 0 100\n\na 1 200\nw 1\nr 0 5000\nf 1\nf 0\n"


@pytest.mark.parametrize("cls,message", [
    (Overlapping, "line 4 (a 1 200): Overlapping.malloc returned 0x7ffff7ffe000, which overlaps "
                  "the block of line 2 at 0x7ffff7ffe000"),
    (Misaligned, "line 2 (a 0 100): Misaligned.malloc returned 0x7ffff7ffef88, not 16-byte aligned"),
    (Unmapped, "line 2 (a 0 100): Unmapped.malloc returned 0x10000, but 0x10000 of its 100 bytes "
               "is not mapped"),
    (TooShort, "line 1 (a 0 5000): TooShort.malloc returned 0x7ffff7ffe000, but 0x7ffff7fff000 of "
               "its 5,000 bytes is not mapped"),
    (Raising, "line 6 (r 0 5000): Raising.realloc raised KeyError: 93824992251920"),
    (NoCopy, "line 6 (r 0 5000): NoCopy.realloc moved the block from 0x555555559010 to "
             "0x555555559170 without copying its first 100 bytes (Allocator.copy)"),
    (Null, "line 4 (a 1 200): Null.malloc returned NULL"),
    (NotAnAddress, "line 2 (a 0 100): NotAnAddress.malloc returned 93824992251920.0, not an address"),
    (Negative, "line 2 (a 0 100): Negative.malloc returned -0x10, not an address"),
    (Exiting, "line 2 (a 0 100): Exiting.malloc raised SystemExit: 3"),
    (Endless, "line 2 (a 0 100): Endless.malloc recursed without end"),
])
def test_a_broken_allocator_gets_one_line_naming_the_operation(cls, message):
    trace = "a 0 5000\n" if cls is TooShort else TRACE
    with pytest.raises(AllocatorFailed) as e:
        score_trace(trace, cls)
    assert str(e.value) == message
    assert "\n" not in str(e.value)


def test_a_size_of_less_default_realloc_and_a_large_memalign_are_reported():
    class Plain(Allocator):
        def malloc(self, n):
            return self.space.mmap(max(n, 1))

        def free(self, p):
            pass
    with pytest.raises(AllocatorFailed, match=r"^line 2 \(r 0 20\): Plain.realloc raised "
                                              r"NotImplementedError: Plain has no size_of"):
        score_trace("a 0 10\nr 0 20\n", Plain)
    with pytest.raises(AllocatorFailed, match=r"^line 1 \(m 0 64 10\): Bump.memalign raised "
                                              r"NotImplementedError: Bump does not serve memalign\(64"):
        score_trace("m 0 64 10\n", Bump)
    with pytest.raises(AllocatorFailed, match="^making the allocator raised TypeError"):
        score_trace("a 0 1\n", Pool)           # Pool needs the allocator it stands in front of


def test_the_examples_pass_every_check_on_every_default_trace():
    """Each example on each default trace; the wrappers on those below 10,000 operations."""
    for name in TRACES:
        text = trace_text(name)
        for factory in (Bump, Segregated):
            score_trace(text, factory, name)
        if text.count("\n") < 10_000:
            for factory in (lambda: Pool(Glibc()), lambda: LeakTracer(Bump()),
                            lambda: Pool(Segregated(), largest=4096)):
                score_trace(text, factory, name)


def test_entry_lines_skip_comments_blanks_and_a_rep_header():
    assert entry_lines("20000 2 3 1\n# c\n\na 0 1\n  \nf 0\n") == [4, 6]


# --- the metrics, counted by hand ----------------------------------------------------------------
def test_bump_metrics_by_hand():
    """Bump: a 16-byte header before each block, sizes rounded to 16, the heap from the break."""
    text = "a 0 100\nw 0\na 1 5000\nw 1\nf 0\na 2 24\nf 1\nf 2\n"
    s = score_trace(text, Bump)
    # heap after each op: 128; 128; 128+5024=5152; ...; +48 = 5200; ...; 0 (all freed)
    assert (s.ops, s.peak_payload, s.peak_heap) == (8, 5100, 2 * PAGE)
    # resident: header page 0 (op 1), block 0 (op 2) stays in page 0; header of 1 at 128 and
    # its bytes 144..5144: pages 0-1; the last free drops the break to the start: 0.
    rss = [PAGE, PAGE, PAGE, 2 * PAGE, 2 * PAGE, 2 * PAGE, 2 * PAGE, 0]
    assert (s.rss_peak, s.rss_end, s.returned) == (2 * PAGE, 0, 2 * PAGE)
    assert s.rss_mean == sum(rss) / len(rss)
    assert s.utilization == 5100 / 8192
    assert s.vsz_end == 0


def test_segregated_metrics_by_hand():
    """Two 24-byte blocks share a 32-byte span, a 5000-byte block gets two pages of its own."""
    text = "a 0 24\na 1 24\nw 1\na 2 5000\nw 2\nf 2\nf 0\n"
    s = score_trace(text, Segregated)
    assert (s.peak_payload, s.peak_heap) == (5048, SPAN + 2 * PAGE)
    # the span's top page is written by w 1 (and by free 0's link), the large block's two pages
    assert (s.rss_peak, s.rss_end, s.returned) == (3 * PAGE, PAGE, 2 * PAGE)
    assert s.vsz_end == SPAN


def test_glibc_side_metrics_by_hand():
    """glibc's first malloc maps 132 KiB of heap; a 200,000-byte block is mmapped, then unmapped."""
    s = score_trace("a 0 100\na 1 200000\nw 1\nf 1\n", Glibc)
    assert s.peak_heap == 135168 + align_up(200000 + 16)
    assert s.peak_payload == 200100 and s.vsz_end == 135168
    assert s.returned == align_up(200000 + 16)


def test_pool_keeps_what_it_pools():
    """A pool in front of glibc never frees: 1000 blocks of 1000 bytes stay in the heap."""
    text = "".join(f"a {i} 1000\nw {i}\n" for i in range(1000)) + \
        "".join(f"f {i}\n" for i in range(1000))
    alone, pooled = score_trace(text, Glibc), score_trace(text, lambda: Pool(Glibc()))
    assert alone.rss_end < 40 * PAGE and alone.vsz_end < 40 * PAGE      # trimmed back
    assert pooled.rss_end == pooled.rss_peak and pooled.vsz_end > 1000 * 1000


def test_leak_tracer_names_the_sites():
    t = LeakTracer(Segregated())
    t.site = "line 1"
    a = t.malloc(10)
    t.site = "line 2"
    t.malloc(20), t.malloc(20)
    t.free(a)
    assert t.report() == "2 blocks, 40 bytes alive, allocated at line 2"
    q = t.realloc(t.alive()[0].addr, 4000)
    assert [x.size for x in t.alive() if x.addr == q] == [4000]


def test_any_allocator_stands_in_for_glibc_in_a_timeline_and_a_dashboard_engine():
    from memlab.replay import timeline
    from memlab.widgets.run import Engine

    line = timeline("a 0 100\nw 0\nf 0\n", Segregated, progress=None)
    assert line.hblkhd == (0, SPAN, SPAN, 0) and line.uordblks == (0, 128, 128, 0)
    engine = Engine(allocator=Bump)
    assert isinstance(engine.new_malloc(), Bump) and engine.with_glibc("2.41").allocator is Bump
    t, model = engine.timeline(engine.parse("a 0 10\n"))
    assert isinstance(model, Bump) and t.arena == (0, 32)
    from memlab.widgets.dashboard import Dashboard

    d = Dashboard(lambda size: f"a 0 {size}\nw 0\nf 0\n", [("size", 16, 400_000, 16, 64, "bytes")],
                  charts=("heap", "timeline"), engine=Engine(allocator=Segregated), prefetch=False)
    d.set(size=200_000)
    d.step = 2
    assert d.timeline.hblkhd == (0, 200704, 200704, 0)


# --- the truth: the real kernel and the real glibc -----------------------------------------------
class _Recording(AddressSpace):
    """An AddressSpace that also notes every call an allocator makes on it."""

    def __init__(self):
        super().__init__()
        self.made = []

    def sbrk(self, delta):
        self.made.append(("sbrk", delta))
        return super().sbrk(delta)

    def mmap(self, length):
        p = super().mmap(length)
        self.made.append(("mmap", length, p))
        return p

    def munmap(self, addr, length):
        self.made.append(("munmap", addr, length))
        return super().munmap(addr, length)

    def touch(self, addr, length=1):
        self.made.append(("touch", addr, length))
        return super().touch(addr, length)


@pytest.mark.parametrize("cls", [Bump, Segregated])
@pytest.mark.parametrize("name", ["vecvec", "two_sources", "pinned"])
def test_the_allocators_system_calls_leave_the_kernel_with_the_same_resident_bytes(
        cls, name, probe_binary):
    """Each sbrk, mmap, munmap and write the allocator made, run on the real kernel: the process's
    Anonymous bytes change exactly as the model's RSS after every call."""
    space = _Recording()
    score_trace(trace_text(name), lambda: cls(space), name)
    probe = Probe(probe_binary)
    try:
        cur = probe.call("sbrk", 0)[0]
        probe.call("sbrk", (-cur) % PAGE)
        start, before = probe.call("sbrk", 0)
        model = AddressSpace()
        where: dict[int, int] = {}             # model mapping start -> real one
        compared = 0

        def real(addr):
            if addr >= model.heap_start and addr < align_up(model.brk) + PAGE:
                return start + (addr - model.heap_start)
            base = max(b for b in where if b <= addr)
            return where[base] + (addr - base)
        for call in space.made:
            if call[0] == "sbrk":
                result, anon = probe.call("sbrk", call[1])
                assert result - start == model.sbrk(call[1]) - model.heap_start
            elif call[0] == "mmap":
                result, anon = probe.call("mmap", call[1])
                where[model.mmap(call[1])] = result
            elif call[0] == "munmap":
                result, anon = probe.call("munmap", real(call[1]), call[2])
                model.munmap(call[1], call[2])
            else:
                result, anon = probe.call("touch", real(call[1]), call[2])
                model.touch(call[1], call[2])
            assert result >= 0, call
            assert anon - before == model.rss, call
            compared += 1
        assert compared >= 6 and model.rss == space.rss
    finally:
        probe.close()


@pytest.mark.parametrize("name", list(TRACES))
def test_the_glibc_side_of_a_score_is_the_real_glibcs(name, glibc_236):
    """Peak heap, resident bytes (peak, mean, end) of the glibc column, from the real glibc's
    snapshot after every operation."""
    text = trace_text(name)
    mine = score_trace(text, Glibc, name)
    snaps = replay_native(text.encode(), every=1)
    per_op = {}
    for s in snaps:
        per_op[s["op"]] = s                          # the last snapshot of each op
    rows = [per_op[k] for k in sorted(per_op) if k > 0]
    heap = [align_up(s["brk"]) + s["hblkhd"] for s in rows]
    rss = [s["rss"] for s in rows]
    assert len(rows) == mine.ops
    assert mine.peak_heap == max(heap)
    assert (mine.rss_peak, mine.rss_end) == (max(rss), rss[-1])
    assert mine.rss_mean == pytest.approx(sum(rss) / len(rss), rel=0, abs=1e-6)


# --- the command line ----------------------------------------------------------------------------
def run(args, capsys):
    out = io.StringIO()
    code = main(["score", *args], out)
    return code, out.getvalue(), capsys.readouterr().err


@pytest.fixture
def files(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


GOOD = "from memlab.allocators import Segregated, Bump\n\nclass Mine(Segregated):\n    pass\n"


def test_score_prints_both_columns_per_trace(files, capsys):
    path, trace = files("mine.py", GOOD), files("t.trace", "a 0 100\nw 0\nf 0\n")
    code, out, err = run([path, trace], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["trace", "allocator", "ops", "util"]
    assert [line.split()[1] for line in lines[1:]] == ["Mine", "glibc"]
    assert lines[2].split()[2] == "2.36"


def test_score_defaults_to_the_lessons_traces(files, capsys):
    code, out, _ = run([files("mine.py", GOOD)], capsys)
    assert code == 0
    assert len(out.splitlines()) == 1 + 2 * len(TRACES)


@pytest.mark.parametrize("text,code,message", [
    ("def f(:\n", 2, "mine.py: line 1: "),
    ("x = 1\n", 2, "mine.py defines no subclass of memlab.allocators.Allocator"),
    ("raise RuntimeError('boom')\n", 2, "mine.py: running it raised RuntimeError: boom"),
    ("from memlab.allocators import Bump\nclass A(Bump): pass\nclass B(Bump): pass\n", 2,
     "defines 2 allocators (A, B): pick one with --class NAME"),
    ("from memlab.allocators import Bump\nclass A(Bump):\n    def free(self, p): 1 / 0\n", 1,
     "t.trace: line 3 (f 0): A.free raised ZeroDivisionError: division by zero"),
])
def test_score_refuses_odd_input_in_one_line(files, capsys, text, code, message):
    trace = files("t.trace", "a 0 100\nw 0\nf 0\n")
    got, out, err = run([files("mine.py", text), trace], capsys)
    assert got == code and out == ""
    assert err.startswith("memlab: ") and err.count("\n") == 1 and message in err, err


def test_score_refuses_a_missing_file_a_bad_trace_and_an_unknown_class(files, capsys, tmp_path):
    good = files("mine.py", GOOD)
    assert run([str(tmp_path / "none.py")], capsys)[::2] == (2, "memlab: no allocator file "
                                                                f"{str(tmp_path / 'none.py')!r}\n")
    code, _, err = run([good, files("bad.trace", "a 0 1\nq\n")], capsys)
    assert code == 2 and "bad.trace: line 2: " in err and err.count("\n") == 1
    code, _, err = run([good, "--class", "Other"], capsys)
    assert code == 2 and "defines no Allocator subclass named 'Other'" in err
    code, out, _ = run([good, files("t.trace", "a 0 1\n"), "--class", "Mine", "--glibc", "2.43"],
                       capsys)
    assert code == 0 and "glibc 2.43" in out


def test_format_scores_has_one_row_per_score():
    rows = compare(Bump, {"t": "a 0 1\n"})
    assert len(format_scores(rows).splitlines()) == 3
    assert ALIGNMENT == 16


# --- odd input on the command line, at random --------------------------------------------------
BEHAVIOURS = [
    "return super().malloc(n)",
    "return -1",
    "return None",
    "return 'x'",
    "return 2**70",
    "return super().malloc(n) + 1",
    "raise MemoryError('no more')",
    "raise SystemExit(3)",
    "return self.malloc(n)",
    "return self.space.mmap(-1)",
    "return self.space.sbrk(-10**9)",
    "import os; return super().malloc(n) if n < 100 else 0",
]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow,
                                                  HealthCheck.function_scoped_fixture])
@given(text=st.one_of(hostile_traces(max_lines=8, max_digits=30),
                      st.just("a 0 10\nw 0\nr 0 5000\nc 1 3 7\nf 0\na 2 100000000000000\n")),
       behaviour=st.sampled_from(BEHAVIOURS))
def test_score_of_odd_allocators_on_hostile_traces_is_one_line(tmp_path, text, behaviour):
    """Any trace text and any misbehaving malloc: status 0, 1 or 2, one line, no traceback."""
    source = ("from memlab.allocators import Segregated\n\nclass Odd(Segregated):\n"
              f"    def malloc(self, n):\n        {behaviour}\n")
    alloc, trace = tmp_path / "odd.py", tmp_path / "t.trace"
    alloc.write_text(source)
    trace.write_text(text, encoding="utf-8", errors="surrogateescape")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["score", str(alloc), str(trace)], out)
    err = err.getvalue()
    assert status in (0, 1, 2), (status, err)
    assert "Traceback" not in err and "internal error" not in err, err
    if status:
        assert err.count("\n") == 1 and err.startswith("memlab: ") and len(err) <= MESSAGE + 9, err
    else:
        assert err == "" and out.getvalue().startswith("trace ")


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(text=traces(max_ops=120))
def test_the_examples_pass_every_check_on_random_traces(text):
    """Random traces of every operation: the examples never break a rule (memalign above 16
    bytes, which they do not serve, is left out); glibc's model never does either."""
    text = "".join(line + "\n" for line in text.splitlines()
                   if not (line.startswith("m ") and int(line.split()[2]) > 16))
    for factory in (Bump, Segregated, Glibc, lambda: Pool(Glibc()),
                    lambda: LeakTracer(Segregated())):
        score_trace(text, factory)


def test_null_is_allowed_only_for_what_no_address_space_holds():
    s = score_trace("c 0 4294967296 4294967296\na 1 10\n", Segregated)     # calloc overflows
    assert s.ops == 2 and s.peak_payload == 10
    with pytest.raises(AllocatorFailed, match=r"line 1 \(a 0 300\): Null.malloc returned NULL"):
        score_trace("a 0 300\n", Null)
