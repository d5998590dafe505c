"""`compare` streams: it compares each real snapshot as it arrives, stops at the first difference,
and when the real replayer ends early (killed, crashed) reports the pairs it compared and how
the real side ended, in one line, with status 1; the model never runs past the real side.

The real replayer really dies here: killed with SIGKILL midway by the test, or unable to start
under a stack limit (a crash) or an address-space limit (out of memory, an exit) too small for it.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

import memlab.cli as cli
import memlab.native.runner as runner
from memlab.cli import main
from memlab.glibc import Malloc

ROOT = Path(__file__).parent.parent
OPS = 200_000
#: The real replayer is killed once it has written this many bytes (some 50 snapshots or more).
KILL_AFTER = 12_000


@pytest.fixture(scope="module")
def long_trace(tmp_path_factory) -> Path:
    """A long trace of mallocs and frees: far longer than the test lets the real side run."""
    rng = random.Random(12)
    lines = [f"a {rng.randrange(300)} {rng.randrange(1, 5000)}" if k % 2 == 0 else f"f {rng.randrange(300)}"
             for k in range(OPS)]
    path = tmp_path_factory.mktemp("long") / "long.trace"
    path.write_text("\n".join(lines) + "\n")
    return path


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _written(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return 0
    return int(re.search(r"^wchar: (\d+)$", text, re.M).group(1))


def _kill_midway(args: list[str]) -> tuple[int, str, str]:
    """Run `python -m memlab ARGS`; SIGKILL its real replayer once that has written KILL_AFTER bytes."""
    proc = subprocess.Popen([sys.executable, "-m", "memlab", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        replayer = None
        while time.monotonic() < deadline and proc.poll() is None:
            replayer = next(iter(_children(proc.pid)), None)
            if replayer is not None and _written(replayer) >= KILL_AFTER:
                break
            time.sleep(0.01)
        assert replayer is not None and proc.poll() is None, "the real replayer never ran"
        os.kill(replayer, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return proc.returncode, out, err


KILLED = (r"memlab: the real side ended early, after op ([\d,]+) \(its last snapshot\){of}: the replayer on "
          r"this machine's glibc [\d.]+ was killed by SIGKILL \(signal 9\){pairs}\n")


def test_a_replayer_killed_midway_leaves_the_pairs_compared(long_trace, real_glibc):
    status, out, err = _kill_midway(["compare", str(long_trace), "--every", "1"])
    said = re.fullmatch(KILLED.format(of=f" of a trace of {OPS:,} operations",
                                      pairs=r"; the ([\d,]+) snapshot pair\(s\) before agree"), err)
    assert status == 1 and said, err
    op, pairs = (int(g.replace(",", "")) for g in said.groups())
    rows = [line.split() for line in out.splitlines()[2:]]
    model = [r[1:] for r in rows if r[0] == "model"]
    native = [r[1:] for r in rows if r[0] == "native"]
    assert len(rows) == 2 * pairs and model == native and pairs >= 50
    assert int(native[-1][0].replace(",", "")) == op == pairs < OPS
    assert not re.search("^(AGREE|DIFFER)", out, re.M)


@pytest.mark.parametrize("form", [["--json"], []])
def test_replay_native_killed_midway_prints_what_it_had(long_trace, real_glibc, form):
    status, out, err = _kill_midway(["replay", str(long_trace), "--every", "1", "--native", *form])
    said = re.fullmatch(KILLED.format(of="", pairs=""), err)
    assert status == 1 and said, err
    op = int(said.group(1).replace(",", ""))
    if form:
        ops = [json.loads(line)["op"] for line in out.splitlines()]
    else:
        assert out.startswith(f"# {long_trace}: on this machine's glibc ")
        ops = [int(line.split()[0].replace(",", "")) for line in out.splitlines()[2:]]
    assert ops == list(range(1, op + 1)) and op >= 50


#: Limits under which the real replayer cannot start: the stack it touches at its start (256 KiB),
#: and an address space too small for the table of a trace's IDs (16 MiB for IDs up to 10**6).
AT_START = {
    "stack": ("ulimit -s 64", "", r"was killed by SIGSEGV \(signal 11\)"),
    "memory": ("ulimit -v 12000", "a 0 1\na 1000000 1\n",
               r"exited with status 1 \(replay: no memory for the pointer table\)"),
}


@pytest.mark.parametrize("limit", sorted(AT_START))
def test_a_replayer_that_dies_at_its_start_stops_compare_before_the_model_runs(long_trace, tmp_path, monkeypatch,
                                                                                  capsys, real_glibc, limit):
    """Under a limit it cannot start within, the replayer ends before any snapshot; compare says how,
    at once: the model, run only as far as the real side has come, has not run at all."""
    ulimit, head, how = AT_START[limit]
    trace = tmp_path / "t.trace"
    trace.write_text(head + long_trace.read_text())
    command = runner._command

    def limited(libc_dir, allocator="glibc", arch="x86-64"):
        return ["sh", "-c", ulimit + ' && exec "$@"', "sh", *command(libc_dir, allocator, arch)]

    replayers = []

    def model_run(*args, **kwargs):
        replayers.append(made(*args, **kwargs))
        return replayers[-1]

    made = cli._model_run
    monkeypatch.setattr(runner, "_command", limited)
    monkeypatch.setattr(cli, "_model_run", model_run)
    out = io.StringIO()
    assert main(["compare", str(trace), "--every", "1"], out) == 1
    err = capsys.readouterr().err
    total = OPS + head.count("\n")
    assert re.fullmatch(r"memlab: the real side ended early, before its first snapshot of a trace of "
                        rf"{total:,} operations: the replayer on this machine's glibc [\d.]+ {how}; "
                        r"nothing was compared\n", err), err
    assert len(out.getvalue().splitlines()) == 2       # the header and the table's, no rows
    assert replayers[0].op == 0


def test_compare_stops_at_the_first_difference(long_trace, tmp_path, monkeypatch, real_glibc):
    """A difference at the second snapshot of a long trace is reported there: the model has run
    no further, and the real replayer is ended without finishing. The difference is put into the
    model: its arena reads one byte more once a block of 60,000 bytes is in use."""
    trace = tmp_path / "skew.trace"
    trace.write_text("a 0 100\na 1 60000\ns one\n" + long_trace.read_text())
    counted = Malloc.mallinfo2

    def skewed(self):
        info = counted(self)
        return replace(info, arena=info.arena + 1) if info.uordblks > 60000 else info

    monkeypatch.setattr(Malloc, "mallinfo2", skewed)
    replayers = []
    made = cli._model_run

    def model_run(*args, **kwargs):
        replayers.append(made(*args, **kwargs))
        return replayers[-1]

    monkeypatch.setattr(cli, "_model_run", model_run)
    out = io.StringIO()
    assert main(["compare", str(trace), "--every", "1"], out) == 1
    lines = out.getvalue().splitlines()
    assert re.match(r"DIFFER at the snapshot after op 2 \(label 'one'\): arena is (\d+) in the model, (\d+) "
                    r"on the real glibc$", lines[-1]), lines[-1]
    model_arena, real_arena = map(int, re.findall(r"arena is (\d+) in the model, (\d+)", lines[-1])[0])
    assert model_arena == real_arena + 1
    assert [line.split()[:2] for line in lines[2:-1]] == [["model", "1"], ["native", "1"],
                                                         ["model", "2"], ["native", "2"]]
    assert replayers[0].op < 10


def test_each_snapshot_leaves_the_replayer_as_it_is_taken(tmp_path, real_glibc):
    """One write per snapshot line (a packet-mode pipe returns each write to one read): a reader
    sees every snapshot as it is taken, and a replayer that dies has handed over every one it took."""
    trace = tmp_path / "t.trace"
    trace.write_text("".join(f"a {k} {16 * k + 1}\n" for k in range(300)))
    read_end, write_end = os.pipe2(os.O_DIRECT)
    proc = subprocess.Popen(runner._command(None) + ["--every", "1", str(trace)], stdout=write_end,
                            env=runner.clean_environment())
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        chunks = list(iter(lambda: pipe.raw.read(1 << 16), b""))
    assert proc.wait() == 0
    assert len(chunks) == 300 and all(c.endswith(b"}\n") and c.count(b"\n") == 1 for c in chunks)
