"""Tests of memlab.replay: live IDs, the snapshot rules, and the Timeline.

A recording fake model checks which calls the replayer makes; where memlab.glibc
exists, replays are also held against the real glibc's reference numbers.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import SimpleNamespace

import pytest

from memlab.glibc import Malloc
from memlab.replay import Replayer, Timeline, replay, timeline
from memlab.trace import parse_trace

DATA = Path(__file__).parent / "data"


class FakeSpace:
    def __init__(self):
        self.heap_start = self.brk = 0x10000
        self.rss = 0
        self.released_brk = self.released_munmap = self.released_madvise = 0
        self.touched = []

    def touch(self, addr, length):
        self.touched.append((addr, length))


class Fake:
    """Records calls; hands out distinct addresses; NULL for sizes listed in `fail`."""

    def __init__(self, fail=()):
        self.space = FakeSpace()
        self.calls = []
        self._next = 0x1000
        self._fail = set(fail)
        self.last_note = None

    def _new(self, n):
        if n in self._fail:
            return 0
        self._next += 0x100
        return self._next

    def malloc(self, n):
        self.calls.append(("malloc", n))
        return self._new(n)

    def calloc(self, k, n):
        self.calls.append(("calloc", k, n))
        return self._new(k * n)

    def memalign(self, a, n):
        self.calls.append(("memalign", a, n))
        return self._new(n)

    def realloc(self, p, n):
        self.calls.append(("realloc", p, n))
        if p and n == 0:
            return 0
        return self._new(n)

    def free(self, p):
        self.calls.append(("free", p))
        self.last_note = SimpleNamespace(text=f"free {p:#x}")

    def malloc_trim(self, pad):
        self.calls.append(("trim", pad))
        return 0

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def mallinfo2(self):
        return SimpleNamespace(arena=0, ordblks=1, smblks=0, hblks=0, hblkhd=0, fsmblks=0,
                               uordblks=len(self.calls), fordblks=0, keepcost=0)


def run(text, every=None, fail=()):
    m = Fake(fail)
    r = Replayer(parse_trace(text), m, every)
    r.run()
    return r, m


class TestCalls:
    def test_free_of_a_dead_id_passes_null(self):
        """`f` of an ID never allocated, or already freed, calls free(NULL)."""
        r, m = run("f 3\na 3 10\nf 3\nf 3")
        assert m.calls == [("free", 0), ("malloc", 10), ("free", 0x1100), ("free", 0)]

    def test_realloc_of_a_dead_id_passes_null_and_zero_ends_it(self):
        """`r` of an ID not live passes NULL; `r ID 0` of a live ID leaves it not live."""
        r, m = run("r 1 5\nr 1 0\nf 1")
        assert m.calls == [("realloc", 0, 5), ("realloc", 0x1100, 0), ("free", 0)]
        assert r.live == {}

    def test_failed_realloc_keeps_the_old_block(self):
        """A realloc that returns NULL for a non-zero size leaves the old block live."""
        r, m = run("a 0 8\nr 0 999\nf 0", fail={999})
        assert m.calls[-1] == ("free", 0x1100)

    def test_failed_malloc_leaves_the_id_dead(self):
        """A NULL result leaves the ID not live, so `w` does nothing and `f` passes NULL."""
        r, m = run("a 0 999\nw 0\nf 0", fail={999})
        assert m.calls == [("malloc", 999), ("free", 0)] and m.space.touched == []

    def test_write_touches_the_requested_bytes(self):
        """`w` writes calloc's NMEMB*SIZE bytes from the block's start; nothing for size 0."""
        r, m = run("c 0 3 5\nw 0\na 1 0\nw 1\nm 2 64 100\nw 2")
        assert m.space.touched == [(0x1100, 15), (0x1300, 100)]

    def test_trim_and_mallopt_are_passed_on(self):
        """`t` and `o` call malloc_trim and mallopt with glibc's parameter numbers."""
        r, m = run("t 64\no M_MMAP_THRESHOLD 4096\no MXFAST -1")
        assert m.calls == [("trim", 64), ("mallopt", -3, 4096), ("mallopt", 1, -1)]

    def test_held_is_the_sum_of_live_requested_sizes(self):
        """held counts requested sizes of live IDs; reusing a live ID forgets the old block."""
        r, m = run("a 0 10\na 1 20\na 0 5\nr 1 7")
        assert r.held == 12 and r.live == {0: (0x1300, 5), 1: (0x1400, 7)}


class TestSnapshots:
    def labels(self, text, every=None):
        r, _ = run(text, every)
        return [(s.op, s.label) for s in r.snapshots]

    def test_rules_match_the_format(self):
        """`s` lines, every N-th op unless an `s` is at that op, and `end` unless already taken."""
        text = "a 0 10\na 1 10\ns x\na 2 10\nf 0\nf 1\n"
        assert self.labels(text, 2) == [(2, "x"), (4, ""), (5, "end")]
        assert self.labels(text, 5) == [(2, "x"), (5, "")]
        assert self.labels(text) == [(2, "x"), (5, "end")]
        assert self.labels("s a\na 0 1\ns b\ns c\n") == [(0, "a"), (1, "b"), (1, "c")]
        assert self.labels("") == [(0, "end")]
        assert self.labels("s a") == [(0, "a"), (0, "end")]

    def test_snapshot_reads_the_model(self):
        """A snapshot holds the model's counters at that moment."""
        r, _ = run("a 0 1\ns one\nf 0\nf 0")
        assert [s.uordblks for s in r.snapshots] == [1, 3]

    def test_replay_function(self):
        """replay() runs a whole trace (text or Ops) on a fresh model from the factory."""
        assert [s.op for s in replay("a 0 1\nf 0", Fake, every=1)] == [1, 2]


