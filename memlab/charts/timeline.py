"""The timeline chart: held, arena, mmapped and resident bytes, and what went back, per operation."""

from __future__ import annotations

import numpy as np

from memlab.charts.base import COLORS, ChartHandle, byte_axis, nice_limit

__all__ = ["TimelineChart", "timeline_chart"]

#: Timeline columns drawn, with their legend text and line style.
_SERIES = (
    ("held", "held by the program", "-", "#000000"),
    ("arena", "arena (brk heap)", "-", COLORS["in_use"]),
    ("hblkhd", "mmapped (hblkhd)", "-", COLORS["mmapped"]),
    ("rss", "resident (rss)", "-", COLORS["large"]),
    ("trimmed", "trimmed (sbrk < 0), total", ":", "#7F7F7F"),
    ("munmapped", "munmapped, total", "--", "#7F7F7F"),
    ("madvised", "madvised, total", "-.", "#7F7F7F"),
)


class TimelineChart(ChartHandle):
    """A timeline chart: see ``timeline_chart``."""

    def __init__(self, timeline, ax=None, cursor=None, series=None) -> None:
        super().__init__(ax)
        ax = self._ax
        names = [name for name, *_ in _SERIES]
        unknown = sorted(set(series or ()) - set(names))
        if unknown:
            raise ValueError(f"no series {', '.join(unknown)}; series: {', '.join(names)}")
        # the program's own bytes are drawn last and widest: never hidden under another line
        self._lines = {name: ax.plot([], [], ls, color=color, lw=2.2 if name == "held" else 1.4,
                                     label=label, drawstyle="steps-post",
                                     zorder=4 if name == "held" else 2)[0]
                       for name, label, ls, color in _SERIES
                       if series is None or name in series}
        self._cursor = ax.axvline(0, color="#CC0000", lw=1.2, ls="--", visible=False)
        byte_axis(ax.yaxis)
        ax.set_xlabel("operations run", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=9, loc="lower left", frameon=False, ncol=3, bbox_to_anchor=(0, 1.0),
                  handlelength=1.8, columnspacing=1.0, borderaxespad=0.2)
        ax.grid(True, alpha=0.3)
        self._timeline = None
        self.update(timeline)
        self.set_cursor(cursor)

    def _dynamic(self):
        return (*self._lines.values(), self._cursor)

    @property
    def timeline(self):
        """The Timeline shown now."""
        return self._timeline

    @property
    def lines(self) -> dict:
        """The Line2D of each drawn column, keyed by the Timeline field name."""
        return dict(self._lines)

    @property
    def cursor_line(self):
        """The vertical line at the current operation (hidden when there is none)."""
        return self._cursor

    def update(self, new_data) -> None:
        """Show a new Timeline in the existing lines."""
        self._timeline = new_data
        x = np.arange(len(new_data.op))
        top = 0
        for name, line in self._lines.items():
            y = np.asarray(getattr(new_data, name), dtype=float)
            line.set_data(x, y)
            top = max(top, float(y.max()) if len(y) else 0)
        # room after the last operation, so that it (and the cursor on it) is never on the edge
        self._set_upper("x", nice_limit((len(x) - 1) * 1.04 + 1))
        self._set_upper("y", nice_limit(max(top, 4096) * 1.05))

    def set_cursor(self, op: int | None) -> None:
        """Put the cursor at operation ``op`` (None hides it)."""
        if op is None:
            self._cursor.set_visible(False)
            return
        if not 0 <= op < len(self._timeline.op):
            raise ValueError(f"cursor {op} outside the timeline's 0..{len(self._timeline.op) - 1}")
        self._cursor.set_xdata([op, op])
        self._cursor.set_visible(True)

    def to_csv(self) -> str:
        """The timeline shown, as CSV text (``Timeline.to_csv``)."""
        return self._timeline.to_csv()


def timeline_chart(timeline, ax=None, cursor=None, series=None) -> TimelineChart:
    """Draw a ``memlab.replay.Timeline`` against operation number; return its handle.

    ``series`` names the columns drawn (default: all of held, arena, hblkhd, rss, trimmed,
    munmapped, madvised).

    >>> from memlab.replay import timeline
    >>> h = timeline_chart(timeline("a 0 100\\nf 0"), cursor=1)
    >>> h.lines["held"].get_ydata().tolist(), list(h.cursor_line.get_xdata())
    ([0.0, 100.0, 0.0], [1, 1])
    """
    return TimelineChart(timeline, ax, cursor, series)
