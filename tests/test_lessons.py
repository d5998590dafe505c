"""Checks on the lesson notebooks' shape: goal first, predict before reveal, key points last.

The notebooks are executed top to bottom by `pytest --nbmake notebooks/`; these tests read
them as files and check the teaching rules every lesson follows.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ["00_start_here", "01_why_allocators", "02_two_sources", "03_vector_of_vectors",
           "04_overcommit", "05_what_top_shows"]
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

    def test_ends_with_key_points_and_a_question(self, lesson):
        tail = cells(lesson)[-3:]
        assert tail[0][0] == "markdown" and tail[0][1].startswith("## Key points")
        assert tail[1][0] == "markdown" and tail[1][1].startswith("## Check your understanding")
        assert is_prediction(tail[2][0], tail[2][1]), "the last cell should be the check question"

    def test_key_points_are_a_list(self, lesson):
        key = next(t for k, t, _ in cells(lesson) if t.startswith("## Key points"))
        assert len(re.findall(r"^- ", key, re.M)) >= 3


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
        body = cells(lesson)[:-1]  # the last cell is the check question, revealed by itself
        kinds = [("P" if is_prediction(k, t) else "R" if is_reveal(k, t) else ".")
                 for k, t, _ in body]
        sequence = "".join(c for c in kinds if c != ".")
        assert "PP" not in sequence and not sequence.endswith("P"), sequence


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
        for index, (kind, text, _) in enumerate(cells(lesson)):
            if kind == "code":
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
