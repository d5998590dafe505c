"""The bin chart: free chunks and their bytes per tcache size and per bin class."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memlab.charts.base import COLORS, ChartHandle, byte_axis, nice_limit

__all__ = ["BinCounts", "BinChart", "bin_chart"]

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
        """Count the free chunks of a ``memlab.glibc.Malloc`` now.

        >>> from memlab.glibc import Malloc
        >>> m = Malloc(); p = m.malloc(1); _ = m.malloc(1); m.free(p)
        >>> b = BinCounts.of(m)
        >>> b.tcache_chunks[0], b.tcache_bytes[0], sum(b.chunks.values())
        (1, 32, 0)
        """
        return cls.from_chunks((c.addr, c.size, c.state) for c in malloc.chunks())


class BinChart(ChartHandle):
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
                ha="center", va="top", fontsize=8)
        ax.axvline(8.5, color="#999999", lw=0.8)  # tcache on the left, the bins on the right
        for x, name in zip(self._x[_TCACHE_BINS:], ("fastbins", "unsorted", "small", "large")):
            ax.text(x, -0.04, name, transform=ax.get_xaxis_transform(), ha="center",
                    va="top", rotation=90, fontsize=8)
        self._empty = ax.text(0.5, 0.5, "no free chunks", transform=ax.transAxes, ha="center",
                              va="center", fontsize=10, color="#555555")
        ax.set_xlim(-0.3, self._x[-1] + 1)
        byte_axis(ax.yaxis)
        ax.set_ylabel("free bytes (bars)", fontsize=8)
        self._twin.set_ylabel("chunks (dots)", fontsize=8)
        ax.tick_params(labelsize=8)
        self._twin.tick_params(labelsize=8)
        self._counts = None
        self.update(data)

    def _dynamic(self):
        return (*self._bars, self._dots, self._empty)

    @property
    def empty_note(self):
        """The "no free chunks" text, shown only when there is no free chunk."""
        return self._empty

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
        self._empty.set_visible(not counts.any())
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
