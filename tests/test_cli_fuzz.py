"""No input reaches a Python traceback on the command line: every run works (0), fails as a run (1),
or is refused (2) with one short line on stderr.

Most runs are in-process (memlab.cli.main) for speed; a few go through `python -m memlab` to
check what a shell sees (standard input, pipes, a closed pipe, an unusable cache folder).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.cli import MESSAGE, main
from strategies import cli_arguments, hostile_traces

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"


def run_main(args: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """main(args) in-process: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    fake_stdin = io.TextIOWrapper(io.BytesIO(stdin))
    saved = sys.stdin
    sys.stdin = fake_stdin
    try:
        with contextlib.redirect_stderr(err):
            status = main(args, out)
    finally:
        sys.stdin = saved
    return status, out.getvalue(), err.getvalue()


def assert_clean(status: int, err: str, out: str = "") -> None:
    """Status 0, 1 or 2; a refusal or failure says one short line, never a traceback
    (compare's status 1 for a difference says it on stdout)."""
    assert status in (0, 1, 2), (status, err)
    assert "Traceback" not in err and "internal error" not in err, err
    if status == 1 and not err:
        assert out.splitlines()[-1].startswith("DIFFER"), out
    elif status:
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("memlab: ") and len(lines[0]) <= MESSAGE + 8, err


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=hostile_traces(), json=st.booleans(), every=st.sampled_from([[], ["--every", "1"], ["--every", "3"]]))
def test_hostile_traces_on_the_model(tmp_path, text, json, every):
    """Any trace text, replayed on the model from a file or standard input: 0, 1 or 2, never a traceback."""
    trace = tmp_path / "t.trace"
    trace.write_text(text, encoding="utf-8", errors="surrogateescape")
    args = ["replay", str(trace), *every] + (["--json"] if json else [])
    status, _, err = run_main(args)
    assert_clean(status, err)
    status2, _, err2 = run_main(["replay", "-", *every] + (["--json"] if json else []),
                                stdin=trace.read_bytes())
    assert status2 == status and re.findall(r": line \d+:", err2) == re.findall(r": line \d+:", err)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=hostile_traces(max_lines=8, max_digits=60))
def test_hostile_traces_on_the_real_glibc(tmp_path, text):
    """The same on the real replayer and in compare (sizes kept small: these run for real)."""
    lines = [line for line in text.split("\n") if not _large(line)]
    trace = tmp_path / "t.trace"
    trace.write_text("\n".join(lines), encoding="utf-8", errors="surrogateescape")
    for command in (["replay", str(trace), "--native"], ["compare", str(trace)]):
        status, out, err = run_main(command)
        assert_clean(status, err, out)
        if command[0] == "compare":     # hostile or not, a valid trace agrees (no deviation drawn here)
            assert status != 1 or err, out


def _large(line: str) -> bool:
    """A line that could make the real replayer allocate or write more than a few MiB."""
    return any(token.strip().isdigit() and len(token.strip()) > 7 or token.strip().lower().startswith("0x")
               for token in line.split()[1:])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(args=cli_arguments())
def test_any_command_line(tmp_path, args):
    """Any arguments, in-process: 0, 1 or 2, never a traceback."""
    trace = tmp_path / "t.trace"
    trace.write_text("a 0 100\na 1 5000\nf 0\ns one\nw 1\n")
    args = [str(trace) if a == "TRACE" else a for a in args]
    status, out, err = run_main(args)
    assert_clean(status, err, out)


def test_known_refusals_are_one_line():
    """The examples of each class: long numbers, a huge n, a missing file, a folder."""
    cases = [["scenario", "vecvec", "--n", "1e18"], ["scenario", "vecvec", "--n", "9" * 5000],
             ["scenario", "vecvec", "n=" + "9" * 5000], ["replay", str(DATA / "p01.trace"), "--every", "9" * 5000],
             ["replay", "/nonexistent"], ["replay", "/"], ["compare", "/"], ["bogus"], []]
    for args in cases:
        status, out, err = run_main(args)
        assert status == 2 and out == "", args
        assert_clean(status, err)


def test_long_digit_fields_in_a_trace(tmp_path, real_glibc):
    """A trace number of 5,000 digits is refused with its line number on both sides."""
    trace = tmp_path / "t.trace"
    trace.write_text("a 0 1\na 1 " + "9" * 5000 + "\n")
    for args in (["replay", str(trace)], ["replay", str(trace), "--native"], ["compare", str(trace)]):
        status, _, err = run_main(args)
        assert status == 2 and "line 2: SIZE must be below 2**64" in err and err.count("\n") == 1
        assert len(err) < MESSAGE + 10


