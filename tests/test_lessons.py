"""Checks on the lesson notebooks' shape: goal first, predict before reveal, key points last.

The notebooks are executed top to bottom by `pytest --nbmake notebooks/`; these tests read
them as files and check the teaching rules every lesson follows.
"""

import importlib.util
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


    def test_lesson_06_knob_values_are_on_the_knob_sliders(self):
        from memlab.widgets.controls import KNOBS

        text = "\n".join(t for k, t, _ in cells("06_locked_in"))
        unit = {"KiB": 1 << 10, "MiB": 1 << 20}
        asked = [(name, int(n) * unit[u]) for name, n, u in
                 re.findall(r"`?(M_[A-Z_]+)`?(?: =| at)? (\d+) (KiB|MiB)", text)]
        assert len(asked) >= 5, asked
        values = {knob.name: knob.values for knob in KNOBS}
        for name, value in asked:
            assert value in values[name], (name, value)


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

NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:st|nd|rd|th)?(?![\w])")
#: Not measurements: release names, lesson and list numbers, code spans (inputs written as code).
NOT_A_CLAIM = [r"`[^`]*`", r"\b2\.(?:3[69]|4[13])\b", r"Debian 12", r"Ubuntu 24\.04",
               r"^#+ \d\d ·", r"^\s*\d+\. ", r"x86-64", r"lesson 0\d", r"\[0\d ·", r"^## Idea \d"]


def printed_text(code):
    """The fixed text a code cell prints: the string literals passed to print(), and the
    literal parts of f-strings passed to it (not what their fields fill in)."""
    import ast

    parts = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "print":
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    parts.append(arg.value)
                elif isinstance(arg, ast.JoinedStr):
                    parts += [v.value for v in arg.values if isinstance(v, ast.Constant)]
    return "\n".join(parts)


def stated_numbers(name):
    """(cell index, number as written) for each number in the lesson's text, explanations and
    printed sentences; the last cell (the link to the next lesson, from memlab.lessons) is not
    the lesson's text."""
    import ast

    out = []
    for index, (kind, text, _) in enumerate(cells(name)[:-1]):
        if kind == "code" and is_prediction(kind, text):
            call = ast.parse(text).body[0].value
            text = "".join(ast.literal_eval(k.value) for k in call.keywords
                           if k.arg == "explanation")
        elif kind == "code":
            text = printed_text(text)
        elif kind != "markdown":
            continue
        for pattern in NOT_A_CLAIM:
            text = re.sub(pattern, " ", text, flags=re.M)
        out += [(index, re.sub(r"(st|nd|rd|th)$", "", m.group()).rstrip(","))
                for m in NUMBER.finditer(text)]   # an ordinal states its number: 8th -> 8
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



# --- lesson 04: this machine's kernel, through its real glibc (the probe only reserves) ---------

def meminfo(key):
    """A /proc/meminfo value of this machine, in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            return int(rest.split()[0]) * 1024
    raise KeyError(key)


def mode_0():
    """This machine, which must run overcommit mode 0 for the lesson's mode-0 statements."""
    from memlab.native import NativeUnavailable
    from memlab.scenarios.overcommit import Machine

    machine = Machine.here()
    if machine.mode != 0:
        raise NativeUnavailable(f"this machine runs overcommit mode {machine.mode}; the lesson's "
                                "kernel checks need 0")
    return machine


def kernel_largest_malloc():
    """The largest malloc (a multiple of 16) this machine's kernel and glibc grant, searched
    above RAM + swap as /proc/meminfo gives them."""
    from memlab.scenarios.overcommit import probe_malloc

    mode_0()
    lo, hi = meminfo("MemTotal") + meminfo("SwapTotal"), None
    hi = lo + (1 << 20)
    if not probe_malloc(lo) or probe_malloc(hi):
        return None
    while hi - lo > 16:
        mid = (lo + hi) // 32 * 16
        lo, hi = (mid, hi) if probe_malloc(mid) else (lo, mid)
    return lo


def commit_formula_holds():
    """Whether swap + RAM x overcommit_ratio / 100 is this machine's CommitLimit."""
    from memlab.scenarios.overcommit import Machine

    return Machine.here().commit_limit == meminfo("CommitLimit")


