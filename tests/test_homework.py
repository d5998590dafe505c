"""The homework: every assignment builds with Otter-Grader, grades right, and hides its answers.

The default run builds every assignment with `otter assign` (which also grades the master's
solutions with Otter and fails unless they score full marks), grades two submissions for real
with `otter run` through the grade command, and checks the rest in this process with Otter's
own test files: blank notebooks score zero, each wrong answer loses exactly its question's
points, another student or another class seed changes an expected answer. With --run-slow,
every solution, blank and wrong-answer notebook of every assignment also goes through
`otter run`.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.homework import ASSIGNMENTS
from memlab.homework.grading import build, grade, masters

ROOT = Path(__file__).resolve().parent.parent
HOMEWORK = ROOT / "homework"
NAMES = [m.stem for m in masters(HOMEWORK)]
SEED_LINE = re.compile(r"^\s*SEED\s*=", re.M)
WRONG_TRACE = "a 0 1\n"          # parses, reaches no assignment's goal


def load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def source(cell):
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def config_of(master):
    """The ASSIGNMENT CONFIG's seed values of a master notebook."""
    text = source(master["cells"][0])
    assert text.startswith("# ASSIGNMENT CONFIG")
    seed = {k: int(v) for k, v in re.findall(r"(autograder_value|student_value):\s*(\d+)", text)}
    return seed


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """Every assignment built with `otter assign` into a fresh folder: {name: Built}."""
    dist = tmp_path_factory.mktemp("homework-dist")
    return dist, {b.name: b for b in build(HOMEWORK, dist)}


# --- running a notebook and Otter's tests in this process -----------------------------
def run_cells(nb, seed, student=None):
    """Execute a notebook's code as Otter's grader does, without a kernel.

    Otter's own cells (`import otter`, `grader.check`) are left out; like Otter, every
    cell starts by setting the seed variable; a cell that raises is skipped, as
    nbconvert does with errors allowed. `student` replaces the STUDENT_ID line.
    """
    env = {"__name__": "__main__"}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        text = source(cell)
        if "import otter" in text or "grader." in text:
            continue
        if student is not None and text.lstrip().startswith("STUDENT_ID"):
            text = f"STUDENT_ID = {student!r}"
        try:
            exec(compile(f"SEED = {seed}\n" + text, "<cell>", "exec"), env)
        except Exception:
            pass
    return env


def scores(autograder_nb, env):
    """{question: (score, possible)} from every test (hidden ones too) of an autograder notebook."""
    from otter.test_files.exception_test import ExceptionTestFile

    out = {}
    for name, text in autograder_nb["metadata"]["otter"]["tests"].items():
        test_file = ExceptionTestFile.from_metadata(text, name)
        test_file.run(env)
        out[name] = (test_file.score, test_file.possible)
    return out


def answers(env, questions):
    return {q: env.get(q) for q in questions}


# --- the masters themselves -----------------------------------------------------------
def test_every_lesson_has_an_assignment():
    lessons = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert lessons[:4] == NAMES[:4] == list(ASSIGNMENTS)[:4]
    assert set(NAMES) <= set(ASSIGNMENTS), "each assignment has its problem in memlab.homework"


@pytest.mark.parametrize("name", NAMES)
def test_master_has_three_to_six_questions_and_no_outputs(name):
    master = load(HOMEWORK / f"{name}.ipynb")
    questions = [c for c in master["cells"] if source(c).startswith("# BEGIN QUESTION")]
    assert 3 <= len(questions) <= 6
    assert any("manual: true" in source(q) for q in questions), "one question is explained in words"
    assert all(not c.get("outputs") for c in master["cells"] if c["cell_type"] == "code")
    seed = config_of(master)
    # Predictions are plain numbers: the grader's seed must be the one students work with.
    assert seed["autograder_value"] == seed["student_value"]
    assert SEED_LINE.search("\n".join(source(c) for c in master["cells"][1:4]))


# --- building ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_assignment_builds_and_its_solutions_pass(built, name):
    """`otter assign` grades the solutions with every test and fails unless they score full marks."""
    _, results = built
    b = results[name]
    assert not b.error, b.error
    assert b.student.is_file() and b.autograder.is_file()
    assert (b.student.parent.parent / "autograder" / f"{name}.ipynb").is_file()


