"""Pictures of the model (matplotlib only): draw once, then update the same artists in place.

Each ``draw`` function takes ``ax=None`` (a new figure is made when no axes is given) and returns a
handle with ``.update(new_data)``, ``.figure``, ``.ax`` and ``.save(path)``; a handle shows itself
as a PNG in a notebook.

    heap_map(malloc)          the address space at one moment: brk heap chunks by state, the
                              program break, mmapped chunks, resident pages
    timeline_chart(timeline)  held / arena / mmapped / rss and what went back to the OS, per op
    bin_chart(malloc)         free chunks and bytes per bin class
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, Locator

__all__ = [
    "STATES",
    "COLORS",
    "MAX_RUNS",
    "HeapPicture",
    "BinCounts",
    "heap_map",
    "timeline_chart",
    "bin_chart",
    "HeapMap",
    "TimelineChart",
    "BinChart",
    "fmt_axis_bytes",
    "nice_limit",
]

#: Chunk states of ``Malloc.chunks()``, in the order the charts stack and list them.
STATES = ("in_use", "tcache", "fastbin", "unsorted", "small", "large", "top")
#: Colours (Okabe-Ito, readable with colour blindness) for chunk states and the other marks.
COLORS = {
    "in_use": "#0072B2", "tcache": "#E69F00", "fastbin": "#F0E442", "unsorted": "#CC79A7",
    "small": "#56B4E9", "large": "#009E73", "top": "#C8C8C8", "mmapped": "#D55E00",
    "resident": "#444444", "other": "#000000",
}
#: Above this many runs (of adjacent same-state chunks), the strip is drawn in pixel buckets.
MAX_RUNS = 2000
_CODE = {state: i for i, state in enumerate(STATES)}
_BUCKET_ROWS = 24  # pixel rows of a bucketed strip: each column stacks its state fractions
_LANES = {"heap": (2.0, 3.0), "heap_res": (1.6, 1.9), "mmap": (0.5, 1.3), "mmap_res": (0.1, 0.4)}


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


def _byte_axis(axis) -> None:
    axis.set_major_locator(_BinaryLocator())
    axis.set_major_formatter(FuncFormatter(fmt_axis_bytes))


class _Handle:
    """What every chart handle shares: its figure and axes, saving, and showing as PNG."""

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

    def _set_upper(self, which: str, top: float, ax=None) -> None:
        ax = ax or self._ax
        get, put = (ax.get_xlim, ax.set_xlim) if which == "x" else (ax.get_ylim, ax.set_ylim)
        if self._grow_only:
            top = max(top, get()[1])
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


# --------------------------------------------------------------------------- heap map


@dataclass(frozen=True, slots=True)
class HeapPicture:
    """The data a heap map shows, taken from a model at one moment.

    ``runs`` are (start, end, state) of adjacent same-state chunks, in address order;
    ``mmapped`` are (start, end) of mmapped chunks; ``resident`` are resident (start, end) ranges.

    >>> p = HeapPicture.from_chunks(0x1000, 0x1100, [(0x1000, 0x20, "in_use"),
    ...     (0x1020, 0x20, "in_use"), (0x1040, 0xc0, "top")])
    >>> [(hex(s), hex(e), st) for s, e, st in p.runs]
    [('0x1000', '0x1040', 'in_use'), ('0x1040', '0x1100', 'top')]
    """

    heap_start: int
    brk: int
    runs: tuple[tuple[int, int, str], ...]
    mmapped: tuple[tuple[int, int], ...] = ()
    resident: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_chunks(cls, heap_start, brk, chunks, mmapped=(), resident=()) -> HeapPicture:
        """Build a picture from (addr, size, state) chunks, merging adjacent same-state ones."""
        runs: list[list] = []
        for addr, size, state in chunks:
            if state not in _CODE:
                raise ValueError(f"unknown chunk state {state!r} at {addr:#x}")
            if runs and runs[-1][2] == state and runs[-1][1] == addr:
                runs[-1][1] = addr + size
            else:
                runs.append([addr, addr + size, state])
        return cls(heap_start, brk, tuple(map(tuple, runs)),
                   tuple((a, a + s) for a, s, *_ in mmapped), tuple(map(tuple, resident)))

    @classmethod
    def of(cls, malloc) -> HeapPicture:
        """The picture of a ``memlab.glibc.Malloc`` (or anything with the same views) now."""
        space = malloc.space
        chunks = ((c.addr, c.size, c.state) for c in malloc.chunks())
        mmapped = [(c.addr, c.size) for c in malloc.mmapped_chunks()]
        return cls.from_chunks(space.heap_start, space.brk, chunks, mmapped,
                               space.resident_ranges())


def _picture(data) -> HeapPicture:
    return data if isinstance(data, HeapPicture) else HeapPicture.of(data)


def _covered(starts, ends, edges) -> np.ndarray:
    """Bytes of the sorted, disjoint intervals [starts, ends) lying below each edge."""
    if len(starts) == 0:
        return np.zeros(len(edges))
    cum = np.concatenate(([0.0], np.cumsum(ends - starts, dtype=float)))
    i = np.searchsorted(ends, edges, side="right")  # intervals wholly below the edge
    partial = np.zeros(len(edges))
    inside = i < len(starts)
    j = i[inside]
    partial[inside] = np.clip(edges[inside] - starts[j], 0, None)
    return cum[i] + partial


def _bucket_image(starts, ends, codes, lo, hi, nbuckets, colors) -> np.ndarray:
    """An RGBA image whose columns stack, bottom-up, the fraction of each code in a bucket."""
    edges = np.linspace(lo, hi, nbuckets + 1)
    width = (hi - lo) / nbuckets
    fractions = np.zeros((nbuckets, len(colors)))
    for c in range(len(colors)):
        mask = codes == c
        cov = _covered(starts[mask], ends[mask], edges)
        fractions[:, c] = np.diff(cov) / width
    cum = np.cumsum(fractions, axis=1)  # (buckets, codes)
    heights = (np.arange(_BUCKET_ROWS) + 0.5) / _BUCKET_ROWS
    above = cum[None, :, :] > heights[:, None, None]  # (rows, buckets, codes)
    which = np.argmax(above, axis=2)
    palette = np.array([_rgba(c) for c in colors])
    image = palette[which]
    image[~above.any(axis=2)] = (0, 0, 0, 0)
    return image


def _rgba(color: str) -> tuple[float, float, float, float]:
    from matplotlib.colors import to_rgba

    return to_rgba(color)


def _rects(pairs, y0, y1):
    return [((s, y0), (s, y1), (e, y1), (e, y0)) for s, e in pairs]


class HeapMap(_Handle):
    """A heap map: see ``heap_map``."""

    _SIZE = (9.0, 2.6)

    def __init__(self, data, ax=None) -> None:
        super().__init__(ax)
        ax = self._ax
        y0, y1 = _LANES["heap"]
        self._runs = PolyCollection([], linewidths=0.4, edgecolors="white", zorder=2)
        self._resident = PolyCollection([], facecolors=COLORS["resident"], linewidths=0, zorder=2)
        self._mmapped = PolyCollection([], facecolors=COLORS["mmapped"], linewidths=0.6,
                                       edgecolors="white", zorder=2)
        for artist in (self._runs, self._resident, self._mmapped):
            ax.add_collection(artist)
        self._image = ax.imshow(np.zeros((1, 1, 4)), extent=(0, 1, y0, y1), aspect="auto",
                                interpolation="nearest", origin="lower", zorder=2)
        self._brk = ax.plot([0, 0], [y0 - 0.5, y1 + 0.15], color="black", lw=1.5, zorder=3)[0]
        self._brk_label = ax.text(0, y1 + 0.18, "brk", ha="center", va="bottom", fontsize=8)
        self._mmap_label = ax.text(0, 0.85, "", ha="left", va="center", fontsize=8)
        self._title = ax.text(0, 1.04, "", transform=ax.transAxes, fontsize=9, va="bottom")
        ax.set_yticks([])  # lane names are plain texts: they never change
        for y, name in ((2.5, "brk heap"), (1.75, "resident"), (0.9, "mmapped"), (0.25, "resident")):
            ax.text(-0.01, y, name, transform=ax.get_yaxis_transform(), ha="right", va="center",
                    fontsize=8)
        ax.set_ylim(0, 3.5)
        _byte_axis(ax.xaxis)
        ax.set_xlabel("bytes from the start of the heap (mmapped chunks laid side by side)",
                      fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        handles = [Patch(color=COLORS[s], label=s.replace("_", " ")) for s in STATES]
        handles += [Patch(color=COLORS["mmapped"], label="mmapped"),
                    Patch(color=COLORS["resident"], label="resident page")]
        ax.legend(handles=handles, loc="upper right", fontsize=7, ncol=9, frameon=False,
                  handlelength=1, columnspacing=0.8, bbox_to_anchor=(1, 1.32))
        self._picture = None
        self.update(data)

    def _dynamic(self):
        return (self._runs, self._image, self._resident, self._mmapped, self._brk,
                self._brk_label, self._mmap_label, self._title)

    @property
    def picture(self) -> HeapPicture:
        """The data shown now."""
        return self._picture

    @property
    def runs(self) -> PolyCollection:
        """One rectangle per run of chunks (empty when the strip is bucketed)."""
        return self._runs

    @property
    def image(self):
        """The bucketed strip (an AxesImage, hidden while there are at most MAX_RUNS runs)."""
        return self._image

    @property
    def resident(self) -> PolyCollection:
        """One rectangle per resident range, under the heap and under the mmapped chunks."""
        return self._resident

    @property
    def mmapped(self) -> PolyCollection:
        """One rectangle per mmapped chunk."""
        return self._mmapped

    @property
    def brk_line(self):
        """The vertical line at the program break."""
        return self._brk

    def update(self, new_data) -> None:
        """Show a new model (or HeapPicture), changing the existing artists' data only."""
        pic = self._picture = _picture(new_data)
        base = min([pic.heap_start] + [s for s, _, _ in pic.runs[:1]])
        heap_end = max([pic.brk] + [e for _, e, _ in pic.runs[-1:]])
        y0, y1 = _LANES["heap"]
        starts = np.array([s for s, _, _ in pic.runs], dtype=float) - base
        ends = np.array([e for _, e, _ in pic.runs], dtype=float) - base
        codes = np.array([_CODE[st] for _, _, st in pic.runs], dtype=int)
        # mmapped chunks side by side after the heap, each at its own size
        sizes = np.array([e - s for s, e in pic.mmapped], dtype=float)
        gap = max(heap_end - base, sizes.sum(), 4096) * 0.02
        lane_x0 = np.concatenate(([0.0], np.cumsum(sizes + gap)[:-1])) if len(sizes) else sizes
        xmax = max(heap_end - base, (lane_x0[-1] + sizes[-1]) if len(sizes) else 0, 4096)
        self._set_upper("x", nice_limit(xmax))
        if len(pic.runs) <= MAX_RUNS:
            # a run narrower than 2 pixels is drawn 2 pixels wide, so no chunk is invisible
            least = 2 * self._ax.get_xlim()[1] / max(self._ax.bbox.width, 1)
            self._runs.set_verts(_rects(zip(starts, np.maximum(ends, starts + least)), y0, y1))
            self._runs.set_facecolors([COLORS[st] for _, _, st in pic.runs])
            self._runs.set_linewidths(0.4 if len(pic.runs) <= 60 else 0)
            self._image.set_visible(False)
        else:
            self._runs.set_verts([])
            nb = max(100, int(self._ax.bbox.width))
            self._image.set_data(_bucket_image(starts, ends, codes, 0, xmax, nb,
                                               [COLORS[s] for s in STATES]))
            self._image.set_extent((0, xmax, y0, y1))
            self._image.set_visible(True)
        res = [(max(s, base), min(e, heap_end)) for s, e in pic.resident
               if s < heap_end and e > base]
        res_rects = _rects([(s - base, e - base) for s, e in res], *_LANES["heap_res"])
        for (ms, me), x0 in zip(pic.mmapped, lane_x0):
            res_rects += _rects([(x0 + max(s, ms) - ms, x0 + min(e, me) - ms)
                                 for s, e in pic.resident if s < me and e > ms],
                                *_LANES["mmap_res"])
        self._resident.set_verts(res_rects)
        self._mmapped.set_verts(_rects([(x, x + s) for x, s in zip(lane_x0, sizes)],
                                       *_LANES["mmap"]))
        brk_x = pic.brk - base
        self._brk.set_xdata([brk_x, brk_x])
        self._brk_label.set_x(brk_x)
        label = (f"{len(sizes)} mmapped chunk{'s' if len(sizes) != 1 else ''}, "
                 f"{int(sizes.sum()):,} bytes" if len(sizes) else "no mmapped chunks")
        self._mmap_label.set_text(label)
        self._mmap_label.set_x(xmax * 0.01 if not len(sizes) else lane_x0[-1] + sizes[-1] + gap)
        self._mmap_label.set_ha("left" if not len(sizes) or lane_x0[-1] + sizes[-1] < xmax * 0.7
                                else "right")
        if self._mmap_label.get_ha() == "right":
            self._mmap_label.set_x(xmax * 0.99)
            self._mmap_label.set_y(_LANES["mmap"][1] + 0.12)
        else:
            self._mmap_label.set_y(sum(_LANES["mmap"]) / 2)
        self._title.set_text(f"brk heap {pic.brk - pic.heap_start:,} bytes, "
                             f"{len(pic.runs):,} runs of chunks")