def grown_steps(step, limit, steps):
    """realloc by ``step`` on the real glibc (``steps`` times): how many steps keep the block's
    mapping, the commit charge of the block, within ``limit``."""
    trace = "".join(f"r 0 {k * step}\ns\n" for k in range(1, steps + 1))
    return sum(snap["hblkhd"] <= limit for snap in real(trace))


def grown_pages():
    """Pages resident after growing a block to 1 GiB by 100 MiB on the real glibc."""
    mib = 1 << 20
    trace = "".join(f"r 0 {k * 100 * mib}\n" for k in range(1, 11)) + f"r 0 {1 << 30}\ns\n"
    return last(trace)["rss"] // os.sysconf("SC_PAGE_SIZE")


# --- lesson 05: the C++ programs, run and recorded on this machine ----------------------------

_PROGRAMS: dict = {}


def program(kind, n=2**20):
    """The real ``containers KIND N``'s stages by label (this machine's glibc must be 2.36)."""
    from memlab.native import NativeUnavailable
    from memlab.native.programs import run_program

    if machine_release() != "2.36":
        raise NativeUnavailable(f"this machine runs glibc {machine_release()}; the lesson's "
                                "program numbers are glibc 2.36's")
    if (kind, n) not in _PROGRAMS:
        _PROGRAMS[kind, n] = {s["label"]: s for s in run_program(kind, n)}
    return _PROGRAMS[kind, n]


def recording(kind, n):
    """The trace the recorder writes for the real ``containers KIND N``."""
    import tempfile

    from memlab.native.programs import record_program

    if (kind, n, "trace") not in _PROGRAMS:
        with tempfile.TemporaryDirectory() as tmp:
            trace, _ = record_program(Path(tmp) / "p.trace", kind, n)
            _PROGRAMS[kind, n, "trace"] = trace.read_text()
    return _PROGRAMS[kind, n, "trace"]


def recorded(kind, n):
    """The malloc sizes the real ``containers KIND N`` asks for (libstdc++'s pool left out)."""
    from memlab.trace import parse_trace

    return [op.size for op in parse_trace(recording(kind, n)) if op.kind == "malloc"][1:]


def vector_blocks():
    """(heap blocks, mapped blocks) of the real vector program of 2^20 ints: its recorded
    trace replayed on the real glibc, each malloc placed where the program's was."""
    from memlab.trace import parse_trace

    text = recording("vector", 2**20)
    ops = [op for op in parse_trace(text) if op.kind != "snapshot"]
    after = {snap["op"]: snap for snap in real(text, every=1)}   # by operations run so far
    heap, mapped = [], []
    for count, op in enumerate(ops[1:], start=2):
        if op.kind == "malloc":
            grew = after[count]["hblks"] > after[count - 1]["hblks"]
            (mapped if grew else heap).append(op.size)
    return heap, mapped


# --- lesson 06: the pinned heap on the real glibc ---------------------------------------------

def pinned_real(settings="", **values):
    """The real glibc's snapshots of the pinned scenario, by label."""
    from memlab.scenarios.pinned import PINNED

    return {s["label"]: s for s in real(settings + PINNED.text(**PINNED.values(**values)))}


def trims(settings, *sizes):
    """Whether the real glibc shrinks the heap when blocks of ``sizes`` (no top pad) are freed."""
    body = "".join(f"a {i + 1} {s}\n" for i, s in enumerate(sizes)) + "s a\n"
    body += "".join(f"f {i + 1}\n" for i in reversed(range(len(sizes)))) + "s b\n"
    before, after = real(settings + "o M_TOP_PAD 0\na 0 1\n" + body)
    return after["brk"] < before["brk"]


def trim_threshold_kib():
    """glibc's default M_TRIM_THRESHOLD in KiB: a 100 kB free top stays, a 160 kB one goes,
    as with the threshold set to 128 KiB and unlike 64 or 256 KiB."""
    seen = (trims("", 100_000), trims("", 100_000, 60_000))
    same = [v for v in (65536, 131072, 262144)
            if (trims(f"o M_TRIM_THRESHOLD {v}\n", 100_000),
                trims(f"o M_TRIM_THRESHOLD {v}\n", 100_000, 60_000)) == seen]
    return same[0] // KIB if len(same) == 1 else None


