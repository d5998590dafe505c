"""The release chart: one experiment's end on several glibc releases, in two panels side by side."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from matplotlib.patches import Patch

from memlab.charts.base import COLORS, ChartHandle, byte_axis, fmt_axis_bytes, nice_limit

__all__ = ["ReleaseChart", "release_chart", "WAITING", "KEPT"]

#: Left panel: where the freed chunks wait at the end (place, label, colour).
WAITING = (("tcache", "tcache", COLORS["tcache"]),
           ("fastbin", "fastbins", COLORS["fastbin"]),
           ("bins", "other bins", COLORS["small"]))
#: Right panel: the bytes the process keeps at the end (field, label, colour).
KEPT = (("brk", "heap (brk)", COLORS["top"]),
        ("uordblks", "in use (uordblks)", COLORS["in_use"]),
        ("rss", "resident (rss)", COLORS["resident"]))
_HATCH = ("", "//", "..", "xx")


class ReleaseChart(ChartHandle):
    """A release chart: see ``release_chart``."""

    _SIZE = (9.0, 3.2)

    def __init__(self, comparison, axes=None) -> None:
        if axes is None:
            fig = Figure(figsize=self._SIZE, layout="constrained")
            FigureCanvasAgg(fig)
            axes = fig.subplots(1, 2)
        left, right = axes
        super().__init__(left)
        self._right = right
        self._releases = tuple(comparison.releases)
        k = len(self._releases)
        width = 0.8 / k
        self._bars: dict[str, list] = {"left": [], "right": []}
        self._labels: dict[str, list] = {"left": [], "right": []}
        for panel, ax, rows in (("left", left, WAITING), ("right", right, KEPT)):
            x = np.arange(len(rows))
            for j, rel in enumerate(self._releases):
                xs = x - 0.4 + width * (j + 0.5)
                bars = ax.bar(xs, np.zeros(len(rows)), width=width * 0.92,
                              color=[c for _, _, c in rows], hatch=_HATCH[j % len(_HATCH)],
                              edgecolor="black", linewidth=0.5, label=f"glibc {rel}")
                self._bars[panel].append(bars)
                self._labels[panel].append([ax.text(xi, 0, "", ha="center", va="bottom",
                                                    fontsize=7) for xi in xs])
            ax.set_xticks(x, [label for _, label, _ in rows], fontsize=8)
            ax.tick_params(axis="y", labelsize=8)
        left.set_yscale("symlog", linthresh=1)
        left.set_ylabel("free chunks (log scale)", fontsize=8)
        left.set_title("where the freed chunks wait", fontsize=9)
        byte_axis(right.yaxis)
        right.set_title("what the process keeps", fontsize=9)
        left.legend(handles=[Patch(facecolor="white", edgecolor="black", hatch=_HATCH[j % 4],
                                   label=f"glibc {rel}") for j, rel in enumerate(self._releases)],
                    fontsize=7, frameon=False, loc="upper left")
        self._comparison = None
        self.update(comparison)

    def _dynamic(self):
        for panel in ("left", "right"):
            for bars in self._bars[panel]:
                yield from bars
        for panel in ("left", "right"):
            for row in self._labels[panel]:
                yield from row

    @property
    def axes(self) -> tuple:
        """The two axes: where freed chunks wait (left), the bytes kept (right)."""
        return (self._ax, self._right)

    @property
    def comparison(self):
        """The ReleaseComparison shown now."""
        return self._comparison

    def heights(self, panel: str) -> dict[str, list]:
        """The bar heights of ``panel`` ('left' or 'right') per release, in the panel's order."""
        if panel not in self._bars:
            raise ValueError(f"panel must be 'left' or 'right', got {panel!r}")
        return {rel: [b.get_height() for b in bars]
                for rel, bars in zip(self._releases, self._bars[panel])}

    def update(self, new_data) -> None:
        """Show another comparison of the same releases in the existing bars."""
        if tuple(new_data.releases) != self._releases:
            raise ValueError(f"this chart shows releases {self._releases}, "
                             f"got {tuple(new_data.releases)}")
        self._comparison = new_data
        top_left = top_right = 1
        for j, rel in enumerate(self._releases):
            for (place, _, _), bar, text in zip(WAITING, self._bars["left"][j],
                                                self._labels["left"][j]):
                n = new_data.value(rel, place)
                bar.set_height(n)
                text.set_text(f"{n:,}")
                text.set_y(n)
                top_left = max(top_left, n)
            for (field, _, _), bar, text in zip(KEPT, self._bars["right"][j],
                                                self._labels["right"][j]):
                v = new_data.value(rel, field)
                bar.set_height(v)
                text.set_text(fmt_axis_bytes(v))
                text.set_y(v)
                top_right = max(top_right, v)
        self._ax.set_ylim(0, nice_limit(top_left * 8))
        self._set_upper("y", nice_limit(top_right * 1.15), self._right)


def release_chart(comparison, axes=None) -> ReleaseChart:
    """Draw a ``memlab.scenarios.releases.ReleaseComparison`` in two panels; return its handle.

    Left: free chunks waiting in tcache, fastbins and the other bins, one bar per release;
    right: the heap's size, the bytes counted in use and the resident bytes.

    >>> from memlab.scenarios.releases import ReleaseComparison, ReleaseEnd
    >>> ends = (ReleaseEnd("2.36", (("brk", 4096), ("uordblks", 688), ("rss", 4096)),
    ...                    (("tcache", 7), ("fastbin", 3)), 32),)
    >>> h = release_chart(ReleaseComparison("demo", (), ends, ()))
    >>> h.heights("left"), h.heights("right")
    ({'2.36': [7, 3, 0]}, {'2.36': [4096, 688, 4096]})
    """
    return ReleaseChart(comparison, axes)
