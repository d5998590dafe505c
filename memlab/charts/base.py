"""What every chart shares: chunk-state colours, byte-count axes, and the handle a chart returns."""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, Locator

__all__ = ["STATES", "COLORS", "ChartHandle", "fmt_axis_bytes", "nice_limit", "byte_axis"]

#: Chunk states of ``Malloc.chunks()``, in the order the charts stack and list them.
STATES = ("in_use", "tcache", "fastbin", "unsorted", "small", "large", "top")
#: Colours (Okabe-Ito, readable with colour blindness) for chunk states and the other marks.
COLORS = {
    "in_use": "#0072B2", "tcache": "#E69F00", "fastbin": "#F0E442", "unsorted": "#CC79A7",
    "small": "#56B4E9", "large": "#009E73", "top": "#C8C8C8", "mmapped": "#D55E00",
    "resident": "#444444", "other": "#000000",
}


def fmt_axis_bytes(n: float, _pos: object = None) -> str:
    """A short tick label for a byte count, in binary units.

    >>> fmt_axis_bytes(0), fmt_axis_bytes(512), fmt_axis_bytes(135168), fmt_axis_bytes(3 * 2**20)
    ('0', '512 B', '132 KiB', '3 MiB')
    """
    n = float(n)
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.4g} {unit}"
    return "0" if n == 0 else f"{n:.4g} B"


class _BinaryLocator(Locator):
    """Ticks at multiples of a power of two, three to six of them across the view."""

    def __call__(self):
        lo, hi = self.axis.get_view_interval()
        return self.tick_values(lo, hi)

    def tick_values(self, vmin, vmax):
        lo, hi = min(vmin, vmax), max(vmin, vmax)
        if hi - lo <= 0:
            return [lo]
        step = 2.0 ** max(0, math.floor(math.log2((hi - lo) / 3)))
        return np.arange(math.ceil(lo / step) * step, hi + step * 1e-9, step)


def nice_limit(x: float) -> float:
    """The smallest of 1, 1.25, 1.5, 1.75 times a power of two that is at least ``x`` (and 1).

    Limits rounded so change only now and then, which lets a redraw reuse a cached background.

    >>> nice_limit(3), nice_limit(100), nice_limit(135168), nice_limit(0)
    (3.0, 112.0, 163840.0, 1.0)
    """
    if x <= 1:
        return 1.0
    p = 2.0 ** math.floor(math.log2(x))
    return next(p * m for m in (1, 1.25, 1.5, 1.75, 2) if p * m >= x)


def byte_axis(axis) -> None:
    """Put power-of-two ticks labelled in KiB/MiB on a matplotlib axis (x or y).

    >>> ax = Figure().add_subplot(); _ = ax.set_ylim(0, 8192); byte_axis(ax.yaxis)
    >>> [fmt_axis_bytes(t) for t in ax.yaxis.get_major_locator()()]
    ['0', '2 KiB', '4 KiB', '6 KiB', '8 KiB']
    """
    axis.set_major_locator(_BinaryLocator())
    axis.set_major_formatter(FuncFormatter(fmt_axis_bytes))


class ChartHandle:
    """What every chart handle shares: its figure and axes, saving, and showing as PNG.

    Given no axes, a handle makes its own figure (8 x 3 inches unless the chart says otherwise):

    >>> h = ChartHandle(None)
    >>> h.figure.get_size_inches().tolist(), h.ax.figure is h.figure, h.dynamic_artists
    ([8.0, 3.0], True, [])
    """

    def __init__(self, ax) -> None:
        if ax is None:
            fig = Figure(figsize=self._SIZE, layout="constrained")
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
        self._ax = ax

    _SIZE = (8.0, 3.0)

    @property
    def figure(self) -> Figure:
        """The matplotlib figure the chart is drawn in."""
        return self._ax.figure

    @property
    def ax(self):
        """The matplotlib axes the chart is drawn in."""
        return self._ax

    _grow_only = False

    @property
    def grow_only(self) -> bool:
        """While True, ``update`` widens the axes limits when needed but never narrows them
        (so stepping through a replay keeps one scale)."""
        return self._grow_only

    @grow_only.setter
    def grow_only(self, value: bool) -> None:
        self._grow_only = bool(value)

    _slack = 1.0

    @property
    def slack(self) -> float:
        """How many times the needed upper limit an axis may keep before ``update`` narrows it
        (1: always the needed limit). A dashboard allows some, so that moving a slider to a
        nearby configuration keeps the axes, and their cached tick labels, as they were."""
        return self._slack

    @slack.setter
    def slack(self, value: float) -> None:
        if not value >= 1:
            raise ValueError(f"slack must be at least 1, got {value!r}")
        self._slack = float(value)

    def _set_upper(self, which: str, top: float, ax=None) -> None:
        ax = ax or self._ax
        get, put = (ax.get_xlim, ax.set_xlim) if which == "x" else (ax.get_ylim, ax.set_ylim)
        now = get()[1]
        if self._grow_only:
            top = max(top, now)
        elif top <= now <= top * self._slack:
            top = now
        put(0, top)

    @property
    def dynamic_artists(self) -> list:
        """The artists ``update`` changes (everything else changes only with the axes limits)."""
        return list(self._dynamic())

    def _dynamic(self):
        return ()

    def save(self, path: str, **kwargs) -> str:
        """Save the whole figure (PNG, SVG, PDF by the file's suffix); return ``path``."""
        self.figure.savefig(path, **kwargs)
        return path

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.figure.savefig(buf, format="png")
        return buf.getvalue()