# --- lesson 07: the search on the real glibc, the designs on the real allocators --------------

def fastbin_limit():
    """The largest chunk the real glibc puts in a fastbin once its tcache list is full."""
    got = []
    for n in (104, 120, 136):
        trace = "".join(f"a {i} {n}\n" for i in range(8)) + "a 8 24\n"
        trace += "".join(f"f {i}\n" for i in range(8))
        if last(trace)["smblks"] == 1:
            got.append(chunk(n))
    return max(got) if got else None


def tcache_limit():
    """The largest chunk the real glibc keeps in tcache when freed (others go to a bin and
    count as free)."""
    got = []
    for n in (1000, 1016, 1032, 1048, 1064):
        before, after = real(f"a 0 {n}\na 1 24\ns\nf 0\ns\n")
        if after["fordblks"] == before["fordblks"]:
            got.append(chunk(n))
    return max(got) if got else None


def after_nine_frees():
    """The real glibc's snapshot after lesson 07's nine frees of 112-byte chunks."""
    from memlab.scenarios.designs import FINDING
    from memlab.trace import parse_trace

    ops = [op for op in parse_trace(FINDING) if op.kind != "snapshot"]
    assert [op.kind for op in ops[10:19]] == ["free"] * 9
    return next(snap for snap in real(FINDING, every=1) if snap["op"] == 19)


def tcache_count():
    """How many of lesson 07's nine freed 112-byte chunks the real glibc keeps in tcache."""
    return 9 - after_nine_frees()["smblks"]


def arenas_per_cpu():
    """The arenas the real glibc makes for threads, main arena included, per CPU of this machine:
    each of 8 x CPUs + 2 threads mallocs 16 bytes; a new arena (its own heap) grows `arena`.
    M_ARENA_TEST 1 makes glibc compute its limit at the second arena, so that a machine with
    one CPU shows it too (by default glibc counts the CPUs only past 8 arenas)."""
    cpus = os.sysconf("SC_NPROCESSORS_ONLN")   # what glibc counts (get_nprocs)
    threads = range(1, 8 * cpus + 3)
    trace = "o M_ARENA_TEST 1\n" + "".join(f"n {t}\n" for t in threads) + "s created\n"
    trace += "".join(f"T {t}\na {t} 16\ns {t}\n" for t in threads) + "T 0\n"
    sizes = [s["arena"] for s in real(trace) if s["label"]]
    return (1 + sum(b > a for a, b in zip(sizes, sizes[1:]))) / cpus


_DESIGNS: dict = {}