def secrets_of(master):
    """The master's solution text: solution lines and cells, and the asserts of hidden tests."""
    found, block = [], []
    for cell in master["cells"]:
        text = source(cell)
        if cell["cell_type"] == "raw":
            head = text.strip().splitlines()[0] if text.strip() else ""
            m = re.match(r"# (BEGIN|END) (QUESTION|SOLUTION|TESTS)", head)
            if m and m[1] == "BEGIN":
                block.append(m[2])
            elif m:
                block.pop()
            continue
        inside = False
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("# BEGIN SOLUTION"):
                inside = True
                continue
            if stripped.startswith("# END SOLUTION"):
                inside = False
                continue
            if stripped.endswith("# SOLUTION"):
                code = stripped[: -len("# SOLUTION")].strip()
                found.append(code.split("=", 1)[1].strip() if "=" in code else code)
            elif inside:
                found.append(stripped)
            elif block[-1:] == ["SOLUTION"] and cell["cell_type"] == "markdown":
                found.append(stripped)
            elif block[-1:] == ["TESTS"] and "hidden: true" in text and "assert" in stripped:
                found.append(stripped)
    return [s for s in found if len(s) >= 6]


def haystack(nb):
    """Every string a notebook file holds: sources, outputs and metadata, decoded."""
    out = []

    def walk(x):
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for k, v in x.items():
                out.append(str(k))
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(nb)
    return "\n".join(out)


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_holds_no_answer(built, name):
    _, results = built
    master = load(HOMEWORK / f"{name}.ipynb")
    student = load(results[name].student)
    text = haystack(student)
    secrets = secrets_of(master)
    assert len(secrets) >= 5, "the master's solutions were found"
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"solution text in the student notebook: {leaked}"
    for cell in student["cells"]:
        assert not cell.get("outputs"), "outputs are stripped"
        assert "source_hidden" not in json.dumps(cell.get("metadata", {})), "no folded cells"
    tests = student["metadata"]["otter"]["tests"]
    assert tests and all("hidden=True" not in t for t in tests.values()), "only public tests"
    ag = load(results[name].student.parent.parent / "autograder" / f"{name}.ipynb")
    assert any("hidden=True" in t for t in ag["metadata"]["otter"]["tests"].values())


# --- grading in this process with Otter's test files ----------------------------------
@pytest.fixture(scope="session")
def graded_here(built):
    """For each assignment: its autograder notebook, the seed, the solution env and its scores."""
    _, results = built
    out = {}
    for name in NAMES:
        seed = config_of(load(HOMEWORK / f"{name}.ipynb"))["autograder_value"]
        ag = load(results[name].student.parent.parent / "autograder" / f"{name}.ipynb")
        env = run_cells(ag, seed)
        out[name] = (ag, seed, env, scores(ag, env))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_solutions_score_full_marks_here(graded_here, name):
    _, _, _, got = graded_here[name]
    assert all(score == possible > 0 for score, possible in got.values()), got


@pytest.mark.parametrize("name", NAMES)
def test_blank_notebook_scores_zero_on_every_question(built, graded_here, name):
    _, results = built
    ag, seed, _, _ = graded_here[name]
    blank = run_cells(load(results[name].student), seed)
    got = scores(ag, blank)
    assert got and all(score == 0 for score, _ in got.values()), got


@pytest.mark.parametrize("name", NAMES)
def test_a_wrong_answer_loses_exactly_its_points(graded_here, name):
    ag, _, env, full = graded_here[name]
    for question in full:
        right = env[question]
        wrong = right + 1 if isinstance(right, int) else WRONG_TRACE
        got = scores(ag, {**env, question: wrong})
        assert got[question][0] == 0, question
        assert {q: s for q, s in got.items() if q != question} == {
            q: s for q, s in full.items() if q != question}, question


