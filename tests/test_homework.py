"""The homework: every assignment builds with Otter-Grader, grades right, and hides its answers.

The default run builds every assignment with `otter assign` (which also grades the master's
solutions with Otter and fails unless they score full marks), grades two submissions for real
with `otter run` through the grade command, and checks the rest in this process with Otter's
own test files: blank notebooks score zero, each wrong answer loses exactly its question's
points, another student or another class seed changes an expected answer. With --run-slow,
every solution, blank and wrong-answer notebook of every assignment also goes through
`otter run`. The real side: the traces behind 06's and 07's expected answers and their
solutions' traces run on the real glibc 2.36 as on the model, and what their written answers
claim holds on the real glibc and the real jemalloc, tcmalloc and mimalloc.
"""

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from memlab.glibc import Malloc
from memlab.homework import ASSIGNMENTS, MALLOC_PATHS, FindingAChunk, LockedIn, attempt
from memlab.homework.grading import build, grade, masters
from memlab.native import build as build_native, replay_native
from memlab.native.allocators import NAMES as ALLOCATORS, library
from memlab.native.rivals import run_allocators_text
from memlab.replay import replay
from memlab.snapshot import Snapshot
from memlab.trace import parse_trace
from memlab.units import KiB, MiB

ROOT = Path(__file__).resolve().parent.parent
HOMEWORK = ROOT / "homework"
NAMES = [m.stem for m in masters(HOMEWORK)]
SEED_LINE = re.compile(r"^\s*SEED\s*=", re.M)
WRONG_TRACE = "a 0 1\n"          # parses, reaches no assignment's goal


def wrong_answer(right):
    """An answer of the same form as `right` that misses: a number off by one, another path
    of glibc's search, a trace or a machine setting that reaches no goal."""
    if isinstance(right, int):
        return right + 1
    if dataclasses.is_dataclass(right):
        return dataclasses.replace(right, mode=0)        # B then reaches all of its target
    if right in MALLOC_PATHS:
        return "top" if right != "top" else "mmap"
    return WRONG_TRACE


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

    Otter's own cells (`import otter`, `grader.check`) and the cells tagged otter_ignore
    are left out, as Otter leaves them; like Otter, every cell starts by setting the seed
    variable; a cell that raises is skipped, as nbconvert does with errors allowed.
    `student` replaces the STUDENT_ID line.
    """
    env = {"__name__": "__main__"}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code" or "otter_ignore" in cell["metadata"].get("tags", []):
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
    assert lessons == NAMES, "each lesson has its assignment, named after it"
    assert set(NAMES) == set(ASSIGNMENTS), "each assignment has its problem in memlab.homework"


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
    return [s for s in found if len(s) >= 12]          # shorter lines are common words


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
        got = scores(ag, {**env, question: wrong_answer(env[question])})
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
def test_grade_command_scores_a_blank_and_a_wrong_submission(built, graded_here, tmp_path):
    """Two real `otter run`s: a blank notebook scores 0, one wrong answer loses its points."""
    dist, results = built
    first, last = NAMES[0], NAMES[-1]
    blank = tmp_path / f"{first}.ipynb"
    blank.write_text(results[first].student.read_text())
    ag = load(results[last].student.parent.parent / "autograder" / f"{last}.ipynb")
    wrong_q1 = wrong_answer(graded_here[last][2]["q1"])
    for cell in ag["cells"]:                       # one wrong answer: q1's
        if cell["cell_type"] == "code" and re.search(r"^q1 = ", source(cell), re.M):
            cell["source"] = source(cell) + f"\nq1 = {wrong_q1!r}\n"
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
        wrong = repr(wrong_answer(env[question]))
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


# --- the real side ---------------------------------------------------------------------
#: Students whose problems the real-side tests run (the masters' sample student among them).
STUDENTS = ("sample-student", "ada", "grace")
#: The traces of each problem that expected answers are computed from, and the
#: make-it-happen answers, whose goals the grader checks on the model.
REPLAYED = {"06_locked_in": ("trim_trace", "reverse_trace", "program_trace"),
            "07_finding_a_chunk": ("bins_trace", "refill_trace")}
MADE = {"06_locked_in": ("q3", "q4"), "07_finding_a_chunk": ("q3",)}


def markdown_of(name):
    """The master's Markdown, questions and model answers, with its lines joined."""
    cells = load(HOMEWORK / f"{name}.ipynb")["cells"]
    return " ".join(" ".join(source(c).split()) for c in cells if c["cell_type"] == "markdown")


def model_and_real(text):
    """The snapshots of the model of glibc 2.36 and of the real glibc, one per operation."""
    model = replay(text, lambda: Malloc(glibc="2.36"), every=1)
    real = [Snapshot.from_dict(d) for d in replay_native(parse_trace(text), every=1)]
    return model, real