def design_mib(case, name, label="freed"):
    """Resident MiB at ``label`` of the real allocator ``name`` in lesson 07's case ``case``."""
    from memlab.native import build
    from memlab.native.allocators import NAMES, library
    from memlab.scenarios.designs import run_designs

    if not _DESIGNS:
        build("replay")
        for allocator in NAMES:
            library(allocator)     # NativeUnavailable, naming the package, when one is missing
        _DESIGNS.update(run_designs())
    point = next(p for p in _DESIGNS[case][name].points if p.label == label)
    return point.rss / (1 << 20)


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
    "04_overcommit": {
        "0": "mode 0 and no swap, the machines of the questions",
        "4": "4 GiB of swap, the check question's machine",
        "16": "16 GiB of RAM, the simulated machine; 16 bytes, a step of the probe",
        "18": "18 GiB, the check question's request",
        "20": "20 GiB: 16 GiB of RAM + 4 GiB of swap; 20 GiB, a request of the probe",
        "30": "30 GiB, a request of the probe",
        "100": "100 GiB and 100 MiB, the seed's requests; a value of the ratio slider",
        "1,024": lambda: [__import__("memlab.scenarios.overcommit", fromlist=["x"])
                          .probe_grow(100 << 20, 100 << 30) // (100 << 20)],
        "2": lambda: [grown_pages()],
        "3,392": lambda: [(lambda edge: edge and edge - meminfo("MemTotal")
                           - meminfo("SwapTotal"))(kernel_largest_malloc())],
        "50": lambda: [int(Path("/proc/sys/vm/overcommit_ratio").read_text())],
        "8": lambda: [16 * 50 // 100 if commit_formula_holds() else None],
        "81": lambda: [grown_steps(100 << 20, 8 << 30, 82) if commit_formula_holds() else None],
        "8,100": lambda: [100 * grown_steps(100 << 20, 8 << 30, 82)],
        "82": lambda: [grown_steps(100 << 20, 8 << 30, 82) + 1],
        "7.9": lambda: [round(grown_steps(100 << 20, 8 << 30, 82) * 100 / 1024, 1)],
    },
    "05_what_top_shows": {
        "2": "2^20 ints, the programs' N", "20": "2^20 ints, the programs' N",
        "1,048,576": "2^20 ints, the programs' N",
        "30": "a value of the RAM slider", "50": "a value of the RAM slider",
        "64": lambda: [max(vector_blocks()[0]) // KIB],
        "4": lambda: [min(vector_blocks()[0]), program("vector")["filled"]["hblkhd"] >> 20],
        "128": lambda: [min(vector_blocks()[1]) // KIB],
        "4,198,400": lambda: [
            program("vector")["filled"]["hblkhd"],
            program("vector")["cleared"]["vmsize"] - program("vector")["shrink_to_fit"]["vmsize"],
            program("vector")["cleared"]["vmrss"] - program("vector")["shrink_to_fit"]["vmrss"]],
        "4,329,472": lambda: [program("vector")["filled"]["rss"]],
        "131,072": lambda: [program("vector")["filled"]["rss"]
                            - program("vector")["filled"]["hblkhd"],
                            program("vector")["destroyed"]["rss"]],
        "24": lambda: [recorded("list", 3)[0]],
        "32": lambda: [chunk(24), program("list")["filled"]["rss"] >> 20,
                       (program("list")["cleared"]["rss"] >> 20)],
        "33,554,432": lambda: [program("list")["filled"]["rss"], 2**20 * chunk(24)],
        "7": lambda: [2**20 - program("list")["cleared"]["smblks"]],
        "1,048,569": lambda: [program("list")["cleared"]["smblks"]],
    },
    "06_locked_in": {
        "0": "a value of pin", "1": "a value of pin and trim",
        "4": "4 MiB of M_TOP_PAD, 4 KiB (4096) of M_TRIM_THRESHOLD: values the text sets",
        "24": "the small block's size, an input", "32": "32 MiB, a value of M_TRIM_THRESHOLD",
        "64": "64 KiB, a value of M_MMAP_THRESHOLD", "100": "the scenario's n",
        "100,000": "the scenario's block size", "1,000": "the program's block size",
        "10,000": "the program's N",
        "128": lambda: [trim_threshold_kib(),
                        default_of("M_TOP_PAD", [0, 65536, 131072, 262144], "a 0 1\n") // KIB,
                        default_of("M_MMAP_THRESHOLD", [65536, 131072, 262144],
                                   "a 0 1\na 1 130000\na 2 100000\na 3 200000\n") // KIB],
        "10": lambda: [about(pinned_real()["filled"]["rss"] / 1e6, 1),
                       about(pinned_real()["freed"]["fordblks"] / 1e6, 1)],
        "10,132,816": lambda: [pinned_real()["freed"]["fordblks"]],
        "10,002,432": lambda: [pinned_real()["freed"]["rss"],
                               pinned_real("o M_TRIM_THRESHOLD 33554432\n", pin=0)["freed"]["rss"],
                               pinned_real(trim=1)["freed"]["rss"]],
        "135,168": lambda: [pinned_real(pin=0)["freed"]["brk"]],
        "4,198,400": lambda: [pinned_real("o M_TOP_PAD 4194304\n", pin=0)["freed"]["brk"]],
        "10,137,600": lambda: [pinned_real("o M_MMAP_THRESHOLD 65536\n")["filled"]["hblkhd"]],
        "99": lambda: [pinned_real("o M_MMAP_THRESHOLD 65536\n")["filled"]["hblks"]],
        "102,400": lambda: [pinned_real("o M_MMAP_THRESHOLD 65536\n", pin=p)["freed"]["rss"]
                            for p in (0, 1)],
        "131,072": lambda: [(lambda s: s["freed"]["brk"] - s["trimmed"]["brk"])(
            pinned_real(trim=1))],
        "8,192": lambda: [pinned_real(trim=1)["trimmed"]["rss"]],
        "10,162,176": lambda: [program("pinned", 10_000)["freed"]["rss"]],
        "16,384": lambda: [program("pinned", 10_000)["trimmed"]["rss"]],
    },
    "07_finding_a_chunk": {
        "24": "24-byte blocks, a change the reader may try", "50": "a request of the trace",
        "1,000": "the experiment's block size", "2,000": "a request of the trace",
        "100,000": "the experiment's number of blocks",
        "7": lambda: [tcache_count()],
        "8": lambda: [chunk(24) - 24, tcache_count() + 1, arenas_per_cpu()],
        "9": lambda: [tcache_count() + after_nine_frees()["smblks"]],
        "16": lambda: [chunk(25) - chunk(24), chunk(2500) - chunk(2480)],
        "32": lambda: [chunk(1)],
        "1,040": lambda: [tcache_limit()],
        "112": lambda: [chunk(100)],
        "128": lambda: [fastbin_limit(), chunk(120),
                        default_of("M_MMAP_THRESHOLD", [65536, 131072, 262144],
                                   "a 0 1\na 1 130000\na 2 100000\na 3 200000\n") // KIB],
        "132": lambda: [first_malloc()["brk"] // KIB],
        "400": lambda: [chunk(3000) - chunk(2600)],
        "1,008": lambda: [chunk(1000)],
        "2,016": lambda: [chunk(2000)],
        "2,512": lambda: [chunk(2500)],
        "3,008": lambda: [chunk(3000)],
        "95": lambda: [round(100_000 * 1_000 / (1 << 20))],
        "96.1": lambda: [round(design_mib(c, "glibc"), 1) for c in ("never written", "written")],
        "3.3": lambda: [round(design_mib("never written", "jemalloc"), 1)],
        "100": lambda: [round(design_mib("written", n, "built"), -1)
                        for n in ("glibc", "jemalloc", "tcmalloc", "mimalloc")]
                       + [round(design_mib("never written", n), -1) for n in ("tcmalloc", "mimalloc")],
    },
}


#: Lessons whose claims live in a test module of their own (its CLAIMS, and LINUX_CLAIMS if any).
OWN_CLAIMS = {"08_your_own_allocator": "test_lesson08.py", "09_out_of_address_space": "test_lesson09.py"}


def claimed(name: str) -> set[str]:
    """The numbers a lesson's claims cover: this module's table, or its own module's tables."""
    if name not in OWN_CLAIMS:
        return set(CLAIMS.get(name, {}))
    path = Path(__file__).with_name(OWN_CLAIMS[name])
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(module.CLAIMS) | set(getattr(module, "LINUX_CLAIMS", {}))


@pytest.mark.parametrize("name", LESSONS)
def test_every_stated_number_is_accounted_for(name):
    """Each number in every lesson's text is a claim checked below (or in the lesson's own test
    module), or an input named there: a lesson (new or old) that states a number no claim covers
    fails."""
    missing = sorted({n for _, n in stated_numbers(name)} - claimed(name))
    assert missing == [], f"{name}: numbers without a check: {missing}"


@pytest.mark.parametrize("name", LESSONS)
def test_no_claim_is_left_over(name):
    """A claim whose number the lesson no longer states is stale: drop it with the text."""
    stale = sorted(set(CLAIMS.get(name, {})) - {n for _, n in stated_numbers(name)})
    assert stale == [], f"{name}: claims for numbers the lesson does not state: {stale}"


def test_printed_sentences_count():
    """Numbers in what a cell prints as fixed text count; the values it fills in do not."""
    code = 'print(f"largest: {edge:,} bytes = 16 GiB + {edge - 16 * GiB:,}")\nx = 99\n'
    assert printed_text(code) == "largest: \n bytes = 16 GiB + "


@pytest.mark.parametrize("name,number", [(n, k) for n in CLAIMS for k, v in CLAIMS[n].items()
                                         if callable(v)])
def test_stated_number_is_the_real_glibcs(name, number):
    """The number as written equals what the real glibc gives (each check listed)."""
    stated = float(number.replace(",", ""))
    values = CLAIMS[name][number]()
    assert values and all(v is not None and float(v) == stated for v in values), \
        f"{name} states {number}; the real glibc gives {values}"
