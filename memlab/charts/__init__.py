"""Pictures of the model (matplotlib only), one module per chart, gathered here under one name.

Each ``draw`` function takes ``ax=None`` (a new figure is made when no axes is given) and returns a
handle with ``.update(new_data)``, ``.figure``, ``.ax`` and ``.save(path)``; a handle shows itself
as a PNG in a notebook.

    heap_map(malloc)          the address space at one moment: brk heap chunks by state, the
                              program break, mmapped chunks, resident pages   (charts_heap)
    timeline_chart(timeline)  held / arena / mmapped / rss and what went back to the OS, per op
                                                                              (charts_timeline)
    bin_chart(malloc)         free chunks and bytes per bin class             (charts_bins)
    release_chart(comparison) one experiment's end on several glibc releases  (charts_releases)
    allocator_chart(runs)     resident memory over one trace on glibc, jemalloc, tcmalloc and
                              mimalloc (runs: memlab.native.run_allocators)   (charts.allocators)

What they share (colours, byte axes, the handle) lives in ``memlab.charts.base``.

>>> h = bin_chart(BinCounts.from_chunks([(0, 48, "tcache")]))
>>> h.bars[1].get_height(), fmt_axis_bytes(h.bars[1].get_height())
(48, '48 B')
"""

from __future__ import annotations

from memlab.charts.allocators import AllocatorChart, allocator_chart, allocators_on
from memlab.charts.base import COLORS, STATES, ChartHandle, fmt_axis_bytes, nice_limit
from memlab.charts.bins import BinChart, BinCounts, bin_chart
from memlab.charts.heap import MAX_RUNS, HeapMap, HeapPicture, heap_map
from memlab.charts.releases import ReleaseChart, release_chart
from memlab.charts.timeline import TimelineChart, timeline_chart

__all__ = [
    "STATES",
    "COLORS",
    "MAX_RUNS",
    "HeapPicture",
    "BinCounts",
    "heap_map",
    "timeline_chart",
    "bin_chart",
    "release_chart",
    "allocator_chart",
    "allocators_on",
    "HeapMap",
    "TimelineChart",
    "BinChart",
    "ReleaseChart",
    "AllocatorChart",
    "ChartHandle",
    "fmt_axis_bytes",
    "nice_limit",
]
