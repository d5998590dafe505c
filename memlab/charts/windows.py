"""The 32-bit Windows address space: its regions, its free ranges, the longest one against the total.

Top: the user address space from its lowest to its highest address, each region a coloured span
(images, the stack, heap segments, big blocks in regions of their own, the program's own
VirtualAlloc) and free ranges left blank, the longest marked. Below: the longest free range,
the free address space in total, what the heaps hold free inside their segments, and the
request that has to fit in one range. Drawn once; ``update`` moves the spans and bars in place.

>>> from memlab.windows import Process
>>> from memlab.units import MiB
>>> h = address_space_chart(Process().view(), big=500 * MiB)
>>> [round(b.get_width() / MiB) for b in h.bars]
[1612, 1992, 1, 500]
>>> p = Process(); _ = p.virtual_alloc(1000 * MiB); h.update(p.view())
>>> round(h.bars[0].get_width() / MiB), len(h.spans.get_paths()) == len(p.view().regions)
(612, True)
"""

from __future__ import annotations

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from memlab.charts.base import COLORS, ChartHandle, byte_axis

__all__ = ["KIND_COLORS", "AddressSpaceChart", "address_space_chart"]

#: A colour for each kind of region (memlab.windows.Region.kind).
KIND_COLORS = {"image": "#999999", "stack": "#000000", "heap": COLORS["in_use"],
               "large": COLORS["mmapped"], "virtual": COLORS["large"]}
_LABELS = {"image": "program and DLL images", "stack": "stack", "heap": "heap segments",
           "large": "big blocks (a region each)", "virtual": "VirtualAlloc by the program"}
_BARS = ("longest free range", "free address space", "free inside heaps", "request")


def _hex(x: float, _pos: object = None) -> str:
    """An address as hex, with underscores every four digits.

    >>> _hex(0x8000_0000)
    '0x8000_0000'
    """
    return f"{int(x):#_x}"


def _verts(m) -> tuple[list, list]:
    verts = [[(r.base, 0), (r.end, 0), (r.end, 1), (r.base, 1)] for r in m.regions]
    return verts, [KIND_COLORS.get(r.kind, "#000000") for r in m.regions]


class AddressSpaceChart(ChartHandle):
    """The handle ``address_space_chart`` returns: ``update(map, big=...)`` redraws in place."""

    _SIZE = (9.0, 3.6)

    def __init__(self, m, big: int | None, figure: Figure | None = None) -> None:
        if figure is None:
            figure = Figure(figsize=self._SIZE, layout="constrained")
            FigureCanvasAgg(figure)
        else:
            figure.clear()
            figure.set_layout_engine("constrained")
        fig = figure
        space, sums = fig.subplots(2, 1, height_ratios=(1, 1.3))
        super().__init__(space)
        self.sums = sums
        verts, colors = _verts(m)
        self.spans = PolyCollection(verts, facecolors=colors, edgecolors="white", linewidths=0.3)
        space.add_collection(self.spans)
        self.longest = space.axvspan(0, 0, ymin=0, ymax=1, facecolor="none", edgecolor="#B00000",
                                     hatch="///", lw=1.2)
        space.set_ylim(0, 1)
        space.set_yticks([])
        space.xaxis.set_major_formatter(FuncFormatter(_hex))
        space.legend(handles=[Patch(color=c, label=_LABELS[k]) for k, c in KIND_COLORS.items()]
                     + [Patch(facecolor="none", edgecolor="#B00000", hatch="///",
                              label="longest free range")],
                     fontsize="x-small", ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.25),
                     frameon=False)
        self.bars = list(sums.barh(_BARS, [0] * 4, color=["#B00000", "#56B4E9", COLORS["in_use"],
                                                         "#444444"]))
        sums.invert_yaxis()
        byte_axis(sums.xaxis)
        self.labels = [sums.text(0, i, "", va="center", fontsize="small") for i in range(4)]
        self.update(m, big)

    def update(self, m, big: int | None = None) -> None:
        """Show the address map ``m`` (and the request ``big``, when given)."""
        verts, colors = _verts(m)
        self.spans.set_verts(verts)
        self.spans.set_facecolors(colors)
        top = m.high + m.low
        self.ax.set_xlim(0, top)
        self.ax.set_xticks([top * i // 4 for i in range(5)])
        start, end = max(m.free, key=lambda r: r[1] - r[0], default=(0, 0))
        self.longest.set_x(start)
        self.longest.set_width(end - start)
        if big is not None:
            self._big = big
        values = (m.largest_free, m.free_total, m.heap_free, getattr(self, "_big", 0))
        top = max(values) * 1.35 or 1
        for bar, label, value in zip(self.bars, self.labels, values):
            bar.set_width(value)
            label.set_x(value + top * 0.01)
            label.set_text(f"{value // 2**20:,} MiB")
        self.sums.set_xlim(0, top)
        fits = m.largest_free >= getattr(self, "_big", 0)
        self.ax.set_title("the user address space: the request "
                          + ("fits in the longest free range" if fits else
                             "fits in no free range"), fontsize="medium")

    def _dynamic(self):
        return [self.spans, self.longest, *self.bars, *self.labels]


def address_space_chart(m, big: int | None = None, figure: Figure | None = None) -> AddressSpaceChart:
    """Draw the address map ``m`` (memlab.windows.AddressMap) and the request ``big`` (into
    ``figure``, cleared first, when given)."""
    return AddressSpaceChart(m, big, figure)