class TestStepping:
    def test_step_peek_and_run_until(self):
        """step runs one operation and the `s` lines after it; run(until) stops at that count."""
        r = Replayer(parse_trace("s start\na 0 1\ns one\na 1 2\nf 0\nf 1"), Fake())
        assert r.peek().kind == "malloc" and r.op == 0
        assert r.step().kind == "malloc"
        assert r.op == 1 and [s.label for s in r.snapshots] == ["start", "one"]
        r.run(until=3)
        assert r.op == 3 and not r.done and r.peek().id == 1
        r.run()
        assert r.done and r.peek() is None and r.step() is None and r.snapshots[-1].label == "end"
        assert r.total == 4

    def test_a_copy_continues_independently(self):
        """A deep copy of a replayer (and its model) replays on without touching the original."""
        r = Replayer(parse_trace("a 0 1\na 1 2\nf 0"), Fake())
        r.step()
        c = copy.deepcopy(r)
        c.run()
        assert r.op == 1 and c.op == 3 and len(r.malloc.calls) == 1

    @pytest.mark.parametrize("bad", [0, -1, 1.5])
    def test_bad_every_is_refused(self, bad):
        """every must be a positive int."""
        with pytest.raises(ValueError):
            Replayer((), Fake(), bad)

    def test_ops_must_be_op_records(self):
        """Anything but Op records is refused with TypeError."""
        with pytest.raises(TypeError):
            Replayer(["a 0 1"], Fake())


class TestTimeline:
    def test_one_entry_per_operation_plus_the_start(self):
        """Index 0 is before any op; each op adds one entry with held, counters and the note."""
        t = timeline("a 0 100\ns x\na 1 50\nf 0", Fake)
        assert isinstance(t, Timeline) and len(t) == 4
        assert t.op == (0, 1, 2, 3) and t.held == (0, 100, 150, 50)
        assert t.notes[0] == "" and t.notes[3] == "free 0x1100"

    def test_csv_has_a_header_and_a_row_per_entry(self):
        """to_csv writes the field names, then one row per entry."""
        rows = timeline("a 0 100", Fake).to_csv().splitlines()
        assert rows[0].split(",")[:3] == ["op", "held", "arena"] and len(rows) == 3


class TestOnTheModel:
    """The model's replays against GLIBC-FACTS.md's appendix (numbers measured on real glibc 2.36)."""

    def test_first_malloc(self):
        """`a 0 1`: 688 bytes in use, the heap grown by 135168, one page resident."""
        (s,) = replay((DATA / "p01.trace").read_text(), Malloc)
        assert (s.brk, s.arena, s.uordblks, s.fordblks, s.keepcost, s.rss) == \
            (135168, 135168, 688, 134480, 134480, 4096)

    def test_p03_frees(self):
        """1000 x malloc(32) then free: 993 chunks (47664 B) in fastbins, 992 B in use."""
        s = {x.label: x for x in replay((DATA / "p03.trace").read_text(), Malloc)}
        f = s["frees"]
        assert (f.smblks, f.fsmblks, f.uordblks, f.fordblks, f.keepcost) == (993, 47664, 992, 134176, 86512)

    def test_p04_threshold(self):
        """After free of an mmapped 1 MiB, the next 1 MiB comes from brk (brk+1183744)."""
        s = {x.label: x for x in replay((DATA / "p04.trace").read_text(), Malloc)}
        assert (s["from-brk"].brk, s["from-brk"].uordblks) == (1183744, 1049248)


def test_the_default_model_is_of_the_traces_architecture():
    """`replay` and `timeline` without a factory model glibc for the trace's `# arch` (x86-64
    without the line); a factory given is used as it is."""
    text = "# arch i386\na 0 1\ns\n"
    first_i386 = replay("a 0 1\ns\n", lambda: Malloc(arch="i386"))[0].arena
    assert replay(text)[0].arena == timeline(text).arena[-1] == first_i386
    assert replay("a 0 1\ns\n")[0].arena == replay(text, Malloc)[0].arena != first_i386


def test_write_has_its_own_note_and_stale_notes_are_not_repeated():
    """`w` gets the replayer's note; a call that leaves the model's note unchanged gets none."""
    t = timeline("a 0 100\nw 0\nw 9\nf 0", Fake)
    assert t.notes[2] == "w 0: wrote 100 bytes at 0x1100 (their pages become resident)"
    assert "not live" in t.notes[3]
    assert t.notes[1] == "" and t.notes[4] == "free 0x1100"


@pytest.mark.parametrize("seed", range(3))
def test_model_matches_the_real_glibc_after_every_operation(seed):
    """On random traces, every snapshot of the model (--every 1) equals the real glibc's."""
    from memlab.native import replay_native
    from strategies import random_trace

    ops = parse_trace(random_trace(400, seed=1000 + seed, n_ids=64, snapshot_rate=0.1))
    model = [s.as_dict() for s in replay(ops, Malloc, every=1)]
    real = replay_native(ops, every=1)
    assert len(model) == len(real)
    for m, r in zip(model, real):
        assert m == r, f"first difference after op {r['op']}"
