"""A real browser runs a lesson in JupyterLab as a student does: Run All spoils no answer, a knob
redraws the chart, a commit shows the answer at once, and the saved lesson reopens readable."""

import contextlib
import hashlib
import importlib.util
import json
import shutil
import time
from pathlib import Path

import pytest

from benchmarks.bench_browser import (ARM, CHROMIUM, FLAGS, cell_index, jupyter_lab, mark_image,
                                      open_notebook, run_all_cells, wait_new_image)
from memlab.native import NativeUnavailable
from memlab.widgets.reveal import HIDDEN

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
LESSON = REPO / "notebooks" / "02_two_sources.ipynb"


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def served(tmp_path_factory, *lessons: Path):
    """JupyterLab serving temporary copies of the lesson notebooks; yields (base URL, folder)."""
    if not CHROMIUM.exists():
        raise NativeUnavailable("no /usr/bin/chromium: run scripts/browser-deps.sh (as root) first")
    if importlib.util.find_spec("playwright") is None:
        raise NativeUnavailable("the playwright package (in the test extra) is not installed")
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    for lesson in lessons:
        shutil.copy(lesson, root / "notebooks" / lesson.name)
    with jupyter_lab(root) as base:
        yield base, root / "notebooks"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a temporary copy of the lesson; yields (base URL, notebook path)."""
    with served(tmp_path_factory, LESSON) as (base, folder):
        yield base, folder / LESSON.name


def reveal_texts(page):
    """The output text shown by each reveal cell (input starting with '# Reveal'), in order."""
    return page.evaluate("""() => [...document.querySelectorAll('.jp-CodeCell')]
        .filter(c => (c.querySelector('.jp-InputArea-editor') || {}).textContent
                     ?.trimStart().startsWith('# Reveal'))
        .map(c => (c.querySelector('.jp-OutputArea') || {}).textContent || '')""")


def commit_first(page, prediction, choice, timeout: int = 10_000) -> list[str]:
    """Choose `choice` (a label's text, or None: the first) in a Prediction, commit it, wait until
    the first reveal cell no longer holds its answer back; the reveals' texts."""
    prediction.scroll_into_view_if_needed()
    labels = prediction.locator(".widget-radio-box label", has_text=choice)
    labels.first.click()
    prediction.locator("button", has_text="Commit").click()
    page.wait_for_function(
        "([hidden]) => { const c = [...document.querySelectorAll('.jp-CodeCell')]"
        ".filter(c => (c.querySelector('.jp-InputArea-editor') || {}).textContent"
        "?.trimStart().startsWith('# Reveal'))[0];"
        "return c && !c.querySelector('.jp-OutputArea').innerText.includes(hidden); }",
        arg=[HIDDEN], timeout=timeout)
    return reveal_texts(page)


def save_and_reopen(page, base, copy, shown: str) -> str:
    """Save the open notebook `copy` (its widget state with it), close everything, open it again
    and wait for `shown` and the widget views; the notebook's text."""
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "widgets" not in json.loads(
            copy.read_text()).get("metadata", {}):
        time.sleep(0.5)
    assert "widgets" in json.loads(copy.read_text())["metadata"], "widget state is saved"
    page.evaluate("() => window.jupyterapp.commands.execute('application:close-all')")
    page.wait_for_function("() => !document.querySelector('.jp-Notebook')", timeout=30_000)
    open_notebook(page, base, f"notebooks/{copy.name}")
    page.wait_for_selector(shown, timeout=60_000)
    time.sleep(3)  # widget views render from the saved state
    return page.inner_text(".jp-Notebook")


def outputs_text(page):
    """The text of every cell's outputs."""
    return page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea')]
        .map(o => o.textContent).join('\\n')""")


@contextlib.contextmanager
def student_page(base, copy, errors=None):
    """Headless chromium on the lesson `copy` served at `base`, every cell run (Run All); yields
    the page. Console and page errors are appended to `errors` when given."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            if errors is not None:
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
            open_notebook(page, base, f"notebooks/{copy.name}")
            run_all_cells(page)
            yield page
        finally:
            browser.close()


def test_lesson_as_a_student_meets_it(lab):
    """Run All: no answer shows, widgets render; a knob redraws; a commit reveals at once; the
    saved lesson, closed and reopened, shows no widget error, the committed choice and charts."""
    base, copy = lab
    original = digest(LESSON)
    errors = []
    with student_page(base, copy, errors) as page:
        text = page.inner_text(".jp-Notebook")
        assert "Error displaying widget" not in text
        assert "Traceback" not in text
        predictions = page.locator(".jp-CodeCell").filter(
            has=page.locator(".widget-radio-box"))
        assert predictions.count() >= 5

        # Run All spoils nothing: every reveal shows only the placeholder
        held = reveal_texts(page)
        assert len(held) >= 5 and all(t.strip() == HIDDEN for t in held), held
        shown = outputs_text(page)
        assert "You predicted" not in shown and "block(s)" not in shown  # nor explanations

        # a knob moved by keyboard redraws the chart
        knob = page.locator(".widget-slider", has_text="M_MMAP_THRESHOLD")
        cell = page.locator(".jp-CodeCell").filter(has=knob).first  # the first dashboard
        slider = cell.locator(".widget-slider", has_text="M_MMAP_THRESHOLD")
        slider.scroll_into_view_if_needed()
        readout = slider.locator(".widget-readout").inner_text()
        index = cell_index(page, cell)
        mark_image(page, index)
        page.evaluate(ARM)
        slider.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        wait_new_image(page, index)
        assert slider.locator(".widget-readout").inner_text() != readout
        src = cell.locator(".jp-OutputArea-output img").first.get_attribute("src")
        assert src.startswith("data:image/png")

        from memlab.glibc.release import RELEASES

        menu = cell.locator(".widget-dropdown", has_text="glibc release").locator("select")
        assert menu.locator("option").all_inner_texts() == list(RELEASES)
        assert menu.input_value() == "2.36"

        # commit the first prediction: its answer and its reveal show at once, no others
        shown = commit_first(page, predictions.first, "brk heap")
        assert "1 block(s), 200,704 bytes" in shown[0] and HIDDEN not in shown[0]
        assert all(t.strip() == HIDDEN for t in shown[1:])
        record = page.locator(".jp-CodeCell").nth(
            cell_index(page, page.locator(".jp-CodeCell").filter(
                has_text="You predicted").first)).inner_text()
        assert "Not this time" in record and "200,704" in record

        # save, close, reopen: readable, no widget error
        text = save_and_reopen(page, base, copy, ".jp-OutputArea-output img")
        assert "Error displaying widget" not in text
        assert "Not this time" in text
        assert "1 block(s), 200,704 bytes" in outputs_text(page)
        assert text.count(HIDDEN) == len(held) - 1
        assert page.locator(".jp-OutputArea-output img").count() >= 2  # the charts
        assert page.locator(".widget-slider").count() >= 2  # dashboards, from saved state
    assert [e for e in errors if "model not found" in e] == []
    assert digest(LESSON) == original  # the lesson on disk was not touched


# --------------------------------------------------------------------------------------------
# Lessons 04-07 and 09: the same walk for each, and every slider of every dashboard moved once.

LATER = ["04_overcommit", "05_what_top_shows", "06_locked_in", "07_finding_a_chunk",
         "09_out_of_address_space"]


@pytest.fixture(scope="module")
def later_lab(tmp_path_factory):
    """JupyterLab serving temporary copies of lessons 04-07 and 09; yields (base URL, folder)."""
    with served(tmp_path_factory, *(REPO / "notebooks" / f"{name}.ipynb" for name in LATER)) as lab:
        yield lab


def move_every_slider(page, cell):
    """Press a key on each slider of a dashboard cell (right, or left at the end of its range);
    each must change its readout and bring a new chart. The labels of the sliders moved."""
    from benchmarks.bench_browser import press, slider_controls

    moved = []
    for label, slider in slider_controls(cell):
        result = press(page, cell, slider, "ArrowRight") or press(page, cell, slider, "ArrowLeft")
        assert result is not None, f"the slider {label!r} does not move"
        moved.append(label)
    return moved


@pytest.mark.parametrize("name", LATER)
def test_later_lesson_as_a_student_meets_it(later_lab, name, tmp_path):
    """Run All: no traceback, no widget error, no answer shown; every slider of every dashboard
    redraws its chart and leaves no error; the first commit reveals its answer at once; the
    saved lesson reopens readable (committed choice, charts, no widget error)."""
    base, folder = later_lab
    lesson = REPO / "notebooks" / f"{name}.ipynb"
    original = digest(lesson)
    copy = folder / f"{name}.ipynb"
    errors = []
    with student_page(base, copy, errors) as page:
        text = page.inner_text(".jp-Notebook")
        assert "Error displaying widget" not in text
        assert "Traceback" not in text and "could not run here" not in text
        predictions = page.locator(".jp-CodeCell").filter(
            has=page.locator(".widget-radio-box"))
        count = predictions.count()
        assert count >= 3

        held = reveal_texts(page)   # Run All spoils nothing
        assert held and all(t.strip() == HIDDEN for t in held), held
        assert "You predicted" not in outputs_text(page)

        from benchmarks.bench_browser import dashboard_cells

        boards = dashboard_cells(page)
        assert len(boards) == 1
        sliders = 2 if name.startswith("07") else 3   # 07: threads and M_ARENA_MAX
        for b, cell in enumerate(boards):
            moved = move_every_slider(page, cell)
            assert len(moved) >= sliders, moved
            line = cell.inner_text()
            assert "error:" not in line and "Traceback" not in line, line
            cell.screenshot(path=str(tmp_path / f"{name}-{b}.png"))

        # commit the first prediction (its first choice): its reveal shows, no other
        shown = commit_first(page, predictions.first, None, timeout=60_000)
        assert shown[0].strip() and HIDDEN not in shown[0]
        assert all(t.strip() == HIDDEN for t in shown[1:])
        assert "You predicted" in page.inner_text(".jp-Notebook")
        page.screenshot(path=str(tmp_path / f"{name}-page.png"), full_page=True)

        # save, close, reopen: readable, no widget error
        text = save_and_reopen(page, base, copy, ".jp-OutputArea-output")
        assert "Error displaying widget" not in text
        assert "You predicted" in text
        assert text.count(HIDDEN) == len(held) - 1
        if boards:
            assert page.locator(".jp-OutputArea-output img").count() >= 1  # the chart
            assert page.locator(".widget-slider").count() >= sliders
    assert [e for e in errors if "model not found" in e] == []
    assert digest(lesson) == original  # the lesson on disk was not touched


LESSON_08 = REPO / "notebooks" / "08_your_own_allocator.ipynb"


@pytest.fixture(scope="module")
def lab08(tmp_path_factory):
    """JupyterLab serving a temporary copy of lesson 08; yields (base URL, notebook path)."""
    with served(tmp_path_factory, LESSON_08) as (base, folder):
        yield base, folder / LESSON_08.name


def test_lesson_08_scores_the_students_allocator_in_the_browser(lab08):
    """Run All: the student's cell prints its allocator's score beside glibc's, no answer shows;
    committing the pool prediction reveals the pool's score, and only that one."""
    base, copy = lab08
    with student_page(base, copy) as page:
        text = page.inner_text(".jp-Notebook")
        assert "Traceback" not in text and "Error displaying widget" not in text
        held = reveal_texts(page)
        assert len(held) == 2 and all(t.strip() == HIDDEN for t in held), held
        shown = outputs_text(page)
        assert "MapEach" in shown and "glibc 2.36" in shown       # the student's cell
        assert "LEAK SUMMARY" not in shown and "rounds  Pool" not in shown
        first = page.locator(".jp-CodeCell").filter(
            has=page.locator(".widget-radio-box")).first
        shown = commit_first(page, first, "several times more")
        assert "Pool" in shown[0] and "1,056,768" in shown[0]
        assert shown[1].strip() == HIDDEN
