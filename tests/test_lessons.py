"""Checks on the lesson notebooks' shape: goal first, predict before reveal, key points last.

The notebooks are executed top to bottom by `pytest --nbmake notebooks/`; these tests read
them as files and check the teaching rules every lesson follows.
"""

import json
import os
import re
from pathlib import Path

import pytest

from memlab.lessons import LESSONS as INDEX, index_markdown, next_link

ROOT = Path(__file__).resolve().parent.parent
LESSONS = [item.file.removesuffix(".ipynb") for item in INDEX]
MAX_CODE_LINES = 12
MAX_MARKDOWN_LINES = 24
MAX_LINE = 100


def cells(name):
    notebook = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    return [(c["cell_type"], "".join(c["source"]), c) for c in notebook["cells"]]


def is_prediction(kind, text):
    return kind == "code" and re.search(r"^Prediction\(", text, re.M) is not None


def is_reveal(kind, text):
    return kind == "code" and text.startswith("# Reveal")


@pytest.fixture(params=LESSONS)
def lesson(request):
    return request.param


class TestShape:
    """Each lesson opens with its learning goal and closes with key points and a check question."""

    def test_goal_first(self, lesson):
        kind, text, _ = cells(lesson)[0]
        assert kind == "markdown" and text.startswith("# ")
        assert "**Learning goal:**" in text

    def test_ends_with_key_points_a_question_its_answer_and_the_next_lesson(self, lesson):
        body = cells(lesson)
        assert body[-1][0] == "markdown" and body[-1][1] == next_link(lesson[:2]), \
            "the last cell links to the next lesson: memlab.lessons.next_link"
        tail = body[:-1]
        if is_reveal(tail[-1][0], tail[-1][1]):  # the cell that answers the check question
            tail = tail[:-1]
        tail = tail[-3:]
        assert tail[0][0] == "markdown" and tail[0][1].startswith("## Key points")
        assert tail[1][0] == "markdown" and tail[1][1].startswith("## Check your understanding")
        assert is_prediction(tail[2][0], tail[2][1]), "then the check question"

    def test_lessons_00_to_03_answer_their_check_question(self, lesson):
        if lesson[:2] <= "03":
            assert is_reveal(*cells(lesson)[-2][:2])

    def test_key_points_are_a_list(self, lesson):
        key = next(t for k, t, _ in cells(lesson) if t.startswith("## Key points"))
        assert len(re.findall(r"^- ", key, re.M)) >= 3


class TestIndex:
    """Every lesson notebook is in memlab.lessons' index; lesson 00 shows the index."""

    def test_index_and_notebooks_agree(self):
        files = sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
        assert files == sorted(item.file for item in INDEX)
        assert [item.number for item in INDEX] == [f[:2] for f in sorted(files)]

    def test_lesson_00_lists_every_lesson(self):
        code = [t for k, t, _ in cells("00_start_here") if k == "code"]
        assert any(re.search(r"^lesson_index\(\)$", t, re.M) for t in code)
        for item in INDEX:
            assert f"]({item.file})" in index_markdown() and item.answers.endswith("?")


class TestPredictBeforeReveal:
    """Every reveal cell has a prediction after the previous reveal; none is left unrevealed."""

    def test_each_reveal_follows_a_prediction(self, lesson):
        pending = False
        reveals = 0
        for index, (kind, text, _) in enumerate(cells(lesson)):
            if is_prediction(kind, text):
                pending = True
            elif is_reveal(kind, text):
                assert pending, f"cell {index} reveals without a prediction before it"
                pending = False
                reveals += 1
        assert reveals >= 1

    def test_predictions_are_followed_by_reveals(self, lesson):
        body = cells(lesson)
        kinds = [("P" if is_prediction(k, t) else "R" if is_reveal(k, t) else ".")
                 for k, t, _ in body]
        sequence = "".join(c for c in kinds if c != ".")
        if sequence.endswith("P"):  # the check question, when the lesson leaves it to the reader
            sequence = sequence[:-1]
        assert "PP" not in sequence and not sequence.endswith("P"), sequence


    def test_reveals_are_held_back_by_their_prediction(self, lesson):
        """A reveal computes at once but shows its output only once the guess is committed."""
        for index, (kind, text, _) in enumerate(cells(lesson)):
            if is_reveal(kind, text):
                assert re.search(r"^with reveal\(\):$", text, re.M), f"cell {index}"
                held = text.split("with reveal():", 1)[1]
                assert all(not line or line.startswith("    ") for line in
                           held.strip("\n").splitlines()), f"cell {index}: all of it held"


