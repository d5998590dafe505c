"""The allocator chart: resident memory over one trace on glibc and the rival allocators, one line each."""

from __future__ import annotations

import numpy as np

from memlab.charts.base import ChartHandle, byte_axis, fmt_axis_bytes, nice_limit
from memlab.native.allocators import NAMES
from memlab.native.rivals import run_allocators

__all__ = ["AllocatorChart", "allocator_chart", "allocators_on", "STYLES"]

#: Colour (Okabe-Ito) and line style of each allocator's line.
STYLES = {
    "glibc": ("#0072B2", "-"),
    "jemalloc": ("#D55E00", "--"),
    "tcmalloc": ("#009E73", "-."),
    "mimalloc": ("#CC79A7", ":"),
}
_OTHER = ("#000000", "-")


class AllocatorChart(ChartHandle):
    """An allocator chart: see ``allocator_chart``."""

    _SIZE = (8.0, 3.4)

    def __init__(self, runs, ax=None) -> None:
        super().__init__(ax)
        self._names = tuple(runs.names)
        self._lines = {}
        for name in self._names:
            colour, style = STYLES.get(name, _OTHER)
            (self._lines[name],) = self._ax.plot([], [], color=colour, linestyle=style, linewidth=1.8,
                                                 drawstyle="steps-post", label=name)
        self._legend = self._ax.legend(fontsize=8, frameon=False, loc="upper left")
        self._ax.set_xlabel("operations of the trace", fontsize=8)
        self._ax.set_ylabel("resident (rss)", fontsize=8)
        self._ax.tick_params(labelsize=8)
        byte_axis(self._ax.yaxis)
        self._runs = None
        self.update(runs)

    def _dynamic(self):
        yield from self._lines.values()
        yield from self._legend.get_texts()

    @property
    def runs(self):
        """The AllocatorRuns shown now."""
        return self._runs

    @property
    def lines(self) -> dict:
        """The matplotlib line of each allocator, by name."""
        return dict(self._lines)

    def update(self, new_data) -> None:
        """Show other runs of the same allocators (another trace, say) in the existing lines."""
        if tuple(new_data.names) != self._names:
            raise ValueError(f"this chart shows {', '.join(self._names)}; got {', '.join(new_data.names)}")
        self._runs = new_data
        top_x = top_y = 1
        for name, text in zip(self._names, self._legend.get_texts()):
            series = new_data[name]
            ops = np.asarray(series.ops, dtype=float)
            rss = np.asarray(series.rss, dtype=float)
            self._lines[name].set_data(ops, rss)
            text.set_text(f"{name}: {fmt_axis_bytes(series.end.rss)} at the end, peak {fmt_axis_bytes(series.peak)}")
            top_x = max(top_x, float(ops.max()) if len(ops) else 1)
            top_y = max(top_y, float(rss.max()) if len(rss) else 1)
        self._ax.set_title(f"resident memory over {new_data.trace}", fontsize=9)
        self._set_upper("x", top_x)
        self._set_upper("y", nice_limit(top_y * 1.1))


def allocator_chart(runs, ax=None) -> AllocatorChart:
    """Draw ``memlab.native.rivals.AllocatorRuns``: each allocator's resident bytes over the trace.

    >>> from memlab.native.rivals import AllocatorRuns, AllocatorSeries, Point
    >>> runs = AllocatorRuns("demo", 2, 0, (
    ...     AllocatorSeries("glibc", (Point(1, "", 135168, 4096), Point(2, "end", 135168, 8192))),
    ...     AllocatorSeries("jemalloc", (Point(1, "", 0, 0), Point(2, "end", 0, 4096)))))
    >>> h = allocator_chart(runs)
    >>> h.lines["glibc"].get_ydata().tolist(), [float(y) for y in h.ax.get_ylim()]
    ([4096.0, 8192.0], [0.0, 10240.0])
    """
    return AllocatorChart(runs, ax)


def allocators_on(trace, every=None, names=None, ax=None) -> AllocatorChart:
    """Run ``trace`` on the real allocators (all four unless ``names``) and chart them, in one call."""
    return AllocatorChart(run_allocators(trace, every, names or NAMES), ax)
