"""Leak reports (memlab.leaks) held against the real Valgrind memcheck, class by class.

Every expected summary is memcheck's own: the real replayer performs the trace's pointer stores
in real blocks and runs under `valgrind --leak-check=full` (memlab.native.valgrind). The
hand-made traces show each class alone and each rule of docs/trace-format.md's "Pointers";
Hypothesis adds random pointer graphs (a few by default, hundreds with --run-slow).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings

from memlab.errors import TraceError
from memlab.glibc import Malloc
from memlab.leaks import CLASSES, Count, LeakSummary, PointerGraph, classify, leak_report
from memlab.cli import main
from memlab.native import NativeUnavailable, replay_native
from memlab.native.valgrind import valgrind as find_valgrind, valgrind_leaks
from memlab.replay import replay
from memlab.steps import replay_bulk
from memlab.trace import Op, format_trace, parse_trace
from strategies import pointer_traces

ROOT = Path(__file__).resolve().parents[1]
needs_valgrind = pytest.mark.usefixtures("valgrind")

#: name -> (trace, the class it shows: memcheck must report some bytes or blocks there).
EXAMPLES = {
    "reachable": ("a 0 40\np g 0 0\n", "still reachable"),
    "definite": ("a 0 40\n", "definitely lost"),
    "indirect": ("a 0 16\na 1 24\np 0 8 1\n", "indirectly lost"),
    "possible": ("a 0 40\np g 0 0 8\n", "possibly lost"),
    "start-pointer after an interior one": ("a 0 16\na 1 16\na 2 16\np g 0 0\np 0 0 1 8\np 1 0 2\n",
                                            "possibly lost"),
    "cycle, first block smaller": ("a 0 16\na 1 32\np 0 0 1\np 1 0 0\n", "indirectly lost"),
    "cycle, first block larger": ("a 0 32\na 1 16\np 0 0 1\np 1 0 0\n", "indirectly lost"),
    "a later leader joins an earlier clique": ("a 0 16\na 1 24\na 2 40\np 0 0 1\np 1 0 0\np 2 0 1\n",
                                               "definitely lost"),
    "overwritten root": ("a 0 16\na 1 16\np g 0 0\np g 0 1\n", "definitely lost"),
    "cleared root": ("a 0 16\np g 8 0\np g 8\n", "definitely lost"),
    "freed holder": ("a 0 16\na 1 24\np 0 0 1\np g 0 0\nf 0\n", "definitely lost"),
    "realloc carries pointers": ("a 0 16\na 1 24\np 0 8 1\nr 0 64\np g 0 0\n", "still reachable"),
    "realloc shrinks past a pointer": ("a 0 32\na 1 24\np 0 16 1\nr 0 16\np g 0 0\n", "definitely lost"),
    "realloc leaves old pointers dangling": ("a 0 16\np g 0 0\nr 0 32\n", "definitely lost"),
    "write overwrites pointers": ("a 0 16\na 1 8\np 0 0 1\np g 0 0\nw 0\n", "definitely lost"),
    "empty block": ("a 0 0\np g 0 0\n", "still reachable"),
    "past the end is no pointer": ("a 0 16\np g 0 0 16\n", "definitely lost"),
    "slot beyond the block": ("a 0 12\na 1 8\np 0 8 1\np g 0 0\n", "definitely lost"),
    "an ID allocated again": ("a 0 8\na 0 24\np g 0 0\n", "definitely lost"),
    "calloc and self-pointer": ("c 0 4 8\np 0 0 0\np 0 8 0 8\n", "definitely lost"),
}


def agree(text: str) -> LeakSummary:
    """memcheck's summary of the trace, checked equal to memlab's; returned."""
    real = valgrind_leaks(text.encode())
    assert leak_report(text).summary == real, f"memlab and memcheck differ on:\n{text}"
    return real


#: The examples a default run holds against memcheck (--run-slow: all of them).
FAST = ("reachable", "definite", "indirect", "possible", "cycle, first block larger",
        "a later leader joins an earlier clique", "realloc carries pointers", "write overwrites pointers")


@needs_valgrind
@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in EXAMPLES])
def test_hand_made_examples_match_memcheck(name):
    """Each example's summary equals memcheck's, and memcheck finds the class the example shows."""
    text, shown = EXAMPLES[name]
    real = agree(text)
    assert real.of(shown).blocks > 0
    assert real.suppressed == Count()


@needs_valgrind
def test_nothing_left_is_no_leak():
    """Every block freed: memcheck says no leaks are possible; so does memlab."""
    assert agree("a 0 8\np g 0 0\nf 0\n") == LeakSummary()
    assert str(leak_report("a 0 8\nf 0").summary) == "All heap blocks were freed -- no leaks are possible"


@needs_valgrind
@given(pointer_traces())
@settings(max_examples=6, deadline=None, database=None)
def test_random_pointer_graphs_match_memcheck(text):
    """Random pointer graphs (cycles, interior pointers, overwritten stores, frees) give memcheck's summary."""
    agree(text)


@pytest.mark.slow
@needs_valgrind
@given(pointer_traces(max_ops=80, n_ids=12))
@settings(max_examples=300, deadline=None, database=None)
def test_many_random_pointer_graphs_match_memcheck(text):
    """As above, many more and larger graphs."""
    agree(text)


