"""glibc 2.36 for i386: the model built for it equals the real 32-bit glibc after every operation.

The real side is memlab's replayer built with -m32 on this machine's i386 glibc
(`replay_native(..., arch="i386")`, tests/conftest.py: glibc_i386); the model is
`Malloc(arch="i386")`, whose address space is laid out like a 32-bit process's. The suites are
those run on x86-64, on i386: every hand-written trace (tests/data/paths, tests/data/*.trace,
and tests/data/i386, which aims at what the word size changes: the fastbin limit of 64 bytes
and M_MXFAST up to 80, tcache's largest chunk of 1024, MIN_LARGE_SIZE 1008 and the large bins
of a 32-bit build, the dynamic mmap threshold's cap of 512 KiB, memalign, calloc, realloc and
mremap, malloc_trim, mallopt, requests beyond a 32-bit size_t, a 4 GiB address space);
Hypothesis, seeded phased and seeded boundary traces; programs recorded on this machine (an
x86-64 recording's requests mean the same on i386). Every field of every snapshot must be
equal and Malloc.check() holds after every operation (big traces: sampled in the default
run, every operation with --run-slow). The `#!` claims of the i386 traces hold on the real
i386 glibc, so a trace that stops exercising its boundary fails. Threaded traces on i386 are
tests/test_glibc_threads_i386.py's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings

from differential import check_expectations, compare_trace, expectations
from strategies import edge_trace, phased_trace, traces

from memlab import native
from memlab.glibc.arch import I386
from memlab.native import NativeUnavailable
from memlab.trace import read_trace

pytestmark = pytest.mark.usefixtures("glibc_i386")

ARCH = I386.name
DATA = Path(__file__).parent / "data"
OWN = sorted((DATA / "i386").glob("*.trace"))


HAND = sorted((DATA / "paths").glob("*.trace")) + sorted(DATA.glob("*.trace")) + OWN

#: Traces on which the model is known to differ from the real i386 glibc, and how: each is
#: expected to fail (strictly: it must be dropped from here once the model agrees).
KNOWN: dict[str, str] = {}


def _cases(paths: list[Path]) -> list:
    return [pytest.param(p, id=p.stem, marks=[pytest.mark.xfail(strict=True, reason=KNOWN[p.stem])]
                         if p.stem in KNOWN else []) for p in paths]
REPO = Path(__file__).parent.parent

#: Above this many operations a trace is snapshotted about 2,000 times and checked 20 times
#: in the default run; --run-slow compares it after every operation.
BIG = 5000

#: The largest fast chunk with M_MXFAST at its maximum (80): (80 + SIZE_SZ) & ~MALLOC_ALIGN_MASK.
_MXFAST_80 = (I386.max_fast_size + I386.size_sz) & ~(I386.malloc_alignment - 1)

#: Request sizes at i386's boundaries (each the largest request of a chunk size, so that one
#: more byte takes the next size): MINSIZE 16, the fastbin limit 64 (80 with M_MXFAST 80),
#: MIN_LARGE_SIZE 1008, tcache's largest chunk 1024, the steps of the 32-bit large-bin index
#: (2944, 10752, 45056, 163840: bins 64 bytes wide, then 512, 4096, 32768, 262144), the mmap
#: threshold (128 KiB) and the dynamic threshold's cap (512 KiB).
CHUNK_EDGES = (I386.minsize, I386.max_fast, _MXFAST_80, I386.min_large_size,
               I386.tcache_max_chunk, 2944, 10752, 45056, I386.mmap_threshold, 163840,
               I386.default_mmap_threshold_max)
EDGES = [c - I386.size_sz for c in CHUNK_EDGES]


def _ops(path: Path) -> int:
    return sum(1 for op in read_trace(path.read_text()) if op.kind != "snapshot")


def _agree(trace, name: str, every: int | None = 1, check_every: int | None = 1):
    out = compare_trace(trace, every=every, check_every=check_every, name=name, arch=ARCH)
    tail = "" if isinstance(trace, Path) else "\n--- trace ---\n" + trace[-4000:]
    assert out.real, f"{name}: nothing compared"
    assert out.agree, "\n".join(out.differences) + tail
    return out


# ------------------------------------------------------------------ hand-written traces

@pytest.mark.parametrize("path", _cases(HAND))
def test_hand_written_traces_equal_real_i386(path):
    """Every operation (about 2,000 evenly spaced for big traces), every field; check() after each."""
    n = _ops(path)
    every, check_every = (1, 1) if n <= BIG else (n // 2000, n // 20)
    out = _agree(path, path.name, every, check_every)
    assert len(out.real) >= min(n, 2000) // every


@pytest.mark.slow
@pytest.mark.parametrize("path", _cases([p for p in HAND if _ops(p) > BIG]))
def test_big_traces_equal_real_i386_after_every_operation(path):
    """The big traces snapshotted after every operation, check() 2,000 times, opt-in."""
    n = _ops(path)
    out = _agree(path, path.name, 1, max(1, n // 2000))
    assert len(out.real) >= n


@pytest.mark.parametrize("path", OWN, ids=[p.stem for p in OWN])
def test_i386_traces_exercise_what_they_claim(path):
    """The `#!` claims of tests/data/i386 hold on the real i386 glibc's snapshots."""
    claims, _ = expectations(path.read_text())
    assert claims, f"{path.name} claims nothing"
    failed = check_expectations(claims, native.replay_native(path, arch=ARCH))
    assert not failed, f"{path.name} no longer exercises what it claims (real i386 glibc): {failed}"


