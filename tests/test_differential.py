"""Hand-written path traces (tests/data/paths/*.trace): the model equals the real glibc on each.

Every trace exercises one path of glibc 2.36's malloc (GLIBC-FACTS sections 2-9) and says so in
its header. For each: the model's snapshots equal the real replayer's, every field, at the `s`
lines and after every operation; Malloc.check() holds after every operation; the `#!` claims
(what the trace is for, e.g. "smblks drops to 0 here") hold on the REAL glibc's snapshots, so a
trace that stops exercising its path fails; the `#?` claims name the model's path note there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from differential import check_expectations, compare_trace, expectations

pytestmark = pytest.mark.usefixtures("glibc_236")

PATHS = Path(__file__).parent / "data" / "paths"
TRACES = sorted(PATHS.glob("*.trace"))
SLOW = os.environ.get("MEMLAB_SLOW", "").strip().lower() not in ("", "0", "false", "no")

#: Traces above this many operations are snapshotted every N ops (N = ops // 2000) and
#: checked 20 times (Malloc.check() walks the whole heap) in the default run;
#: --run-slow / MEMLAB_SLOW=1 snapshots after every op and checks 2000 times.
BIG = 5000


def _ops(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines()
               if line.strip() and not line.startswith("#") and not line.startswith("s"))


def _slow(request) -> bool:
    try:
        return SLOW or bool(request.config.getoption("--run-slow"))
    except ValueError:
        return SLOW


def test_there_is_a_trace_per_path():
    """At least 30 hand-written traces, each with a header and at least one labelled snapshot."""
    assert len(TRACES) >= 30
    for path in TRACES:
        text = path.read_text()
        assert text.startswith("# "), path.name
        assert "\ns " in text or text.startswith("s "), path.name


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_labelled_snapshots_equal_real_glibc(path):
    """Model == real glibc at every `s` line (and the end), every field; claims hold on glibc."""
    out = compare_trace(path, every=None, check_every=None, name=path.name)
    assert out.agree, "\n".join(out.differences)
    # the public one-call replay gives the same snapshots as the step-wise run compared above
    from memlab.glibc import Malloc
    from memlab.replay import replay
    assert [snap.as_dict() for snap in replay(path.read_text(), Malloc)] == out.model
    values, _ = expectations(path.read_text())
    failed = check_expectations(values, out.real)
    assert not failed, f"{path.name} no longer exercises what it claims (real glibc): {failed}"


@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_every_operation_equals_real_glibc(path, request):
    """Model == real glibc after every operation, every field; invariants hold after each."""
    n = _ops(path)
    if n <= BIG:
        every, check_every = 1, 1
    elif _slow(request):
        every, check_every = 1, max(1, n // 2000)
    else:
        every, check_every = max(1, n // 2000), max(1, n // 20)
    out = compare_trace(path, every=every, check_every=check_every, name=path.name)
    assert out.agree, "\n".join(out.differences)
    assert len(out.real) >= min(n, 2000) // every


@pytest.mark.parametrize("path", [p for p in TRACES if "#? " in p.read_text()],
                         ids=[p.stem for p in TRACES if "#? " in p.read_text()])
def test_model_names_the_path_taken(path):
    """At each `#? LABEL PATH` claim, the op just before that snapshot took PATH in the model."""
    out = compare_trace(path, every=None, check_every=None, name=path.name)
    _, claims = expectations(path.read_text())
    by_label = {s["label"]: s["op"] for s in out.model}
    wrong = [f"{label}: model path {out.notes.get(by_label[label])!r}, expected {want!r}"
             for label, want in claims if out.notes.get(by_label[label]) != want]
    assert not wrong, f"{path.name}: {wrong}"