@needs_valgrind
def test_a_bad_trace_runs_nothing_under_valgrind():
    """valgrind_leaks refuses a trace that does not parse as parse_trace does."""
    with pytest.raises(TraceError, match="OFFSET must be a multiple of 8"):
        valgrind_leaks(b"a 0 8\np 0 4 0\n")


class TestModel:
    def test_store_lines_round_trip(self):
        """`p` lines print in their usual spelling and read back equal."""
        text = "p g 8 3\np 1 0 2 16\np 0x10 0\np 2 8 2 0\n"
        ops = parse_trace(text)
        assert format_trace(ops) == "p g 8 3\np 1 0 2 16\np 16 0\np 2 8 2\n"
        assert parse_trace(format_trace(ops)) == ops

    @pytest.mark.parametrize("fields", [dict(id=1, offset=4, target=2), dict(offset=32768, target=0),
                                        dict(id=1, offset=0, target_offset=8), dict(id=1, offset=0, size=3)])
    def test_bad_store_records_are_refused(self, fields):
        """An Op of kind store checks its fields as the parser does."""
        with pytest.raises(ValueError):
            Op("store", **fields)

    def test_classes_are_memchecks_names(self):
        """The classes, in the summary's order, carry memcheck's words."""
        assert CLASSES == ("definitely lost", "indirectly lost", "possibly lost", "still reachable")

    def test_dangling_pointer_to_a_reused_id(self):
        """A pointer to a freed block does not follow its ID to the next block it names."""
        report = classify(PointerGraph.from_trace("a 0 8\np g 0 0\nf 0\na 0 8\n"))
        assert report.summary.definitely_lost == Count(8, 1)

    def test_failed_allocation_makes_no_block(self):
        """An allocation the model refuses (NULL) leaves no block to classify."""
        report = leak_report("a 0 16\np g 0 0\na 1 18446744073709551615\np g 8 1\n")
        assert report.summary == LeakSummary(still_reachable=Count(16, 1))

    def test_stores_write_their_page_as_the_real_replayer_does(self, glibc_236):
        """A store into a block makes its page resident (a root store nothing), in step and bulk
        replays as on the real glibc."""
        text = "a 0 200000\ns a\np 0 65536 0\ns p\np g 0 0\np 0 0 0\np 0 199992 0\np 0 200000 0\ns again\n"
        snaps = replay(text, Malloc)
        assert [s.as_dict() for s in snaps] == replay_native(text.encode())
        assert snaps[1].rss > snaps[0].rss
        assert replay_bulk(text, Malloc) == snaps

    def test_parse_reads_valgrinds_lines(self):
        """LeakSummary.parse reads memcheck's log lines, thousands separators and all."""
        log = ("==9== LEAK SUMMARY:\n==9==    definitely lost: 1,024 bytes in 2 blocks\n"
               "==9==    indirectly lost: 0 bytes in 0 blocks\n==9==      possibly lost: 8 bytes in 1 blocks\n"
               "==9==    still reachable: 0 bytes in 0 blocks\n==9==         suppressed: 0 bytes in 0 blocks\n")
        assert LeakSummary.parse(log) == LeakSummary(Count(1024, 2), possibly_lost=Count(8, 1))
        with pytest.raises(ValueError):
            LeakSummary.parse("==9== HEAP SUMMARY:")


class TestCommandLine:
    def test_replay_leaks_prints_memchecks_summary(self, tmp_path):
        """`replay TRACE --leaks` ends with memcheck's LEAK SUMMARY of memlab's report."""
        path = tmp_path / "t.trace"
        path.write_text(EXAMPLES["indirect"][0])
        out = io.StringIO()
        assert main(["replay", str(path), "--leaks"], out) == 0
        assert out.getvalue().endswith(str(leak_report(EXAMPLES["indirect"][0]).summary) + "\n")
        out = io.StringIO()
        assert main(["replay", str(path), "--leaks", "--json"], out) == 0
        assert json.loads(out.getvalue().splitlines()[-1])["leaks"]["indirectly lost"] == {"bytes": 24, "blocks": 1}

    @needs_valgrind
    def test_native_leaks_are_valgrinds(self, tmp_path):
        """`replay TRACE --native --leaks` prints the real memcheck's summary."""
        path = tmp_path / "t.trace"
        path.write_text(EXAMPLES["possible"][0])
        out = io.StringIO()
        assert main(["replay", str(path), "--native", "--leaks", "--json"], out) == 0
        assert json.loads(out.getvalue().splitlines()[-1])["leaks"]["possibly lost"] == {"bytes": 40, "blocks": 1}

    def test_leaks_with_a_rival_allocator_is_refused(self, tmp_path, capsys):
        """Valgrind replaces the allocator: --leaks with --allocator is a one-line refusal."""
        path = tmp_path / "t.trace"
        path.write_text("a 0 1\n")
        assert main(["replay", str(path), "--native", "--allocator", "jemalloc", "--leaks"]) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_missing_valgrind_is_a_clear_message(monkeypatch, tmp_path):
    """Without valgrind on PATH the real side is unavailable, saying what to install."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NativeUnavailable, match="valgrind is not installed.*apt-get install valgrind"):
        find_valgrind()


def test_ci_and_binder_install_valgrind():
    """CI (Debian) installs valgrind when missing; Binder (Ubuntu) lists it."""
    assert "valgrind" in (ROOT / "binder" / "apt.txt").read_text().split()
    assert "apt_missing+=(valgrind)" in (ROOT / ".ci" / "run").read_text()