# ------------------------------------------------------------------ random traces

@seed(20261203)
@settings(max_examples=20, derandomize=True, suppress_health_check=list(HealthCheck), deadline=None,
          database=None)
@given(text=traces(max_ops=120))
def test_hypothesis_traces_equal_real_i386(text):
    """20 derandomized Hypothesis traces (every operation kind): model == i386 glibc after each op."""
    _agree(text, "hypothesis")


@pytest.mark.slow
@settings(max_examples=2000, suppress_health_check=list(HealthCheck), deadline=None)
@given(text=traces(max_ops=300))
def test_many_hypothesis_traces_equal_real_i386(text):
    """Thousands of (not derandomized) Hypothesis traces, opt-in."""
    _agree(text, "hypothesis-slow")


@pytest.mark.parametrize("seed_", range(2))
def test_phased_traces_equal_real_i386(seed_):
    """Seeded phased traces of 2,000 and 2,600 ops over every size class: after every op."""
    n = 2000 + 600 * seed_
    _agree(phased_trace(n, seed=seed_), f"phased seed {seed_} ({n} ops)")


@pytest.mark.slow
@pytest.mark.parametrize("seed_", range(2, 102))
def test_many_phased_traces_equal_real_i386(seed_):
    """A hundred more phased seeds of 5,000 ops, opt-in."""
    _agree(phased_trace(5000, seed=seed_), f"phased seed {seed_} (5000 ops)")


@pytest.mark.parametrize("seed_", range(3))
def test_boundary_traces_equal_real_i386(seed_):
    """Seeded traces of 1,500 ops whose sizes straddle i386's class boundaries (EDGES)."""
    _agree(edge_trace(1500, EDGES, seed=seed_), f"edge seed {seed_} (1500 ops)")


@pytest.mark.slow
@pytest.mark.parametrize("seed_", range(3, 203))
def test_many_boundary_traces_equal_real_i386(seed_):
    """Two hundred more boundary seeds of 3,000 ops, opt-in."""
    _agree(edge_trace(3000, EDGES, seed=seed_), f"edge seed {seed_} (3000 ops)")


# ------------------------------------------------------------------ recorded programs

PY_WORKLOAD = ("d = {str(i): [i] * 3 for i in range(%d)}; s = repr(d); "
               "t = sorted(s.split(',')); del d, s, t")


def _record(work: Path, name: str, command: list[str], extra: dict | None = None) -> list[Path]:
    """Run `command` under memlab's recorder (x86-64) in `work`; the traces it wrote."""
    target = work / f"{name}.trace"
    env = dict(os.environ, PYTHONPATH=str(REPO), **(extra or {}))
    proc = subprocess.run([sys.executable, "-m", "memlab", "record", "-o", str(target), "--", *command],
                          capture_output=True, text=True, cwd=work, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = sorted(work.glob(f"{name}.trace*"))
    assert files, f"{name}: the recorder wrote no trace ({proc.stderr.strip()})"
    return files


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise NativeUnavailable(f"{tool} is not installed: the test records it running")
    return path


def _agree_on_all(files: list[Path], min_total: int, snapshots: int = 300) -> None:
    """Every recorded file replays identically on i386: about
    `snapshots` evenly spaced snapshots and the final one, check() 30 times."""
    total, problems, compared = 0, [], 0
    for path in files:
        ops = _ops(path)
        total += ops
        out = compare_trace(path, every=max(1, ops // snapshots), check_every=max(1, ops // 30),
                            name=path.name, arch=ARCH)
        assert out.real and out.real[-1]["op"] == ops, f"{path.name}: the final snapshot is missing"
        problems += out.differences
        compared += 1
    assert compared, "no recorded trace"
    assert not problems, "\n".join(problems)
    assert total >= min_total, f"only {total} operations recorded"


@pytest.fixture(scope="module")
def recorder_built():
    return native.build("record")


def test_recorded_python_and_sort_equal_real_i386(recorder_built, tmp_path):
    """python3 (dict, repr, sort; PYTHONMALLOC=malloc) and sort -n, recorded on x86-64."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    lines = [str((i * 7919) % 200003) for i in range(50000)]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    files = _record(tmp_path, "py", [python, "-c", PY_WORKLOAD % 1000], {"PYTHONMALLOC": "malloc"})
    files += _record(tmp_path, "sort", [_need("sort"), "--parallel=1", "-S", "64K", "-n", "in.txt",
                                        "-o", "out.txt"])
    _agree_on_all(files, 20_000)


@pytest.mark.slow
def test_recorded_big_programs_equal_real_i386(recorder_built, tmp_path):
    """python3 with 30,000 entries, ls -lR /usr/include and gcc -O2 -c, opt-in (1,000 snapshots each)."""
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
    files = _record(tmp_path, "py", [python, "-c", PY_WORKLOAD % 30000], {"PYTHONMALLOC": "malloc"})
    files += _record(tmp_path, "ls", [_need("ls"), "-lR", "/usr/include"])
    (tmp_path / "hello.c").write_text("#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n")
    files += _record(tmp_path, "gcc", [_need("gcc"), "-O2", "-c", "hello.c", "-o", "hello.o"])
    _agree_on_all(files, 200_000, snapshots=1000)