class TestCells:
    """Cells are short, clean and free of logic: the package computes, the notebook shows."""

    def test_committed_without_outputs(self, lesson):
        for index, (kind, _, cell) in enumerate(cells(lesson)):
            if kind == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, index

    def test_cells_are_short(self, lesson):
        for index, (kind, text, _) in enumerate(cells(lesson)):
            limit = MAX_CODE_LINES if kind == "code" else MAX_MARKDOWN_LINES
            lines = text.splitlines()
            assert len(lines) <= limit, f"cell {index} has {len(lines)} lines"
            assert max(map(len, lines or [""])) <= MAX_LINE, f"cell {index} has a long line"

    def test_no_functions_or_classes_in_cells(self, lesson):
        """...except in a cell tagged `student`: the one where a student writes code."""
        for index, (kind, text, cell) in enumerate(cells(lesson)):
            if kind == "code" and "student" not in cell["metadata"].get("tags", []):
                assert not re.search(r"^\s*(def|class) ", text, re.M), f"cell {index} defines code"

    def test_randomness_is_seeded(self, lesson):
        code = "\n".join(t for k, t, _ in cells(lesson) if k == "code")
        if re.search(r"\brandom\b|odd_sizes\(", code):
            assert re.search(r"seed", code), "randomness without a seed"

    def test_imports_resolve(self, lesson):
        import importlib

        code = "\n".join(t for k, t, _ in cells(lesson) if k == "code")
        for module, names in re.findall(r"^from (memlab[\w.]*) import (.+)$", code, re.M):
            mod = importlib.import_module(module)
            for name in names.split(","):
                assert hasattr(mod, name.strip()), f"{module} has no {name.strip()}"