def cli(*args, stdin=None, env=None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "memlab", *map(str, args)], input=stdin, capture_output=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, **kw)


class TestShell:
    """What a shell sees: standard input, pipes, a closed pipe, the cache variable."""

    def test_standard_input_on_both_sides(self, real_glibc):
        """`compare -` and `replay - --native` read standard input once; both sides see the same bytes."""
        data = (DATA / "p02.trace").read_bytes()
        by_file = cli("compare", DATA / "p02.trace", "--every", "1")
        by_stdin = cli("compare", "-", "--every", "1", stdin=data)
        assert by_stdin.returncode == 0 and by_stdin.stdout.splitlines()[-1] == b"AGREE: all 7 snapshots are identical"
        assert by_stdin.stdout.splitlines()[1:] == by_file.stdout.splitlines()[1:]
        native = cli("replay", "-", "--native", "--json", stdin=data)
        assert native.stdout == cli("replay", DATA / "p02.trace", "--native", "--json").stdout
        assert native.stdout.count(b"\n") == 5

    def test_dev_stdin_and_a_fifo(self, tmp_path, real_glibc):
        """/dev/stdin and a named pipe as the trace path."""
        data = (DATA / "p02.trace").read_bytes()
        proc = cli("compare", "/dev/stdin", stdin=data)
        assert proc.returncode == 0 and proc.stdout.endswith(b"AGREE: all 5 snapshots are identical\n"), proc.stderr
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        writer = threading.Thread(target=fifo.write_bytes, args=(data,))
        writer.start()
        proc = cli("replay", fifo, "--native", "--json", timeout=60)
        writer.join()
        assert proc.returncode == 0 and proc.stdout.count(b"\n") == 5, proc.stderr

    def test_a_bad_line_from_standard_input_is_named(self):
        proc = cli("compare", "-", stdin=b"a 0 1\nq 3\n")
        assert proc.returncode == 2 and proc.stderr == b"memlab: -: line 2: unknown operation 'q'; expected one of " \
            b"a f r c m w p t o s: 'q 3'; nothing was replayed\n"

    @pytest.mark.parametrize("args", [["scenario", "vecvec", "--n", "2e4", "--every", "1"],
                                      ["scenario", "vecvec", "--n", "2e4", "--every", "1", "--json"]])
    def test_a_closed_pipe_ends_quietly(self, args):
        """`... | head -1`: the reader goes away; memlab stops at once, says nothing, status 128 + SIGPIPE."""
        proc = subprocess.Popen([sys.executable, "-m", "memlab", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=ROOT)
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=120) == 128 + signal.SIGPIPE and err == b""

    @pytest.mark.parametrize("where, why", [("file", "it is not a folder"), ("/proc/memlab-cache", "No such file")])
    def test_an_unusable_cache_folder_is_named(self, tmp_path, where, why):
        """MEMLAB_CACHE at a file or under /proc: the variable is named, with the reason; status 1."""
        if where == "file":
            where = tmp_path / "file"
            where.write_text("")
        proc = cli("replay", DATA / "p01.trace", "--native", env={"MEMLAB_CACHE": str(where)})
        err = proc.stderr.decode()
        assert proc.returncode == 1 and "MEMLAB_CACHE" in err and why in err and err.count("\n") == 1, err

    def test_an_unexpected_error_is_one_line_unless_debugging(self, tmp_path):
        """A bug is one line and status 1; MEMLAB_DEBUG=1 shows its traceback."""
        boom = tmp_path / "sitecustomize.py"
        boom.write_text("import memlab.cli\n"
                        "def broken(*a, **k):\n    raise RuntimeError('boom')\n"
                        "memlab.cli._cmd_scenario = broken\n")
        env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
        proc = cli("scenario", env=env)
        assert proc.returncode == 1 and proc.stderr.startswith(b"memlab: internal error")
        assert b"RuntimeError: boom" in proc.stderr and b"Traceback" not in proc.stderr
        proc = cli("scenario", env={**env, "MEMLAB_DEBUG": "1"})
        assert b"Traceback" in proc.stderr and b"RuntimeError: boom" in proc.stderr
