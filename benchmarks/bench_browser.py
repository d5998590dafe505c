"""Latency of the lessons' dashboards in a real browser: from a key press to the new chart shown.

Starts JupyterLab on a temporary copy of the lessons, opens each lesson in headless chromium
(Playwright), runs all its cells, then moves every control of every dashboard with the keyboard,
as a student does: each slider in turn goes to values it has not had yet (new configurations),
one step above its starting value, one below, two above, two below, ..., back to the start
after each; the release menu goes to each release not shown yet; the operation slider steps. Each move is timed in the page, from the key event to the
moment the chart's new image has loaded (``img.complete`` with a new ``src``); the printout gives
median, 90th percentile and worst per control. Not a test: nothing is asserted.

    python benchmarks/bench_browser.py                  # lessons 02 and 03, 10 moves a control
    python benchmarks/bench_browser.py 04 05 06 07      # the later lessons' dashboards
    python benchmarks/bench_browser.py 03 --moves 20 --shots shots
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: JupyterLab's settings for the lab: widget state saved with the notebook (as lab.sh and
#: Binder set it), every cell rendered (no windowing), no news pop-up over the page.
SETTINGS = {"@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings":
            '{"saveState": true}',
            "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
            '{"windowingMode": "none"}',
            "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
            '{"fetchNews": "false", "checkForUpdates": false}'}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lesson_path(name: str, repo: Path = REPO) -> Path:
    """The lesson whose file name starts with ``name`` ("02" -> notebooks/02_....ipynb)."""
    found = sorted((repo / "notebooks").glob(f"{name}*.ipynb"))
    if not found:
        raise SystemExit(f"no lesson notebooks/{name}*.ipynb")
    return found[0]


@contextmanager
def jupyter_lab(root: Path, settings: dict | None = None, repo: Path = REPO):
    """JupyterLab serving ``root`` (token-free, on 127.0.0.1), its kernels importing memlab
    from ``repo``; yields its base URL.

    ``settings`` maps a file under the user settings folder to its text."""
    for name, text in (SETTINGS if settings is None else settings).items():
        path = root / ".settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(repo), JUPYTER_CONFIG_DIR=str(root / ".config"),
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
        yield base
    finally:
        stop(server)
        log.close()
        signal.signal(signal.SIGTERM, previous)


def stop(server) -> None:
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


KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session
              && w.sessionContext.session.kernel;
    return k && k.status === 'idle'; }"""
ALL_RAN = """() => { const nb = window.jupyterapp.shell.currentWidget;
    if (!nb || !nb.sessionContext.session || !nb.sessionContext.session.kernel) return false;
    const code = nb.content.widgets.filter(c => c.model.type === 'code');
    return nb.sessionContext.session.kernel.status === 'idle'
           && code.every(c => c.model.executionCount !== null); }"""


def open_notebook(page, base: str, relative: str) -> None:
    """Open ``relative`` (a path under the server's root) and wait for its kernel. The saved
    workspace is reset, so that no notebook opened before comes back beside it (and takes the
    focus that the commands below act on)."""
    page.goto(f"{base}/lab/tree/{relative}?reset")
    page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')",
                           timeout=120_000)
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)


def run_all_cells(page, timeout_ms: int = 400_000) -> None:
    """Run every cell and wait until each code cell has run and the kernel is idle."""
    started = """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                        .some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))"""
    for _ in range(10):
        # do not wait for the command's promise: it settles only when every cell has run
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
        try:
            page.wait_for_function(started, timeout=10_000)
            break
        except Exception:  # playwright's TimeoutError: try again
            dialog = page.locator("dialog.jp-Dialog")
            if dialog.count():
                raise AssertionError("JupyterLab asks: " + dialog.first.inner_text()) from None
            page.locator(".jp-Notebook").first.click()
    else:
        raise AssertionError("JupyterLab never started running the cells")
    page.wait_for_function(ALL_RAN, timeout=timeout_ms)


def dashboard_cells(page):
    """The code cells that hold a dashboard: sliders and a chart (a scenario's Dashboard or a
    lesson's LiveChart)."""
    cells = page.locator(".jp-CodeCell").filter(has=page.locator(".widget-slider")).filter(
        has=page.locator(".jp-OutputArea-output img"))
    return [cells.nth(i) for i in range(cells.count())]


# Timing happens in the page: the key event starts the clock; a poll sees the new image loaded.
ARM = """() => { window.__memlabStart = null;
    if (!window.__memlabArmed) { window.__memlabArmed = true;
        document.addEventListener('keydown', () => { window.__memlabStart = performance.now(); },
                                  true); } }"""
NEW_IMAGE = """([index]) => {
    const cell = document.querySelectorAll('.jp-CodeCell')[index];
    const img = cell && cell.querySelector('.jp-OutputArea-output img');
    if (!img || img.__memlabSeen || !img.complete || !window.__memlabStart) return false;
    return performance.now() - window.__memlabStart; }"""
# An update of the output makes a new image element (even when its picture is the same).
MARK = """([index]) => { const cell = document.querySelectorAll('.jp-CodeCell')[index];
    cell.querySelectorAll('.jp-OutputArea-output img').forEach(i => { i.__memlabSeen = true; });
}"""


def cell_index(page, cell) -> int:
    return cell.evaluate("c => [...document.querySelectorAll('.jp-CodeCell')].indexOf(c)")


def mark_image(page, index: int) -> None:
    """Mark the chart shown now in code cell ``index``, so that its successor can be told."""
    page.evaluate(MARK, [index])


def wait_new_image(page, index: int, timeout_ms: int = 60_000) -> float:
    """Milliseconds from the last key event to the new image shown in code cell ``index``."""
    handle = page.wait_for_function(NEW_IMAGE, arg=[index], polling=5, timeout=timeout_ms)
    return float(handle.json_value())


