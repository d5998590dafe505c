"""A real browser runs a lesson in JupyterLab: widgets render and a knob changes the chart."""

import hashlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from memlab.native import NativeUnavailable

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
LESSON = REPO / "notebooks" / "02_two_sources.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: A stand-in lesson, used only while notebooks/02_two_sources.ipynb does not exist yet.
STAND_IN = [
    "from memlab.scenarios import TWO_SOURCES\nfrom memlab.widgets import Dashboard, Prediction",
    "Prediction('Where do 200,000 bytes come from?', ['heap', 'mmap'], 'mmap', 'threshold')",
    "Dashboard(TWO_SOURCES.text, TWO_SOURCES.params, title='two sources')",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a temporary copy of the lesson; yields (base URL, notebook path)."""
    if not CHROMIUM.exists():
        raise NativeUnavailable("no /usr/bin/chromium: run scripts/browser-deps.sh (as root) first")
    if importlib.util.find_spec("playwright") is None:
        raise NativeUnavailable("the playwright package (in the test extra) is not installed")
    root = tmp_path_factory.mktemp("lab")
    (root / "notebooks").mkdir()
    if LESSON.exists():
        shutil.copy(LESSON, root / "notebooks" / LESSON.name)
    else:
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in STAND_IN]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nbformat.write(nb, str(root / "notebooks" / LESSON.name))
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO), JUPYTER_CONFIG_DIR=str(root / ".config"),
               JUPYTER_RUNTIME_DIR=str(root / ".runtime"))
    log = open(root / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         f"--LabApp.user_settings_dir={root / '.settings'}",
         f"--LabApp.workspaces_dir={root / '.workspaces'}"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def interrupted(signum, frame):  # a SIGTERM (e.g. from `timeout`) still stops the server
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start: "
                                       + (root / "server.log").read_text()[-2000:])
                time.sleep(0.5)
        yield base, root / "notebooks" / LESSON.name
    finally:
        stop(server)
        log.close()
        signal.signal(signal.SIGTERM, previous)


def stop(server):
    """End the server and everything it started (its kernels): they share its session."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    try:
        os.killpg(server.pid, signal.SIGKILL)  # kernels left behind, if any
    except ProcessLookupError:
        pass


def run_all_cells(page):
    """Ask JupyterLab to run every cell, again until a cell has started (the notebook panel
    may not be the current widget yet right after it opens)."""
    started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                        .some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))"""
    for _ in range(10):
        # do not wait for the command's promise: it settles only when every cell has run
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        try:
            page.wait_for_function(started, timeout=10_000)
            return
        except Exception:  # playwright's TimeoutError: try again
            dialog = page.locator("dialog.jp-Dialog")
            if dialog.count():
                raise AssertionError("JupyterLab asks: " + dialog.first.inner_text()) from None
            page.locator(".jp-Notebook").first.click()
    raise AssertionError("JupyterLab never started running the cells")


def test_lesson_runs_and_a_knob_changes_the_chart(lab):
    """Run all cells; widgets render; M_MMAP_THRESHOLD moved by keyboard redraws the chart."""
    from playwright.sync_api import sync_playwright

    base, copy = lab
    original = digest(LESSON) if LESSON.exists() else None
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base}/lab/tree/notebooks/{copy.name}")
            page.wait_for_function(
                "() => window.jupyterapp && document.querySelector('.jp-Notebook')",
                timeout=120_000)
            page.wait_for_function(  # the notebook is current and its kernel is ready
                """() => { const w = window.jupyterapp.shell.currentWidget;
                           const k = w && w.sessionContext && w.sessionContext.session
                                     && w.sessionContext.session.kernel;
                           return k && k.status === 'idle'; }""", timeout=120_000)
            run_all_cells(page)
            page.wait_for_selector(".widget-slider", timeout=240_000)
            page.wait_for_function(  # every code cell has run and the kernel is idle again
                """() => { const nb = window.jupyterapp.shell.currentWidget;
                           const code = nb.content.widgets.filter(c => c.model.type === 'code');
                           return nb.sessionContext.session.kernel.status === 'idle'
                                  && code.every(c => c.model.executionCount !== null); }""",
                timeout=300_000)
            text = page.inner_text(".jp-Notebook")
            assert "Error displaying widget" not in text
            assert "Traceback" not in text
            assert page.locator(".widget-radio-box").count() >= 1  # predictions rendered

            knob = page.locator(".widget-slider", has_text="M_MMAP_THRESHOLD")
            cell = page.locator(".jp-CodeCell").filter(has=knob).first  # the first dashboard
            slider = cell.locator(".widget-slider", has_text="M_MMAP_THRESHOLD")
            slider.scroll_into_view_if_needed()
            image = cell.locator(".jp-OutputArea-output img").first
            before = image.get_attribute("src")
            readout = slider.locator(".widget-readout").inner_text()
            slider.locator(".noUi-handle").focus()
            page.keyboard.press("ArrowRight")
            deadline = time.monotonic() + 60  # the output may be re-created: query it anew
            while image.get_attribute("src") == before and time.monotonic() < deadline:
                time.sleep(0.2)
            if image.get_attribute("src") == before:
                page.screenshot(path=str(copy.parent.parent / "failed.png"))
                raise AssertionError(
                    f"chart unchanged; knob {readout!r} -> "
                    f"{slider.locator('.widget-readout').inner_text()!r}; focus on "
                    + page.evaluate("() => document.activeElement.className"))
            assert slider.locator(".widget-readout").inner_text() != readout
            after = image.get_attribute("src")
            assert after.startswith("data:image/png") and after != before

            from memlab.glibc.release import RELEASES

            menu = cell.locator(".widget-dropdown", has_text="glibc release").locator("select")
            assert menu.locator("option").all_inner_texts() == list(RELEASES)
            assert menu.input_value() == "2.36"
        finally:
            browser.close()
    assert errors == [], errors
    if original is not None:
        assert digest(LESSON) == original  # the lesson on disk was not touched