class TestPredictions:
    """Every Prediction names its answer among its options and explains it, out of sight."""

    def test_source_is_folded(self, lesson):
        for index, (kind, text, cell) in enumerate(cells(lesson)):
            if is_prediction(kind, text):
                assert text.startswith("Prediction("), f"cell {index}: only the Prediction"
                assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, index

    def test_answer_is_an_option(self, lesson):
        import ast

        found = 0
        for kind, text, _ in cells(lesson):
            if not is_prediction(kind, text):
                continue
            call = next(node for node in ast.walk(ast.parse(text))
                        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Prediction")
            args = [ast.literal_eval(a) for a in call.args]
            args += [ast.literal_eval(k.value) for k in call.keywords]
            question, options, answer, explanation = args
            assert len(options) >= 2 and answer in options, question
            assert len(explanation) > 40, question
            found += 1
        assert found >= 2


class TestSliderValuesInText:
    """Values a lesson asks students to set on a slider are values the slider can take."""

    def test_lesson_02_sizes_are_on_the_size_slider(self):
        from memlab.scenarios import TWO_SOURCES

        (size,) = TWO_SOURCES.params
        text = "\n".join(t for k, t, _ in cells("02_two_sources") if k == "markdown")
        asked = [int(n.replace(",", "")) for m in
                 re.finditer(r"`size` (?:from ([\d,]+) to ([\d,]+)|= ([\d,]+))", text)
                 for n in m.groups() if n]
        assert len(asked) >= 3, asked
        for value in asked:
            assert size.min <= value <= size.max and (value - size.min) % size.step == 0, value


class TestWhereLessonsOpen:
    """Locally and on Binder the lessons open at the same path: lesson 00 under the root."""

    START = "lab/tree/notebooks/00_start_here.ipynb"

    def test_binder_badge_and_lab_sh_open_lesson_00_from_the_root(self):
        readme = (ROOT / "README.md").read_text()
        badge = re.search(r"mybinder\.org/v2/gh/\S+\?urlpath=(\S+?)\)", readme).group(1)
        assert badge == self.START
        assert (ROOT / self.START.removeprefix("lab/tree/")).exists()
        lab = (ROOT / "scripts" / "lab.sh").read_text()
        assert f"--LabApp.default_url=/{self.START}" in lab
        assert "--ServerApp.root_dir=." in lab and 'cd "$MEMLAB_ROOT"' in lab
        assert "jupyterlab notebooks" not in lab


# --------------------------------------------------------------------------------------------
# Every number the lessons state (text and Prediction explanations) against the real glibc.

NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")
#: Not measurements: release names, lesson and list numbers, code spans (inputs written as code).
NOT_A_CLAIM = [r"`[^`]*`", r"\b2\.(?:3[69]|4[13])\b", r"Debian 12", r"Ubuntu 24\.04",
               r"^#+ \d\d ·", r"^\s*\d+\. ", r"x86-64", r"lesson 0\d", r"\[0\d ·", r"^## Idea \d"]


def stated_numbers(name):
    """(cell index, number as written) for each number in the lesson's text and explanations;
    the last cell (the link to the next lesson, from memlab.lessons) is not the lesson's text."""
    import ast

    out = []
    for index, (kind, text, _) in enumerate(cells(name)[:-1]):
        if kind == "code" and is_prediction(kind, text):
            call = ast.parse(text).body[0].value
            text = "".join(ast.literal_eval(k.value) for k in call.keywords
                           if k.arg == "explanation")
        elif kind != "markdown":
            continue
        for pattern in NOT_A_CLAIM:
            text = re.sub(pattern, " ", text, flags=re.M)
        out += [(index, m.group().rstrip(",")) for m in NUMBER.finditer(text)]
    return out


def machine_release():
    from memlab.native import glibc_version

    return glibc_version()


_REAL: dict = {}


def real(trace, rel="2.36", every=None):
    """The real glibc's snapshots of ``trace`` (text): this machine's glibc when it is ``rel``,
    else Debian's build of ``rel`` (fetched once into memlab's cache)."""
    from memlab.native import replay_native
    from memlab.trace import parse_trace

    key = (trace, rel, every)
    if key not in _REAL:  # a real side that cannot run raises NativeUnavailable (conftest.py)
        libc_dir = None
        if machine_release() != rel:
            from memlab.native.glibc_releases import ensure_release

            libc_dir = ensure_release(rel)
        _REAL[key] = replay_native(parse_trace(trace), every=every, libc_dir=libc_dir)
    return _REAL[key]


def last(trace, rel="2.36"):
    return real(trace, rel)[-1]


def chunk(n, rel="2.36"):
    """The chunk size the real glibc gives malloc(n), from its uordblks (a heap chunk)."""
    pre = "o M_MMAP_THRESHOLD 33554432\na 0 1\ns before\n"
    snaps = real(pre + f"a 1 {n}\ns after\n", rel)
    return snaps[1]["uordblks"] - snaps[0]["uordblks"]


def first_malloc(rel="2.36"):
    return last("a 0 1\n", rel)


def tcache_block(rel="2.36"):
    """Chunk size of glibc's tcache bookkeeping block (made at the first malloc, or free)."""
    snap = last("a 0 1\na 1 1\nf 0\n", rel)
    return snap["uordblks"] - 2 * chunk(1, rel)


def default_of(param, candidates, trace):
    """The value of mallopt ``param`` that behaves, on ``trace``, as glibc's default."""
    def seen(text):
        return {k: v for k, v in last(text).items() if k not in ("op", "label")}

    base = seen(trace)
    same = [v for v in candidates if seen(f"o {param} {v}\n" + trace) == base]
    return same[0] if len(same) == 1 else None


def vecvec(n, rel="2.36", after=""):
    from memlab.scenarios import VECVEC

    return real(VECVEC.with_max(n=n).text(n=n) + after, rel)


def tcache_waiting(n, rel):
    """Freed 32-byte chunks still counted in use after vecvec(n): those in tcache."""
    return (vecvec(n, rel)[-1]["uordblks"] - tcache_block(rel)) // chunk(4, rel)


def mapped_pages(size):
    """Pages the real glibc maps for malloc(size) when it maps every request."""
    before, after = real(f"o M_MMAP_THRESHOLD 0\na 0 1\ns before\na 1 {size}\ns after\n")
    return (after["hblkhd"] - before["hblkhd"]) // os.sysconf("SC_PAGE_SIZE")


def sizes_01():
    from memlab.scenarios.costs import odd_sizes

    return odd_sizes(10_000, seed=2036)


def about(value, places):
    """``value`` rounded as a text rounds it (to ``places`` significant digits)."""
    from math import floor, log10

    return round(value, -int(floor(log10(abs(value)))) + places - 1)


def two_sources_switch():
    """The smallest slider size whose first block the real glibc maps."""
    from memlab.scenarios import TWO_SOURCES

    for size in range(128_000, 140_001, 1_000):
        if real(TWO_SOURCES.text(size=size))[0]["hblks"]:
            return size
    return None


def dyn(rel="2.36"):
    """The dynamic-threshold scenario's snapshots on the real glibc, with the free top."""
    mib = 1 << 20
    return real(f"a 0 {mib}\ns mapped\nf 0\na 1 {mib}\ns second\nf 1\ns freed\n", rel)


def pushed(n):
    """For push_back(n) on the real glibc: (blocks mapped, blocks from the heap, first mapped)."""
    from memlab.scenarios import PUSH_BACK
    from memlab.trace import parse_trace

    text = PUSH_BACK.text(n=n)
    ops = [op for op in parse_trace(text) if op.kind != "snapshot"]
    snaps = real(text, every=1)
    mallocs = [op for op in ops if op.kind == "malloc"]
    mapped = []
    for op, before, after in zip(ops[1:], snaps, snaps[1:]):
        if op.kind == "malloc" and after["hblks"] > before["hblks"]:
            mapped.append(op.size)
    first = ops[0]
    if first.kind == "malloc" and snaps[0]["hblks"]:
        mapped.insert(0, first.size)
    return mapped, len(mallocs) - len(mapped)


KIB = 1024
#: For each lesson: number as written -> the real value(s) it states (each must round to it).
CLAIMS = {
    "00_start_here": {
        "656": lambda: [tcache_block(), first_malloc()["uordblks"] - chunk(1)],
        "128": lambda: [default_of("M_TOP_PAD", [0, 65536, 131072, 262144], "a 0 1\n") // KIB],
        "135,168": lambda: [first_malloc()["brk"]],
        "688": lambda: [first_malloc()["uordblks"], first_malloc("2.41")["uordblks"]],
        "32": lambda: [chunk(1), first_malloc("2.43")["uordblks"]],
    },
    "01_why_allocators": {
        "13": "an example size", "24": "an example size", "160": "an example size",
        "4,096": lambda: [os.sysconf("SC_PAGE_SIZE"), 4096 * mapped_pages(200)],
        "10,000": lambda: [len(sizes_01())],
        "41": lambda: [about(len(sizes_01()) * 4096 * mapped_pages(max(sizes_01())) / 1e6, 2)],
        "1": lambda: [about(sum(sizes_01()) / 1e6, 1)],
        "132": lambda: [first_malloc()["brk"] // KIB],
        "8": lambda: [chunk(24) - 24, chunk(40) - 40],
        "16": lambda: [chunk(25) - chunk(24)],
        "32": lambda: [chunk(1)],
        "4,000": lambda: [about(4096 - sum(sizes_01()) / len(sizes_01()), 1)],
        "25": lambda: [mapped_pages(100_000)],
        "1,000,000": "the number of list nodes in the question",
        "4,096,000,000": lambda: [1_000_000 * os.sysconf("SC_PAGE_SIZE") * mapped_pages(40)],
        "48": lambda: [chunk(40), about(1_000_000 * chunk(40) / 1e6, 2)],
        "85": lambda: [int(1_000_000 * 4096 * mapped_pages(40) / (1_000_000 * chunk(40)))],
    },
    "02_two_sources": {
        "128": lambda: [default_of("M_MMAP_THRESHOLD", [65536, 131072, 262144],
                                   "a 0 1\na 1 130000\na 2 100000\na 3 200000\n") // KIB,
                        default_of("M_TOP_PAD", [0, 65536, 131072, 262144], "a 0 1\n") // KIB],
        "131,072": lambda: [default_of("M_MMAP_THRESHOLD", [65536, 131072, 262144],
                                       "a 0 1\na 1 130000\na 2 100000\na 3 200000\n")],
        "8": lambda: [chunk(24) - 24],
        "16": lambda: [chunk(25) - chunk(24)],
        "200,016": lambda: [chunk(200_000)],
        "200,704": lambda: [last("a 0 200000\n")["hblkhd"]],
        "656": lambda: [tcache_block()],
        "132": lambda: [first_malloc()["brk"] // KIB],
        "2,000": "the second block's size in the scenario",
        "100,000": "a value of the size slider",
        "128,000": "a value of the size slider", "140,000": "a value of the size slider",
        "1,000": "the size slider's step", "500,000": "a value of the size slider",
        "135,168": lambda: [first_malloc()["brk"]],
        "134,512": lambda: [last("a 0 131072\n")["keepcost"] + chunk(131_072)],
        "135,000": lambda: [two_sources_switch()],
        "134,000": lambda: [two_sources_switch() - 1_000],
        "1": "1 MiB, a value of the M_MMAP_THRESHOLD knob",
        "135,008": lambda: [chunk(135_000)],
        "1,048,576": "1 MiB, the scenario's request",
        "32": lambda: [32 if last(f"a 0 {33 << 20}\nf 0\na 1 {33 << 20}\n")["hblks"] == 1
                       and last(f"a 0 {31 << 20}\nf 0\na 1 {31 << 20}\n")["hblks"] == 0
                       else None],
        "1,052,672": lambda: [dyn()[0]["hblkhd"]],
        "1,048,592": lambda: [chunk(1 << 20)],
        "2,105,344": lambda: [2 * dyn()[0]["hblkhd"]],
        "1,183,088": lambda: [dyn()[2]["keepcost"]],
    },
    "03_vector_of_vectors": {
        "4": "the size of one int, the program's request",
        "24": "the outer vector's bytes per element (three pointers)",
        "3": "the N of the printed trace",
        "240,000": lambda: [24 * 10_000],
        "32": lambda: [chunk(4), (vecvec(100_000)[-1]["rss"] // 100_000)],
        "405,504": lambda: [vecvec(10_000)[-1]["brk"]],
        "7": lambda: [tcache_waiting(10_000, "2.36"), 10_000 - vecvec(10_000)[-1]["smblks"],
                      tcache_waiting(100_000, "2.41")],
        "9,993": lambda: [vecvec(10_000)[-1]["smblks"]],
        "5,603": lambda: [max(n for n in (5_602, 5_603, 5_604)
                              if vecvec(n)[0]["hblks"] == 0)],
        "100": "100 million vectors (the seed's question); 100 operations a tick (a play speed)",
        "300": "three operations per vector",
        "10,000": lambda: [__import__("memlab.scenarios", fromlist=["VECVEC"]).VECVEC
                           .params[0].max],
        "3.2": lambda: [about(vecvec(100_000)[-1]["rss"] * 1000 / 1e9, 2)],
        "1": lambda: [vecvec(100_000, "2.43")[-1]["ordblks"] - 1],
        "2": "a capacity of the vector", "8": "a capacity of the vector",
        "128": lambda: [default_of("M_MMAP_THRESHOLD", [65536, 131072, 262144],
                                   "a 0 1\na 1 130000\na 2 100000\na 3 200000\n") // KIB],
        "131,072": lambda: [pushed(100_000)[0][0]],
        "262,144": lambda: [pushed(100_000)[0][1]],
        "524,288": lambda: [pushed(100_000)[0][2], pushed(100_000)[0][-1]],
        "15": lambda: [pushed(100_000)[1]],
        "400,000": lambda: [4 * 100_000],
        "656": lambda: [tcache_block()],
        "132": lambda: [first_malloc()["brk"] // KIB],
        "16": lambda: [tcache_waiting(100_000, "2.43")],
        "768": lambda: [tcache_block("2.43")],
        "100,000": "the N of the experiment",
        "99,984": lambda: [(lambda s: (s["fordblks"] - s["keepcost"]) // chunk(4, "2.43"))(
            vecvec(100_000, "2.43")[-1])],
        "3,199,488": lambda: [(lambda s: s["fordblks"] - s["keepcost"])(
            vecvec(100_000, "2.43")[-1])],
        "3,244,032": lambda: [vecvec(100_000, r)[-1]["brk"] for r in ("2.36", "2.41", "2.43")],
        "3,203,072": lambda: [vecvec(100_000, r)[-1]["rss"] for r in ("2.36", "2.41", "2.43")],
        "99,993": lambda: [vecvec(100_000, r)[-1]["smblks"] for r in ("2.36", "2.41")],
        "0": lambda: [vecvec(100_000, "2.43")[-1]["smblks"],
                      vecvec(100_000, "2.36")[-1]["ordblks"] - 1,
                      vecvec(100_000, "2.41")[-1]["ordblks"] - 1],
        "688": lambda: [first_malloc(r)["uordblks"] for r in ("2.36", "2.41")],
        "4,096": lambda: [vecvec(10_000, after="t 0\n")[-1]["brk"]],
    },
}


@pytest.mark.parametrize("name", [n for n in LESSONS if n in CLAIMS])
def test_every_stated_number_is_accounted_for(name):
    """Each number in the lesson's text is a claim checked below, or an input named here."""
    missing = sorted({n for _, n in stated_numbers(name)} - set(CLAIMS[name]))
    assert missing == [], f"{name}: numbers without a check: {missing}"


@pytest.mark.parametrize("name,number", [(n, k) for n in CLAIMS for k, v in CLAIMS[n].items()
                                         if callable(v)])
def test_stated_number_is_the_real_glibcs(name, number):
    """The number as written equals what the real glibc gives (each check listed)."""
    stated = float(number.replace(",", ""))
    values = CLAIMS[name][number]()
    assert values and all(v is not None and float(v) == stated for v in values), \
        f"{name} states {number}; the real glibc gives {values}"