@pytest.mark.parametrize("name", NAMES)
def test_another_student_or_seed_gets_other_answers(graded_here, name):
    """The tests compute the answer for the grader's seed and ID: copied answers fail."""
    ag, seed, _, full = graded_here[name]
    mine = answers(run_cells(ag, seed, student="ada"), full)
    for student, other_seed in (("grace", seed), ("ada", seed + 1)):
        theirs = run_cells(ag, other_seed, student=student)
        assert scores(ag, theirs) == full, "each student's own solutions score full marks"
        copied = scores(ag, {**theirs, **mine})
        lost = [q for q in full if copied[q][0] < full[q][0]]
        assert lost, f"{student} with seed {other_seed} could copy every answer of ada"


# --- the commands ---------------------------------------------------------------------
def test_grade_command_scores_a_blank_and_a_wrong_submission(built, tmp_path):
    """Two real `otter run`s: a blank notebook scores 0, one wrong answer loses its points."""
    dist, results = built
    first, last = NAMES[0], NAMES[-1]
    blank = tmp_path / f"{first}.ipynb"
    blank.write_text(results[first].student.read_text())
    ag = load(results[last].student.parent.parent / "autograder" / f"{last}.ipynb")
    for cell in ag["cells"]:                       # one wrong answer: q1 off by one
        if cell["cell_type"] == "code" and source(cell).startswith("q1 = "):
            cell["source"] = source(cell) + "\nq1 += 1\n"
            break
    else:
        pytest.fail("no q1 cell in the autograder notebook")
    wrong = tmp_path / f"{last} (copy).ipynb"
    wrong.write_text(json.dumps(ag))
    grades = grade([tmp_path], dist)
    lines = {g.submission.name: g for g in grades}
    zero = lines[blank.name]
    assert not zero.error and zero.possible > 0 and zero.score == 0, zero.line()
    assert re.search(r"  0/\d+$", zero.line())
    one = lines[wrong.name]
    q1 = dict((q, (s, m)) for q, s, m in one.questions)["q1"]
    assert not one.error and q1[0] == 0 and one.score == one.possible - q1[1], one.line()
    assert one.line().endswith(f"  {one.possible - q1[1]:g}/{one.possible:g}")


def test_memlab_never_imports_otter():
    """The lab starts as fast as before: nothing in memlab imports otter."""
    code = ("import sys, memlab, memlab.homework, memlab.homework.grading, memlab.scenarios, "
            "memlab.widgets; sys.exit(any(m.split('.')[0] == 'otter' for m in sys.modules))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_grade_command_refuses_a_missing_file_in_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "memlab.homework", "--homework", str(HOMEWORK),
                          "grade", str(tmp_path / "nope.ipynb")],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "no such file" in run.stderr and not run.stdout


def test_homework_script_uses_the_project_venv():
    text = (ROOT / "scripts/homework.sh").read_text()
    assert 'source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"' in text and "memlab_venv" in text
    assert subprocess.run(["bash", "-n", str(ROOT / "scripts/homework.sh")]).returncode == 0


# --- every notebook through otter run (slow) -----------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_otter_run_on_solution_blank_and_each_wrong_answer(built, graded_here, name, tmp_path):
    dist, results = built
    ag_path = results[name].student.parent.parent / "autograder" / f"{name}.ipynb"
    ag, _, env, full = graded_here[name]
    (tmp_path / f"{name}.ipynb").write_text(ag_path.read_text())
    (tmp_path / f"{name} blank.ipynb").write_text(results[name].student.read_text())
    for question in full:
        nb = load(ag_path)
        right = env[question]
        wrong = repr(right + 1) if isinstance(right, int) else repr(WRONG_TRACE)
        nb["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None,
                            "outputs": [], "source": f"{question} = {wrong}"})
        (tmp_path / f"{name} wrong {question}.ipynb").write_text(json.dumps(nb))
    total = sum(p for _, p in full.values())
    for g in grade([tmp_path], dist):
        assert not g.error, g.line()
        assert g.possible == total
        if g.submission.stem == name:
            assert g.score == total, g.line()
        elif g.submission.stem.endswith("blank"):
            assert g.score == 0, g.line()
        else:
            question = g.submission.stem.rsplit(" ", 1)[1]
            assert g.score == total - full[question][1], g.line()
