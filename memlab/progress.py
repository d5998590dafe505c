"""Progress of long runs: a bar on a terminal's stderr or in a notebook, shown only once a run is slow.

A display is a callable ``progress(done, total)``; `Replayer.run`, `replay`,
`timeline` and `read_trace` call it every so often. Nothing appears until the
run has lasted `delay` seconds (2 on a terminal, 1 in a notebook), so quick
runs stay silent; on a terminal the bar goes to stderr, never stdout, and
only when stderr is a terminal. The bars are tqdm's (operations done, rate,
time left); without tqdm installed nothing is shown.

>>> bars = []
>>> p = Progress("replay", lambda **kw: bars.append(_Bar(**kw)) or bars[-1], delay=0.0)
>>> p(500, 2000); p(2000, 2000); p.close()
>>> bars[0].n, bars[0].total, bars[0].closed
(2000, 2000, True)
"""

from __future__ import annotations

import importlib.util
import sys
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator


__all__ = ["Progress", "TERMINAL_DELAY", "NOTEBOOK_DELAY", "terminal", "notebook", "auto", "shown", "AUTO"]

#: Seconds a run lasts before its bar appears, on a terminal and in a notebook.
TERMINAL_DELAY = 2.0
NOTEBOOK_DELAY = 1.0

#: The default of the `progress` arguments: `auto()`'s display, chosen when the run starts.
AUTO = "auto"


class Progress:
    """A ``progress(done, total)`` callable that opens a bar once `delay` seconds have passed.

    `make_bar` builds the bar (tqdm's signature: total, desc, unit, ...) when it is first
    needed; its clock then starts when this object was made, so that the rate and the
    time left count the silent first seconds too.
    """

    def __init__(self, what: str, make_bar: Callable[..., Any], delay: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._what = what
        self._make_bar = make_bar
        self._delay = delay
        self._clock = clock
        self._start = clock()
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        bar = self._bar
        if bar is None:
            if self._clock() - self._start < self._delay:
                return
            bar = self._bar = self._make_bar(total=total, desc=self._what, unit="op", unit_scale=True,
                                             leave=False, dynamic_ncols=True)
            if hasattr(bar, "start_t"):
                bar.start_t = bar.last_print_t = bar._time() - (self._clock() - self._start)
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        """Take the bar away (if one was shown)."""
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def terminal(what: str, stream: Any = None) -> Progress | None:
    """A display on stderr if it is a terminal (and tqdm is installed), else None."""
    stream = sys.stderr if stream is None else stream
    if not _isatty(stream) or not _have_tqdm():
        return None
    return Progress(what, lambda **kw: _tqdm()(file=stream, **kw), TERMINAL_DELAY)


def notebook(what: str) -> Progress | None:
    """A widget bar if this process is a Jupyter kernel with tqdm and ipywidgets, else None."""
    ipython = sys.modules.get("IPython")      # a kernel has loaded it; memlab never does
    if "ipykernel" not in sys.modules or ipython is None or not _have_tqdm():
        return None
    if not hasattr(ipython.get_ipython(), "kernel"):
        return None
    try:
        # Imported here, in a kernel only: it loads ipywidgets, which the core never needs.
        from tqdm.notebook import IProgress, tqdm as notebook_bar
    except ImportError:
        return None
    if IProgress is None:      # tqdm without ipywidgets: no widget to show
        return None
    return Progress(what, notebook_bar, NOTEBOOK_DELAY)


def auto(what: str) -> Progress | None:
    """The display that fits this process: a notebook's, a terminal's, or None."""
    return notebook(what) or terminal(what)


@contextmanager
def shown(progress: Any, what: str) -> Iterator[Any]:
    """A `progress` argument made concrete for one run: AUTO becomes `auto(what)`, closed after.

    >>> with shown(None, "replay") as p: p is None
    True
    """
    if not (isinstance(progress, str) and progress == AUTO):
        yield progress
        return
    display = auto(what)
    try:
        yield display
    finally:
        if display is not None:
            display.close()


def _have_tqdm() -> bool:
    """Whether tqdm (optional: the `lab` extra) is installed, without importing it."""
    return importlib.util.find_spec("tqdm") is not None


def _tqdm() -> Any:
    """tqdm's terminal bar, imported when a bar is first shown (its import costs a tenth of a second)."""
    from tqdm import tqdm

    return tqdm


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _Bar:
    """A stand-in bar for the doctest."""

    def __init__(self, total: int, **kw: Any) -> None:
        self.total, self.n, self.closed = total, 0, False

    def update(self, k: int) -> None:
        self.n += k

    def close(self) -> None:
        self.closed = True
