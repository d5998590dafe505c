"""The heap map: the brk heap's chunks by state, the break, mmapped chunks and resident pages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.patches import Patch

from memlab.charts.base import COLORS, STATES, ChartHandle, byte_axis, nice_limit

__all__ = ["MAX_RUNS", "HeapPicture", "HeapMap", "heap_map"]

#: Above this many runs (of adjacent same-state chunks), the strip is drawn in pixel buckets.
MAX_RUNS = 2000
_CODE = {state: i for i, state in enumerate(STATES)}
_BUCKET_ROWS = 24  # pixel rows of a bucketed strip: each column stacks its state fractions
_LANES = {"heap": (2.0, 3.0), "heap_res": (1.6, 1.9), "mmap": (0.5, 1.3), "mmap_res": (0.1, 0.4)}


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
        """The picture of a ``memlab.glibc.Malloc`` (or anything with the same views) now.

        Two malloc(1) then a free of the first: tcache's own 656-byte block, the freed 32-byte
        chunk (in tcache), the live one, then top up to the 132 KiB break.

        >>> from memlab.glibc import Malloc
        >>> m = Malloc(); p = m.malloc(1); _ = m.malloc(1); m.free(p)
        >>> pic = HeapPicture.of(m)
        >>> [(s - pic.heap_start, e - pic.heap_start, st) for s, e, st in pic.runs]
        [(0, 656, 'in_use'), (656, 688, 'tcache'), (688, 720, 'in_use'), (720, 135168, 'top')]
        """
        space = malloc.space
        spans = getattr(malloc, "chunk_spans", None)
        if spans is not None:      # runs of equal chunks stay runs: no record per chunk
            chunks = ((addr, size * count, state) for addr, size, state, count in spans())
        else:
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
    return to_rgba(color)


def _rects(pairs, y0, y1):
    return [((s, y0), (s, y1), (e, y1), (e, y0)) for s, e in pairs]


class HeapMap(ChartHandle):
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
        byte_axis(ax.xaxis)
        ax.set_xlabel("bytes from the start of the heap (mmapped chunks laid side by side)",
                      fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        handles = [Patch(color=COLORS[s], label=s.replace("_", " ")) for s in STATES]
        handles += [Patch(color=COLORS["mmapped"], label="mmapped"),
                    Patch(color=COLORS["resident"], label="resident page")]
        ax.legend(handles=handles, loc="upper right", fontsize=9, ncol=9, frameon=False,
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