def heap_map(malloc, ax=None) -> HeapMap:
    """Draw the address space of ``malloc`` (a model or a HeapPicture) now; return its handle.

    >>> h = heap_map(HeapPicture.from_chunks(0, 4096, [(0, 32, "in_use"), (32, 4064, "top")]))
    >>> len(h.runs.get_paths())
    2
    """
    return HeapMap(malloc, ax)


# --------------------------------------------------------------------------- timeline

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


class TimelineChart(_Handle):
    """A timeline chart: see ``timeline_chart``."""

    def __init__(self, timeline, ax=None, cursor=None) -> None:
        super().__init__(ax)
        ax = self._ax
        self._lines = {name: ax.plot([], [], ls, color=color, lw=1.4, label=label,
                                     drawstyle="steps-post")[0]
                       for name, label, ls, color in _SERIES}
        self._cursor = ax.axvline(0, color="#CC0000", lw=1.2, ls="--", visible=False)
        _byte_axis(ax.yaxis)
        ax.set_xlabel("operations run", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, loc="lower left", frameon=False, ncol=4, bbox_to_anchor=(0, 1.0),
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
        self._set_upper("x", nice_limit(len(x) - 1))
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


def timeline_chart(timeline, ax=None, cursor=None) -> TimelineChart:
    """Draw a ``memlab.replay.Timeline`` against operation number; return its handle.

    >>> from memlab.replay import timeline
    >>> h = timeline_chart(timeline("a 0 100\\nf 0"), cursor=1)
    >>> h.lines["held"].get_ydata().tolist(), list(h.cursor_line.get_xdata())
    ([0.0, 100.0, 0.0], [1, 1])
    """
    return TimelineChart(timeline, ax, cursor)


# --------------------------------------------------------------------------- bins

_TCACHE_BINS = 64
_CLASSES = ("fastbin", "unsorted", "small", "large")


@dataclass(frozen=True, slots=True)
class BinCounts:
    """Free chunks and their bytes per bin class: tcache per chunk size, then the other classes.

    >>> b = BinCounts.from_chunks([(0, 48, "tcache"), (48, 48, "tcache"), (96, 2000, "unsorted")])
    >>> b.tcache_chunks[1], b.tcache_bytes[1], b.chunks["unsorted"], b.bytes["unsorted"]
    (2, 96, 1, 2000)
    """

    tcache_chunks: tuple[int, ...]
    tcache_bytes: tuple[int, ...]
    chunks: dict
    bytes: dict

    @classmethod
    def from_chunks(cls, chunks) -> BinCounts:
        """Count (addr, size, state) chunks; tcache bin i holds chunks of 32 + 16 i bytes."""
        tc_n, tc_b = [0] * _TCACHE_BINS, [0] * _TCACHE_BINS
        n = dict.fromkeys(_CLASSES, 0)
        b = dict.fromkeys(_CLASSES, 0)
        for _addr, size, state in chunks:
            if state == "tcache":
                i = (size - 17) // 16
                if not 0 <= i < _TCACHE_BINS:
                    raise ValueError(f"tcache chunk of {size} bytes has no tcache bin")
                tc_n[i] += 1
                tc_b[i] += size
            elif state in n:
                n[state] += 1
                b[state] += size
        return cls(tuple(tc_n), tuple(tc_b), n, b)

    @classmethod
    def of(cls, malloc) -> BinCounts:
        """Count the free chunks of a ``memlab.glibc.Malloc`` now."""
        return cls.from_chunks((c.addr, c.size, c.state) for c in malloc.chunks())


class BinChart(_Handle):
    """A bin chart: see ``bin_chart``."""

    _SIZE = (5.0, 3.0)

    def __init__(self, data, ax=None) -> None:
        super().__init__(ax)
        ax = self._ax
        w = 8.0 / _TCACHE_BINS
        self._x = np.concatenate((np.arange(_TCACHE_BINS) * w + w / 2,
                                  9.0 + 1.5 * np.arange(len(_CLASSES))))
        widths = [w * 0.9] * _TCACHE_BINS + [1.1] * len(_CLASSES)
        colors = [COLORS["tcache"]] * _TCACHE_BINS + [COLORS[c] for c in _CLASSES]
        self._bars = ax.bar(self._x, np.zeros(len(self._x)), width=widths, color=colors)
        self._twin = ax.twinx()
        self._dots = self._twin.plot(self._x, np.zeros(len(self._x)), "o", color="black",
                                     ms=3, label="chunks")[0]
        ax.set_xticks([])  # class names are plain texts: they never change
        ax.text(4.0, -0.04, "tcache, by size\n32 ... 1040 B", transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=7)
        for x, name in zip(self._x[_TCACHE_BINS:], ("fastbins", "unsorted", "small", "large")):
            ax.text(x + 0.3, -0.04, name, transform=ax.get_xaxis_transform(), ha="right",
                    va="top", rotation=35, fontsize=7, rotation_mode="anchor")
        ax.set_xlim(-0.3, self._x[-1] + 1)
        _byte_axis(ax.yaxis)
        ax.set_ylabel("free bytes (bars)", fontsize=8)
        self._twin.set_ylabel("chunks (dots)", fontsize=8)
        ax.tick_params(labelsize=8)
        self._twin.tick_params(labelsize=8)
        self._counts = None
        self.update(data)

    def _dynamic(self):
        return (*self._bars, self._dots)

    @property
    def counts(self) -> BinCounts:
        """The counts shown now."""
        return self._counts

    @property
    def bars(self):
        """The bars (bytes): 64 tcache sizes, then fastbins, unsorted, small, large."""
        return self._bars

    @property
    def dots(self):
        """The markers (chunk counts), on the right-hand axis, same order as the bars."""
        return self._dots

    def update(self, new_data) -> None:
        """Show new counts (a model, or BinCounts) in the existing bars and markers."""
        c = self._counts = new_data if isinstance(new_data, BinCounts) else BinCounts.of(new_data)
        heights = list(c.tcache_bytes) + [c.bytes[k] for k in _CLASSES]
        counts = np.array(list(c.tcache_chunks) + [c.chunks[k] for k in _CLASSES], dtype=float)
        for bar, h in zip(self._bars, heights):
            bar.set_height(h)
        shown = np.where(counts > 0, counts, np.nan)
        self._dots.set_data(self._x, shown)
        self._set_upper("y", nice_limit(max(max(heights), 64) * 1.05))
        self._set_upper("y", nice_limit(max(counts.max(), 1) * 1.05), self._twin)


def bin_chart(malloc, ax=None) -> BinChart:
    """Draw the free chunks of ``malloc`` (a model, or BinCounts) per bin class; return its handle.

    >>> h = bin_chart(BinCounts.from_chunks([(0, 32, "tcache"), (32, 64, "fastbin")]))
    >>> h.bars[0].get_height(), h.bars[64].get_height()
    (32, 64)
    """
    return BinChart(malloc, ax)