def slider_controls(cell) -> list[tuple[str, object]]:
    """(label, slider locator) for each slider of a dashboard cell, the operation slider last."""
    sliders = cell.locator(".widget-slider")
    out = []
    for i in range(sliders.count()):
        s = sliders.nth(i)
        label = (s.locator(".widget-label").first.text_content() or "").strip() or f"slider {i}"
        out.append((label, s))
    return out


def press(page, cell, slider, key: str):
    """Press ``key`` on the slider's handle; (milliseconds to the new chart, readout after), or
    None when the slider is at that end of its range."""
    index = cell_index(page, cell)
    readout = slider.locator(".widget-readout")
    slider.scroll_into_view_if_needed()
    slider.locator(".noUi-handle").last.focus()
    page.evaluate(ARM)
    mark_image(page, index)
    old = readout.inner_text()
    page.keyboard.press(key)
    try:
        page.wait_for_function("([e, old]) => e.textContent !== old",
                               arg=[readout.element_handle(), old], timeout=2_000)
    except Exception:  # playwright's TimeoutError: at the end of its range
        return None
    return wait_new_image(page, index), readout.inner_text()


def move_slider(page, cell, slider, moves: int) -> list[float]:
    """Move ``slider`` to ``moves`` values it has not had, alternately above and below its
    starting value and ever further from it (1 step up, 1 down, 2 up, 2 down, ...), going back
    to the start after each; the latencies of the moves to a new value (the moves on the way
    out and back are to values seen before, cached, and not counted)."""
    readout = slider.locator(".widget-readout")
    seen = {readout.inner_text()}
    times: list[float] = []
    ends: set[str] = set()
    distance = 0
    while len(times) < moves and len(ends) < 2:
        distance += 1
        for key, back in (("ArrowRight", "ArrowLeft"), ("ArrowLeft", "ArrowRight")):
            if key in ends or len(times) >= moves:
                continue
            went = 0
            for _ in range(distance):
                result = press(page, cell, slider, key)
                if result is None:
                    ends.add(key)
                    break
                went += 1
                took, value = result
                if value not in seen:
                    seen.add(value)
                    times.append(took)
            for _ in range(went):
                press(page, cell, slider, back)
    return times


def move_menu(page, cell, moves: int) -> list[float]:
    """Choose each release of the release menu not shown yet, then go back; the latencies
    (none when the dashboard has no release menu)."""
    index = cell_index(page, cell)
    menu = cell.locator(".widget-dropdown", has_text="glibc release").locator("select")
    if not menu.count():
        return []
    first = menu.input_value()
    options = [o for o in menu.locator("option").all_inner_texts() if o != first][:moves]
    times = []
    for option in options:
        page.evaluate(ARM)
        mark_image(page, index)
        page.evaluate("() => { window.__memlabStart = performance.now(); }")
        menu.select_option(option)
        times.append(wait_new_image(page, index))
    mark_image(page, index)
    menu.select_option(first)
    wait_new_image(page, index)
    return times


def summary(times: list[float]) -> str:
    if not times:
        return "        -        -        -   0"
    ordered = sorted(times)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"{statistics.median(ordered):9.0f}{p90:9.0f}{ordered[-1]:9.0f}"
            f"{len(ordered):4d}")


def bench_lesson(page, base: str, relative: str, moves: int, shots: Path | None) -> list:
    """Run the lesson and move every control of every dashboard; rows of (board, control, ms)."""
    open_notebook(page, base, relative)
    run_all_cells(page)
    rows = []
    for b, cell in enumerate(dashboard_cells(page)):
        title = (cell.locator(".widget-html b").first.text_content() or "").strip() \
            or f"dashboard {b}"
        for label, slider in slider_controls(cell):
            try:
                rows.append((title, label, move_slider(page, cell, slider, moves)))
            except Exception:
                if shots is not None:
                    page.screenshot(path=str(shots / f"{Path(relative).stem}-failed.png"))
                raise
        times = move_menu(page, cell, moves)
        if times:
            rows.append((title, "glibc release", times))
        if shots is not None:
            cell.scroll_into_view_if_needed()
            cell.screenshot(path=str(shots / f"{Path(relative).stem}-{b}.png"))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lessons", nargs="*", default=["02", "03"],
                        help="lesson numbers (default: 02 03)")
    parser.add_argument("--moves", type=int, default=10, help="new values per control")
    parser.add_argument("--shots", type=Path, help="save a screenshot of each dashboard here")
    parser.add_argument("--repo", type=Path, default=REPO,
                        help="the checkout whose lessons and memlab to run (default: this one)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise SystemExit("no /usr/bin/chromium: run scripts/browser-deps.sh (as root) first")
    if args.shots:
        args.shots.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memlab-bench-") as tmp:
        root = Path(tmp)
        (root / "notebooks").mkdir()
        paths = [lesson_path(n, args.repo) for n in args.lessons]
        for path in paths:
            shutil.copy(path, root / "notebooks" / path.name)
        with jupyter_lab(root, repo=args.repo) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
            try:
                print(f"{'lesson':<22} {'dashboard':<34} {'control':<18}"
                      f"{'median':>9}{'p90':>9}{'worst':>9}{'n':>4}   (ms, key press to "
                      "new chart shown)", flush=True)
                for path in paths:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    for board, control, times in bench_lesson(
                            page, base, f"notebooks/{path.name}", args.moves, args.shots):
                        print(f"{path.stem:<22} {board[:34]:<34} {control[:18]:<18}"
                              f"{summary(times)}", flush=True)
                    page.close()
            finally:
                browser.close()


if __name__ == "__main__":
    main()
