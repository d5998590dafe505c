"""Fast PNG frames of a figure: cached layers, so a redraw paints only what changed.

Drawing text is what makes a matplotlib redraw slow (a few milliseconds per label). A frame is
therefore assembled from three layers:

1. the base: everything that never changes (frames, legends, lane names), drawn once;
2. per group of axes sharing a position (an axes and its twin), its tick marks, tick labels and
   axis labels, drawn once per set of axis limits and kept (least recently used first out);
3. the dynamic artists (the data), painted on top every frame.
"""

from __future__ import annotations

import io
from collections import OrderedDict

from matplotlib.transforms import Bbox
from PIL import Image

__all__ = ["FrameRenderer"]


class FrameRenderer:
    """Render ``figure`` to PNG bytes, repainting only ``dynamic`` artists and changed axes.

    The figure must have a fixed layout (no layout engine): cached layers are only valid while
    the axes stay where they were drawn.
    """

    def __init__(self, figure, dynamic, cache: int = 16) -> None:
        if figure.get_layout_engine() is not None:
            raise ValueError("FrameRenderer needs a figure without a layout engine")
        self._fig = figure
        self._dynamic = sorted(dynamic, key=lambda a: a.get_zorder())
        self._size = cache
        self._base = None
        self._regions: dict[int, Bbox] = {}
        self._groups: dict[tuple, list] = {}
        for ax in figure.axes:
            self._groups.setdefault(tuple(ax.get_position().bounds), []).append(ax)
        self._layers: OrderedDict[tuple, object] = OrderedDict()
        self._full = 0
        self._axis_draws = 0

    @property
    def full_draws(self) -> int:
        """How many times the base layer was drawn."""
        return self._full

    @property
    def axis_draws(self) -> int:
        """How many times a group's ticks and labels were drawn (a layer cache miss)."""
        return self._axis_draws

    def _axes_of(self, group):
        return [axis for ax in group for axis in (ax.xaxis, ax.yaxis)]

    def _draw_base(self, canvas) -> None:
        shown = [(a, a.get_visible()) for a in self._dynamic]
        shown += [(axis, axis.get_visible()) for g in self._groups.values()
                  for axis in self._axes_of(g)]
        for artist, _ in shown:
            artist.set_visible(False)
        try:
            canvas.draw()
        finally:
            for artist, visible in shown:
                artist.set_visible(visible)
        self._base = canvas.copy_from_bbox(self._fig.bbox)
        self._full += 1
        # Where each group's ticks and labels go: measured once, with room to spare.
        renderer = canvas.get_renderer()
        self._regions = {}
        for group in self._groups.values():
            boxes = [ax.bbox.padded(8) for ax in group]
            for axis in self._axes_of(group):
                box = axis.get_tightbbox(renderer) if axis.get_visible() else None
                if box is not None and box.width > 0:
                    boxes.append(box.padded(12))
            self._regions[id(group[0])] = Bbox.intersection(Bbox.union(boxes), self._fig.bbox)

    def _layer(self, canvas, renderer, group):
        key = (id(group[0]),) + tuple((ax.get_xlim(), ax.get_ylim()) for ax in group)
        layer = self._layers.pop(key, None)
        if layer is None:
            canvas.restore_region(self._base)
            for axis in self._axes_of(group):
                if axis.get_visible():
                    axis.draw(renderer)
            layer = canvas.copy_from_bbox(self._regions[id(group[0])])
            self._axis_draws += 1
        self._layers[key] = layer
        while len(self._layers) > self._size:
            self._layers.popitem(last=False)
        return layer

    def render(self) -> bytes:
        """The figure as it is now, as PNG bytes."""
        canvas = self._fig.canvas
        if self._base is None:
            self._draw_base(canvas)
        renderer = canvas.get_renderer()
        layers = [self._layer(canvas, renderer, g) for g in self._groups.values()]
        canvas.restore_region(self._base)
        for layer in layers:
            canvas.restore_region(layer)
        for artist in self._dynamic:
            if artist.get_visible():
                artist.draw(renderer)
        width, height = canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="png", compress_level=1)
        return out.getvalue()
