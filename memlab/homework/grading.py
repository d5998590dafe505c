"""The assignments through Otter-Grader: `otter assign` builds them, `otter run` grades submissions.

Otter runs as a separate process (``python -m otter``), so importing memlab never
imports it. A master notebook ``homework/NN_name.ipynb`` builds into
``homework/dist/NN_name/{student,autograder}/``; a submission is graded with its
assignment's autograder zip, found from the name in the notebook's metadata.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Built", "Grade", "masters", "build", "grade", "autograder_zip", "student_id"]

#: A master notebook's file name: two digits, an underscore, the lesson's name.
MASTER = re.compile(r"\d\d_[a-z0-9_]+\.ipynb")
#: How long one `otter assign` or `otter run` may take, in seconds.
TIMEOUT = 900
_ID_LINE = re.compile(r"^STUDENT_ID\s*=\s*(.+?)\s*(#.*)?$", re.M)


def masters(folder: Path) -> list[Path]:
    """The master notebooks in `folder`, in lesson order."""
    return sorted(p for p in Path(folder).iterdir() if MASTER.fullmatch(p.name))


def _otter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "otter", *args], capture_output=True,
                          text=True, timeout=TIMEOUT)


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass(frozen=True, slots=True)
class Built:
    """One assignment built by `otter assign`: its outputs, or why it failed."""

    name: str
    student: Path
    autograder: Path | None
    error: str

    def line(self) -> str:
        if self.error:
            return f"{self.name}: FAILED\n{self.error}"
        return (f"{self.name}: built; solutions pass every test; hand out {self.student}, "
                f"grade with {self.autograder}")


def _build_one(master: Path, dist: Path) -> Built:
    out = dist / master.stem
    shutil.rmtree(out, ignore_errors=True)
    run = _otter("assign", str(master), str(out))
    student = out / "student" / master.name
    zips = sorted((out / "autograder").glob("*.zip"))
    if run.returncode != 0 or not student.is_file() or not zips:
        return Built(master.stem, student, None, _tail(run.stdout + run.stderr))
    return Built(master.stem, student, zips[-1], "")


def build(folder: Path, dist: Path | None = None, names: list[str] | None = None,
          workers: int = 2) -> list[Built]:
    """Build every master of `folder` (or those named) into `dist` (default `folder`/dist).

    `otter assign` also grades the master's solutions with its own tests and fails
    unless they score full marks.
    """
    folder = Path(folder)
    dist = Path(dist) if dist else folder / "dist"
    chosen = [m for m in masters(folder) if names is None or m.stem in names]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        return list(pool.map(lambda m: _build_one(m, dist), chosen))


def autograder_zip(dist: Path, name: str) -> Path | None:
    """The newest autograder zip built for assignment `name`, or None."""
    zips = sorted((Path(dist) / name / "autograder").glob("*.zip"), key=lambda p: p.stat().st_mtime)
    return zips[-1] if zips else None


def student_id(notebook: dict) -> str:
    """The STUDENT_ID a notebook sets, or "?" when it sets none.

    >>> student_id({"cells": [{"cell_type": "code", "source": 'STUDENT_ID = "ada"  # me'}]})
    'ada'
    >>> student_id({"cells": [{"cell_type": "code", "source": "STUDENT_ID = ..."}]})
    '?'
    """
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        for match in _ID_LINE.finditer(source):
            try:
                value = ast.literal_eval(match[1])
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, str) and value.strip():
                return value.strip()
    return "?"


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True, slots=True)
class Grade:
    """One graded submission: the autograded score of each question, or why it was not graded."""

    submission: Path
    assignment: str
    student: str
    questions: tuple[tuple[str, float, float], ...]   # (name, score, max)
    error: str

    @property
    def score(self) -> float:
        return sum(q[1] for q in self.questions)

    @property
    def possible(self) -> float:
        return sum(q[2] for q in self.questions)

    def line(self) -> str:
        """One line: the submission, its assignment and student, each question, SCORE/TOTAL.

        >>> Grade(Path("a.ipynb"), "00_x", "ada", (("q1", 2.0, 2.0), ("q2", 0, 3.0)), "").line()
        'a.ipynb  00_x  id=ada  q1 2/2  q2 0/3  2/5'
        """
        head = f"{self.submission}  {self.assignment or '?'}  id={self.student}"
        if self.error:
            return f"{head}  not graded: {self.error}"
        parts = [f"{q} {_fmt(s)}/{_fmt(m)}" for q, s, m in self.questions]
        return "  ".join([head, *parts, f"{_fmt(self.score)}/{_fmt(self.possible)}"])


def _grade_one(path: Path, dist: Path) -> Grade:
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return Grade(path, "", "?", (), f"cannot read it as a notebook ({e.__class__.__name__}: {e})")
    if not isinstance(notebook, dict):
        return Grade(path, "", "?", (), "cannot read it as a notebook (no JSON object)")
    student = student_id(notebook)
    name = (notebook.get("metadata", {}).get("otter", {}) or {}).get("assignment_name") or ""
    if not name:
        match = re.match(r"\d\d_[a-z0-9_]+", path.stem)
        name = match[0] if match else ""
    if not name:
        return Grade(path, "", student, (), "no assignment name in its metadata or file name")
    zipped = autograder_zip(dist, name)
    if zipped is None:
        return Grade(path, name, student, (), f"no autograder for {name} in {dist}: build it first")
    with tempfile.TemporaryDirectory(prefix="memlab-grade-") as out:
        try:
            run = _otter("run", "-a", str(zipped.resolve()), "-o", out, str(path.resolve()))
        except subprocess.TimeoutExpired:
            return Grade(path, name, student, (), f"grading took more than {TIMEOUT} s")
        results = Path(out) / "results.json"
        if run.returncode != 0 or not results.is_file():
            why = _tail(run.stdout + run.stderr, 1) or f"otter run exited with {run.returncode}"
            return Grade(path, name, student, (), why)
        tests = json.loads(results.read_text()).get("tests", [])
    questions = tuple((t["name"], float(t["score"]), float(t["max_score"]))
                      for t in tests if "max_score" in t)
    return Grade(path, name, student, questions, "")


def grade(paths: list[Path], dist: Path, workers: int = 2) -> list[Grade]:
    """Grade each submission (a notebook, or a folder of them) with its assignment's autograder."""
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.glob("*.ipynb")) if p.is_dir() else [p])
    with ThreadPoolExecutor(max(1, workers)) as pool:
        return list(pool.map(lambda f: _grade_one(f, Path(dist)), files))
