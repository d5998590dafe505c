"""The bulk scenario runner takes the snapshots `replay` takes on the expanded trace."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from memlab.glibc import Malloc
from memlab.replay import replay
from memlab.scenarios import vecvec
from memlab.scenarios.bulk import parse_count, run_vecvec
from memlab.steps import run_steps


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 100, 1000, 6000])
def test_vecvec_matches_replay(n):
    assert run_vecvec(n) == replay(vecvec(n), Malloc)


@settings(max_examples=25)
@given(n=st.integers(1, 400), every=st.integers(1, 700))
def test_every_matches_replay(n, every):
    assert run_vecvec(n, every) == replay(vecvec(n), Malloc, every)


def _text(steps):
    lines = []
    for s in steps:
        if s[0] == "a":
            lines.append(f"a {s[1]} {s[2]}")
        elif s[0] in ("w", "f"):
            lines.append(f"{s[0]} {s[1]}")
        elif s[0] == "s":
            lines.append(f"s {s[1]}")
        elif s[0] == "aw":
            for i in range(s[1], s[1] + s[2]):
                lines += [f"a {i} {s[3]}", f"w {i}"]
        else:
            lines += [f"f {i}" for i in range(s[1], s[1] + s[2])]
    return "\n".join(lines) + "\n"


@settings(max_examples=40)
@given(st.lists(st.one_of(
    st.tuples(st.just("a"), st.integers(0, 30), st.sampled_from([0, 4, 24, 100, 1000, 5000, 200000])),
    st.tuples(st.just("w"), st.integers(0, 30)),
    st.tuples(st.just("f"), st.integers(0, 30)),
    st.tuples(st.just("s"), st.sampled_from(["x", ""])),
    st.tuples(st.just("aw"), st.integers(0, 30), st.integers(0, 300), st.sampled_from([4, 24, 40, 1000])),
    st.tuples(st.just("f*"), st.integers(0, 30), st.integers(0, 300)),
), max_size=12), st.one_of(st.none(), st.integers(1, 500)))
def test_random_steps_match_replay(steps, every):
    assert run_steps(steps, Malloc(), every) == replay(_text(steps), Malloc, every)


def test_parse_count():
    assert parse_count("1e8") == 10**8
    for bad in ("1.5", "0", "x", "-3", "inf"):
        with pytest.raises(ValueError):
            parse_count(bad)


from memlab.steps import replay_bulk  # noqa: E402
from strategies import traces  # noqa: E402


@settings(max_examples=60)
@given(traces(max_ops=150, n_ids=12), st.one_of(st.none(), st.integers(1, 50)))
def test_replay_bulk_equals_replay_on_random_traces(text, every):
    assert replay_bulk(text, Malloc, every) == replay(text, Malloc, every)


@pytest.mark.parametrize("text", [
    "".join(f"a {i} 4\nw {i}\n" for i in range(50)) + "".join(f"f {i}\n" for i in range(50)),
    "".join(f"a {i} 24\nw {i}\n" for i in range(300)) + "r 7 100\nc 8 2 3\nm 9 64 8\nt 0\n"
    + "".join(f"f {i}\n" for i in range(300)) + "o M_MXFAST 0\na 1 1500\n",
    "".join(f"a {i % 40} 40\nw {i % 40}\n" for i in range(200)) + "".join(f"f {i}\n" for i in range(45)),
])
def test_replay_bulk_on_runs(text):
    for every in (None, 1, 13):
        assert replay_bulk(text, Malloc, every) == replay(text, Malloc, every)
