"""LiveChart: sliders whose values redraw one matplotlib figure in place, with a line of text.

A lesson's own dashboards (overcommit, top, the pinned heap) are a drawing function and some
sliders; this class wires them: every slider change calls ``draw(figure, **values)``, which
redraws the figure and returns the line shown under the sliders. The picture is a PNG output
replaced in place (``display(..., display_id=True)``), so a saved notebook keeps the last one.
"""

from __future__ import annotations

import html
import io

import ipywidgets as w
from IPython.display import Image, display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from memlab.errors import MemlabError

__all__ = ["LiveChart", "int_slider", "choice_slider"]

_STYLE = {"description_width": "12em"}
_LAYOUT = {"width": "36em"}


def int_slider(name: str, low: int, high: int, value: int, step: int = 1,
               tip: str = "") -> w.IntSlider:
    """An integer slider that reports when released.

    >>> int_slider("RAM (GiB)", 1, 64, 16).value
    16
    """
    return w.IntSlider(value=value, min=low, max=high, step=step, description=name,
                       tooltip=tip or name, continuous_update=False, style=_STYLE,
                       layout=_LAYOUT)


def choice_slider(name: str, options, value, tip: str = "") -> w.SelectionSlider:
    """A slider over labelled values: ``options`` are (label, value) pairs.

    >>> choice_slider("mode", [("0", 0), ("1", 1)], 1).value
    1
    """
    return w.SelectionSlider(options=list(options), value=value, description=name,
                             tooltip=tip or name, continuous_update=False, style=_STYLE,
                             layout=_LAYOUT)


class LiveChart:
    """Sliders, a line of text and a figure that ``draw(figure, **values)`` redraws.

    ``draw`` clears and fills the figure and returns the text line. A MemlabError it raises is
    shown in place of the line (the figure keeps its last picture).

    >>> def draw(fig, n):
    ...     fig.clear(); fig.add_subplot().bar([0], [n]); return f"n = {n}"
    >>> live = LiveChart(draw, {"n": int_slider("n", 0, 9, 3)})
    >>> live.set(n=7); live.text, live.renders
    ('n = 7', 2)
    """

    def __init__(self, draw, sliders: dict, *, title: str = "", size=(9.0, 3.6),
                 dpi: int = 80) -> None:
        self._draw = draw
        self.sliders = dict(sliders)
        self._figure = Figure(figsize=size, dpi=dpi)
        FigureCanvasAgg(self._figure)
        self._line = w.HTML(layout={"min_height": "2.6em"})
        self._text = ""
        self._png = b""
        self._renders = 0
        self._handle = None
        heading = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.controls = w.VBox(heading + list(self.sliders.values()) + [self._line])
        for slider in self.sliders.values():
            slider.observe(self._on_change, names="value")
        self._refresh()

    @property
    def values(self) -> dict:
        """The sliders' values now."""
        return {name: s.value for name, s in self.sliders.items()}

    @property
    def figure(self) -> Figure:
        """The figure the charts are drawn into."""
        return self._figure

    @property
    def text(self) -> str:
        """The line under the sliders (plain text)."""
        return self._text

    @property
    def png(self) -> bytes:
        """The picture now, as PNG bytes."""
        return self._png

    @property
    def renders(self) -> int:
        """How many times the figure was drawn."""
        return self._renders

    def set(self, **values) -> None:
        """Move sliders by name (one redraw per slider moved)."""
        unknown = sorted(set(values) - set(self.sliders))
        if unknown:
            raise TypeError(f"no slider named {', '.join(unknown)}; have {', '.join(self.sliders)}")
        for name, value in values.items():
            self.sliders[name].value = value

    def _on_change(self, _change) -> None:
        self._refresh()

    def _refresh(self) -> None:
        try:
            self._text = self._draw(self._figure, **self.values)
        except MemlabError as exc:
            self._text = f"error: {exc}"
        else:
            self._png = _png_of(self._figure)
            self._renders += 1
            if self._handle is not None:
                self._handle.update(Image(data=self._png, format="png"))
        self._line.value = html.escape(self._text)

    def _ipython_display_(self) -> None:
        display(self.controls)
        self._handle = display(Image(data=self._png, format="png"), display_id=True)

    def _repr_png_(self) -> bytes:
        return self._png


def _png_of(figure: Figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