def labelled(snapshots):
    return {s.label: s for s in snapshots if s.label}


@pytest.mark.parametrize("name", sorted(REPLAYED))
def test_answers_come_from_traces_the_real_glibc_runs_alike(graded_here, glibc_236, name):
    """The model's counters after every operation of each trace graded on, the solutions'
    traces included, are the real glibc's: the expected answers are the real glibc's."""
    ag, seed, _, _ = graded_here[name]
    checked = 0
    for student in STUDENTS:
        env = run_cells(ag, seed, student=student)
        texts = [getattr(env["problem"], t) for t in REPLAYED[name]] + [env[q] for q in MADE[name]]
        for text in texts:
            model, real = model_and_real(text)
            operations = [line for line in text.splitlines() if line[:1] not in ("", "s", "#")]
            assert len(model) == len(real) == len(operations)
            assert [m.first_difference(r) for m, r in zip(model, real)] == [None] * len(model)
            checked += 1
    assert checked == len(STUDENTS) * (len(REPLAYED[name]) + len(MADE[name]))


def test_06_written_answer_holds_on_the_real_glibc(glibc_236):
    """q5's model answer: a 4 KiB trim threshold does not shrink the pinned heap, and
    malloc_trim(0) drops nearly all of RES while the heap's end moves little."""
    text = markdown_of("06_locked_in")
    assert "set `M_TRIM_THRESHOLD` to 4096 first" in text
    assert "a 24-byte block above them" in text and "The kernel drops those pages at once" in text
    for student in STUDENTS:
        problem = LockedIn.for_student(2026, student)
        assert f"a {problem.n} 24\n" in problem.program_trace
        for snaps in model_and_real("o M_TRIM_THRESHOLD 4096\n" + problem.program_trace):
            at = labelled(snaps)
            assert at["freed"].arena == at["filled"].arena
        for snaps in model_and_real(problem.trim_trace):
            at = labelled(snaps)
            assert at["trimmed"].rss <= at["freed"].rss // 100
            assert at["freed"].brk - at["trimmed"].brk <= 132 * KiB
            assert at["freed"].brk - at["trimmed"].brk <= at["freed"].brk // 20


def _reversed_frees(text):
    built, freed = text.split("s built\n")
    frees = [line for line in freed.splitlines() if line.startswith("f ")]
    return built + "s built\n" + "\n".join(reversed(frees)) + "\ns freed\n"


def test_07_written_answer_holds_on_the_real_allocators(glibc_236):
    """q4's model answer, on the real glibc, jemalloc, tcmalloc and mimalloc of this machine."""
    build_native("replay")
    for name in ALLOCATORS:
        library(name)                         # NativeUnavailable, naming the package, if missing
    problem = FindingAChunk.for_student(2026, "ada")
    text = markdown_of("07_finding_a_chunk")
    assert (f"allocates {problem.RIVAL_BLOCKS:,} blocks of {problem.RIVAL_SIZE:,} bytes and "
            "writes each") in text
    assert "glibc ends lowest, with well under 1 MiB resident" in text
    assert "each followed by a 24-byte block that stays live" in text
    assert problem.bins_trace.splitlines()[1::2][:3] == ["a 1 24", "a 3 24", "a 5 24"]
    runs = run_allocators_text(problem.rivals_trace, "rivals")

    def rss(name, label):
        return next(p.rss for p in runs[name].points if p.label == label)

    glibc = rss("glibc", "freed")
    assert glibc < MiB
    assert all(rss(name, "freed") > 10 * glibc for name in ALLOCATORS if name != "glibc")
    # "jemalloc keeps most of it"; "tcmalloc and mimalloc ... hand almost nothing back"
    assert rss("jemalloc", "freed") >= rss("jemalloc", "built") / 2
    for name in ("tcmalloc", "mimalloc"):
        assert rss(name, "freed") >= 0.9 * rss(name, "built"), name
    # "Freed the other way round, glibc would keep nearly all of it"
    reverse = labelled(Snapshot.from_dict(d)
                       for d in replay_native(_reversed_frees(problem.rivals_trace).encode()))
    assert reverse["freed"].rss >= 0.9 * reverse["built"].rss


def test_07_students_meet_every_path_of_the_search():
    """q1's answers spread over four paths, and q3's goals over five, among 60 students."""
    problems = [FindingAChunk.for_student(2026, f"s{i}") for i in range(60)]
    assert {attempt(p.bins_trace).paths[-1] for p in problems} == {
        "unsorted-exact", "largebin", "binmap", "top"}
    assert {p.goal for p in problems} == set(FindingAChunk.GOALS)
