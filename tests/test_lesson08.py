"""Lesson 08's statements, held against the real glibc and the real Valgrind.

Every number in the lesson's text and explanations is listed in CLAIMS: a check against the real
system, or the input it is (a trace parameter, a design constant of an example allocator).
The pool's figures are the real glibc's on the calls the pool passes on: the pool's rule
(a free list per size, nothing freed behind it) is applied here to the trace by hand, and the
result replayed on the real glibc.
"""

from __future__ import annotations

import pytest

from memlab.allocators import Glibc, Pool
from memlab.allocators.segregated import SPAN
from memlab.leaks import leak_report
from memlab.native import replay_native
from memlab.native.valgrind import valgrind_leaks
from memlab.scenarios.own import LEAKY, ROUNDS
from memlab.score import score_trace
from memlab.trace import parse_trace

from test_lessons import stated_numbers

NAME = "08_your_own_allocator"
KIB = 1024
_CACHE: dict = {}


def once(key, make):
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def real_rounds():
    """The real glibc's snapshots of the rounds trace, by label."""
    return once("rounds", lambda: {s["label"]: s for s in replay_native(ROUNDS.text().encode())})


def pooled_trace(text: str, largest: int = 1024) -> str:
    """The calls a per-size pool in front of glibc passes on, with the program's writes: a
    malloc of a size freed before reuses that block (no line), a free of a small block no line."""
    lists: dict[int, list[int]] = {}
    mine: dict[int, tuple[int, int]] = {}        # program ID -> (ID behind, size)
    out, fresh = [], 0
    for op in parse_trace(text):
        if op.kind == "malloc":
            if lists.get(op.size):
                mine[op.id] = (lists[op.size].pop(), op.size)
            else:
                mine[op.id] = (fresh, op.size)
                out.append(f"a {fresh} {op.size}")
                fresh += 1
        elif op.kind == "free":
            behind, size = mine.pop(op.id)
            if size > largest:
                out.append(f"f {behind}")
            else:
                lists.setdefault(size, []).append(behind)
        elif op.kind == "write":
            out.append(f"w {mine[op.id][0]}")
        elif op.kind == "snapshot":
            out.append(str(op))
        else:
            raise AssertionError(f"the rounds trace has no {op}")
    return "\n".join(out) + "\n"


def real_pooled():
    return once("pooled", lambda: {s["label"]: s for s in
                                   replay_native(pooled_trace(ROUNDS.text()).encode())})


def memcheck():
    return once("memcheck", lambda: valgrind_leaks(LEAKY.text().encode()))


#: number as written -> the real value(s) it states, or what input it is.
CLAIMS = {
    "16": "the alignment every block needs and Bump's header: a design input",
    "2,000": "objects per round, the rounds trace's n",
    "200": "bytes per object of the rounds trace",
    "300": "bytes per object of the other type",
    "136": lambda: [real_rounds()["end"]["rss"] // KIB],
    "1,032": lambda: [real_pooled()["end"]["rss"] // KIB],
    "8,000": lambda: [(ROUNDS.values()["rounds"] - 1) * ROUNDS.values()["n"], pool_hits()],
    "10,000": lambda: [ROUNDS.values()["rounds"] * ROUNDS.values()["n"]],
    "132": lambda: [real_rounds()[f"round {k}"]["brk"] // KIB for k in range(1, 6)],
    "64": lambda: [SPAN // KIB],
    "100": "requests of the leaky trace",
    "1,000": "bytes of each request's buffer",
    "48": "bytes of each request's record",
    "26": lambda: [memcheck().definitely_lost.blocks + memcheck().still_reachable.blocks],
    "112": lambda: [memcheck().still_reachable.bytes],
    "24": lambda: [memcheck().definitely_lost.blocks],
    "1,152": lambda: [memcheck().definitely_lost.bytes],
    "8": "the offset of the global `current` in the leaky trace",
}


def pool_hits():
    pool = Pool(Glibc())
    score_trace(ROUNDS.text(), lambda: pool)
    return pool.hits


def test_every_stated_number_is_accounted_for():
    missing = sorted({n for _, n in stated_numbers(NAME)} - set(CLAIMS))
    assert missing == [], f"numbers without a check: {missing}"


@pytest.mark.parametrize("number", [k for k, v in CLAIMS.items() if callable(v)])
def test_stated_number_is_the_real_systems(number, glibc_236):
    stated = float(number.replace(",", ""))
    values = CLAIMS[number]()
    assert values and all(float(v) == stated for v in values), (number, values)


def test_the_pool_on_the_model_is_glibc_on_the_calls_it_passes_on(glibc_236):
    """The pool's column of the lesson (model) equals the real glibc on the calls behind it."""
    s = score_trace(ROUNDS.text(), lambda: Pool(Glibc()))
    assert s.rss_end == real_pooled()["end"]["rss"]
    assert score_trace(ROUNDS.text(), Glibc).rss_end == real_rounds()["end"]["rss"]


def test_memlab_and_valgrind_agree_on_the_leaky_trace():
    assert leak_report(LEAKY.text()).summary == memcheck()


def test_the_glibc_side_reuses_what_the_pool_keeps():
    """The lesson's reading: with the pool the heap holds both types at once, glibc alone not."""
    real = real_rounds()
    pooled = real_pooled()
    assert pooled["other type"]["brk"] > real["other type"]["brk"]
    assert pooled["end"]["rss"] == pooled["other type"]["rss"]


def test_the_pool_keeps_the_heap_between_rounds_and_segregated_reads_as_the_lesson_says(glibc_236):
    """With the pool, the real heap does not move between rounds (no sbrk to grow it again);
    Segregated maps more than glibc at its peak and keeps nothing at the end."""
    pooled = real_pooled()
    assert len({pooled[f"round {k}"]["brk"] for k in range(1, 6)}) == 1
    from memlab.allocators import Segregated

    seg, glibc = score_trace(ROUNDS.text(), Segregated), score_trace(ROUNDS.text(), Glibc)
    assert seg.peak_heap > glibc.peak_heap and seg.rss_peak > glibc.rss_peak
    assert seg.rss_end == 0 and seg.vsz_end == 0


@pytest.mark.parametrize("student", ["ada", "grace", "sample-student"])
def test_homework_08_glibc_gives_nothing_back_on_the_challenge(student, glibc_236):
    """Homework 08 tells each student glibc gives back nothing on their challenge trace: the real
    glibc's resident bytes never fall, and the model's score says returned 0."""
    from memlab.homework import YourOwnAllocator

    problem = YourOwnAllocator.for_student(2026, student)
    rss = [s["rss"] for s in replay_native(problem.challenge_trace.encode(), every=1)]
    assert rss == sorted(rss) and rss[-1] > 0
    assert score_trace(problem.challenge_trace, Glibc).returned == 0
