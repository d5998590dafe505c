"""`python -m memlab scenario NAME --n N [--every K] [--json]`: run a scenario, print its snapshots."""

from __future__ import annotations

import io
import json

import pytest

from memlab.cli import main
from memlab.glibc import Malloc
from memlab.replay import replay
from memlab.scenarios import reserve, vecvec


def run(*args) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(map(str, args)), out), out.getvalue()


@pytest.mark.parametrize("n, every", [("1000", None), ("1e3", 700), ("2.5e2", 1)])
def test_vecvec_json_equals_replay_of_its_trace(n, every):
    args = ["scenario", "vecvec", "--n", n, "--json"] + (["--every", every] if every else [])
    status, out = run(*args)
    assert status == 0
    want = replay(vecvec(int(float(n))), Malloc, every)
    assert out == "".join(s.to_json() + "\n" for s in want)


def test_vecvec_huge_n_runs_with_bulk_steps():
    status, out = run("scenario", "vecvec", "--n", "1e8", "--json")
    assert status == 0
    built, end = (json.loads(line) for line in out.splitlines())
    # 10^8 chunks of 32 bytes + the tcache struct; fastbin count after the frees: all but 7
    assert built["uordblks"] == 32 * 10**8 + 656 and end["smblks"] == 10**8 - 7


def test_table_output_and_other_scenarios():
    status, out = run("scenario", "vecvec", "--n", "10")
    assert status == 0 and out.startswith("# scenario vecvec (n=10): 33 operations")
    status, out = run("scenario", "reserve", "--n", "1000", "--json")
    assert status == 0
    assert out == "".join(s.to_json() + "\n" for s in replay(reserve(1000), Malloc))


@pytest.mark.parametrize("args", [["--n", "0"], ["--n", "1.5"], ["--n", "x"], ["--every", "0"],
                                  ["n=5", "--n", "5"]])
def test_bad_input_is_status_2(args):
    assert run("scenario", "vecvec", *args)[0] == 2


def test_without_n_the_trace_is_printed_as_before():
    status, out = run("scenario", "vecvec", "n=2")
    assert status == 0 and out.splitlines()[1] == "a 0 48"
