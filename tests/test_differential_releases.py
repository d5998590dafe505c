"""glibc 2.41 and 2.43: the model's release profiles equal the real libraries, snapshot by snapshot.

The real libraries are Debian's libc6 builds, fetched and unpacked on first use by
`memlab.native.glibc_releases.ensure_release` into the cache and run through their own loader
by the C replayer (tests/conftest.py: release_root). Without the network and no cached copy
every test here is skipped, saying so; under CI that is a failure. For each release: the hand-written path traces (their `#!` claims are about 2.36, so only
model against real is checked), traces recorded from real programs, Hypothesis traces and
seeded phased traces; every field of every snapshot must be equal, and Malloc.check() holds.
Every comparison must compare at least one snapshot, so none can pass by comparing nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings

from differential import FIELDS, op_text
from strategies import phased_trace, traces

from memlab import native
from memlab.glibc import Malloc
from memlab.replay import Replayer
from memlab.trace import parse_trace

RELEASES = ("2.41", "2.43")
PATHS = Path(__file__).parent / "data" / "paths"
TRACES = sorted(PATHS.glob("*.trace"))
REPO = Path(__file__).parent.parent
SLOW = os.environ.get("MEMLAB_SLOW", "").strip().lower() not in ("", "0", "false", "no")


def compare(trace, rel: str, root: Path, every: int | None = 1, check_every: int | None = 1,
            name: str = "", limit: int = 5) -> list[str]:
    """Replay `trace` (text or Path) on the model of `rel` and the real `rel` (unpacked at `root`);
    the differences."""
    ops = parse_trace(trace.read_text() if isinstance(trace, Path) else trace)
    real = native.replay_native(trace if isinstance(trace, Path) else ops, every=every,
                                libc_dir=root)
    m = Malloc(glibc=rel)
    r = Replayer(ops, m, every)
    while not r.done:
        op = r.step()
        if op is None:
            break
        if check_every and r.op % check_every == 0:
            try:
                m.check()
            except AssertionError as e:
                raise AssertionError(f"{name}: Malloc.check() failed after op {r.op} ({op}): {e}") from None
    model = [s.as_dict() for s in r.snapshots]
    assert real and model, f"{name}: nothing compared ({len(real)} real, {len(model)} model snapshots)"
    out = []
    if len(real) != len(model):
        out.append(f"{name}: {len(model)} model snapshots vs {len(real)} real")
    for a, b in zip(real, model):
        bad = [k for k in FIELDS if a.get(k) != b.get(k)]
        if bad:
            where = f"{name} op {a['op']} ({op_text(ops, a['op'])}), snapshot {a['label']!r}"
            out.append(where + ": " + ", ".join(f"{k}: model {b.get(k)} vs real {a.get(k)}" for k in bad))
            if len(out) >= limit:
                break
    return out


def _agree(trace, rel: str, root: Path, name: str, **kw) -> None:
    diffs = compare(trace, rel, root, name=f"{name} on {rel}", **kw)
    tail = "" if isinstance(trace, Path) else "\n--- trace ---\n" + trace[-3000:]
    assert not diffs, "\n".join(diffs) + tail


def _ops(path: Path) -> int:
    with path.open() as fh:
        return sum(1 for line in fh if line[:2] in ("a ", "f ", "r ", "c ", "m ", "w ", "t ", "o "))


# ------------------------------------------------------------------ hand-written traces

@pytest.mark.parametrize("rel", RELEASES)
@pytest.mark.parametrize("path", TRACES, ids=[p.stem for p in TRACES])
def test_path_traces_equal_real_release(release_root, path, rel):
    """Every hand-written trace, snapshot after every op (every 1/2000th for big ones)."""
    n = _ops(path)
    every = 1 if n <= 5000 or SLOW else n // 2000
    _agree(path, rel, release_root(rel), path.name, every=every, check_every=max(1, n // 20))


# ------------------------------------------------------------------ recorded programs

PY_WORKLOAD = ("d = {str(i): [i] * 3 for i in range(%d)}; s = repr(d); "
               "t = sorted(s.split(',')); del d, s, t")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> list[Path]:
    """Traces of real programs recorded once on this machine (python3, sort)."""
    native.build("record")
    work = tmp_path_factory.mktemp("recorded")
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    lines = [str((i * 7919) % 200003) for i in range(50000)]
    (work / "in.txt").write_text("\n".join(lines) + "\n")
    runs = [("py", [python, "-c", PY_WORKLOAD % (3000 if not SLOW else 30000)],
             {"PYTHONMALLOC": "malloc"}),
            ("sort", ["sort", "--parallel=1", "-S", "64K", "-n", "in.txt", "-o", "out.txt"], {})]
    files = []
    for name, command, extra in runs:
        target = work / f"{name}.trace"
        env = dict(os.environ, PYTHONPATH=str(REPO), **extra)
        proc = subprocess.run([sys.executable, "-m", "memlab", "record", "-o", str(target), "--",
                               *command], capture_output=True, text=True, cwd=work, env=env)
        assert proc.returncode == 0, proc.stderr[-2000:]
        files += sorted(work.glob(f"{name}.trace*"))
    return files


@pytest.mark.parametrize("rel", RELEASES)
def test_recorded_programs_equal_real_release(release_root, recorded, rel):
    """python3 (dict, repr, sort) and sort -n, recorded: ~300 snapshots per trace, all equal."""
    total = 0
    problems = []
    for path in recorded:
        ops = _ops(path)
        total += ops
        problems += compare(path, rel, release_root(rel), every=max(1, ops // 300), check_every=max(1, ops // 30),
                            name=f"{path.name} on {rel}")
    assert not problems, "\n".join(problems)
    assert total >= 10_000, f"only {total} operations recorded"


# ------------------------------------------------------------------ random traces

@pytest.mark.parametrize("rel", RELEASES)
def test_hypothesis_traces_equal_real_release(release_root, rel):
    """30 derandomized Hypothesis traces per release (every operation kind), after every op."""
    root = release_root(rel)

    @seed(20261126)
    @settings(max_examples=30, derandomize=True, suppress_health_check=list(HealthCheck),
              deadline=None, database=None)
    @given(text=traces(max_ops=120))
    def run(text):
        _agree(text, rel, root, "hypothesis")

    run()


@pytest.mark.slow
@pytest.mark.parametrize("rel", RELEASES)
def test_many_hypothesis_traces_equal_real_release(release_root, rel):
    """Thousands of Hypothesis traces per release, opt-in."""
    root = release_root(rel)

    @settings(max_examples=2000, suppress_health_check=list(HealthCheck), deadline=None)
    @given(text=traces(max_ops=300))
    def run(text):
        _agree(text, rel, root, "hypothesis-slow")

    run()


@pytest.mark.parametrize("rel", RELEASES)
@pytest.mark.parametrize("seed_", range(3))
def test_phased_traces_equal_real_release(release_root, seed_, rel):
    """Seeded phased traces of 2,000-3,200 ops over every size class, after every op."""
    n = 2000 + 600 * seed_
    _agree(phased_trace(n, seed=seed_), rel, release_root(rel), f"phased seed {seed_} ({n} ops)")


@pytest.mark.slow
@pytest.mark.parametrize("rel", RELEASES)
@pytest.mark.parametrize("seed_", range(3, 103))
def test_many_phased_traces_equal_real_release(release_root, seed_, rel):
    """A hundred more phased seeds of 5,000 ops per release, opt-in."""
    _agree(phased_trace(5000, seed=seed_), rel, release_root(rel), f"phased seed {seed_} (5000 ops)")

