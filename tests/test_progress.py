"""Tests of memlab.progress: bars only on a terminal's stderr (or in a notebook), only once a run is slow."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest
import tqdm

import memlab.progress as progress
from memlab.cli import main
from memlab.progress import Progress, shown, terminal

ROOT = Path(__file__).resolve().parent.parent
replay_module = importlib.import_module("memlab.replay")   # (memlab.replay is also a function)


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_is_shown_before_the_delay():
    """A bar opens only once `delay` seconds have passed; its clock counts the silent time."""
    clock, stream = _Clock(), _Terminal()
    p = Progress("replay", lambda **kw: tqdm.tqdm(file=stream, **kw), delay=2.0, clock=clock)
    clock.now += 1.9
    p(1000, 10_000)
    assert stream.getvalue() == ""
    clock.now += 0.2
    p(5000, 10_000)
    p.close()
    text = stream.getvalue()
    assert "replay" in text and "5.00k/10.0k" in text        # operations done, of all
    assert "op/s" in text and "<" in text                    # the rate, and the time left


def test_only_a_terminal_gets_a_bar():
    """stderr that is not a terminal (a pipe, a file, a test's capture) gets nothing."""
    assert terminal("replay", io.StringIO()) is None
    assert isinstance(terminal("replay", _Terminal()), Progress)
    with shown(progress.AUTO, "replay") as display:       # pytest's stderr is no terminal
        assert display is None


def test_cli_replay_shows_progress_on_stderr_never_stdout(tmp_path, monkeypatch):
    """`replay` on a terminal: the bar is on stderr; stdout holds the table alone."""
    trace = tmp_path / "t.trace"
    trace.write_text("".join(f"a {i} 24\n" for i in range(300)) + "".join(f"f {i}\n" for i in range(300)))
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(progress, "TERMINAL_DELAY", 0.0)
    monkeypatch.setattr(replay_module, "_PROGRESS_STEP", 50)
    out = io.StringIO()
    assert main(["replay", str(trace), "--json"], out) == 0
    assert out.getvalue().count("\n") == 1 and out.getvalue().startswith('{"op": 600,')
    assert "replay" in err.getvalue() and "op/s" in err.getvalue()


def test_the_core_runs_without_tqdm():
    """tqdm is optional (the `lab` extra): without it memlab replays and shows nothing."""
    code = ("import sys; sys.modules['tqdm'] = None\n"
            "import memlab, memlab.progress\n"
            "assert memlab.progress.terminal('x', sys.stdout) is None\n"
            "print(memlab.replay('a 0 1\\nf 0\\n')[-1].op)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout == "2\n", proc.stderr


def test_a_notebook_kernel_gets_a_widget_bar():
    """In a Jupyter kernel (with ipywidgets) the display is tqdm's notebook bar."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(
        "import memlab.progress as p\n"
        "d = p.notebook('replay'); d._delay = 0; d(10, 20); d.close()\n"
        "print(type(d._bar).__module__)"))
    nbclient.NotebookClient(nb, timeout=60, resources={"metadata": {"path": str(ROOT)}}).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("name") == "stdout")
    assert printed.strip() == "tqdm.notebook"
