"""Dashboard: a scenario replayed on the model, redrawn live as its sliders and knobs move.

The charts are drawn by matplotlib's Agg renderer into one figure and shown as a PNG output that
is replaced in place (``display(..., display_id=True)`` then ``handle.update``): no flicker while a
slider moves, and a saved or exported notebook keeps the last picture.
"""

from __future__ import annotations

import contextlib
import html

import ipywidgets as w
from IPython.display import Image, display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from memlab.charts import BinCounts, HeapPicture, bin_chart, heap_map, timeline_chart
from memlab.glibc.release import DEFAULT_RELEASE, RELEASES
from memlab.widgets.controls import KNOBS, as_param, knob_slider, param_slider
from memlab.widgets.prediction import Prediction
from memlab.widgets.render import FrameRenderer
from memlab.widgets.run import Engine, Run, Runs, preamble

__all__ = ["Dashboard"]

_CHARTS = ("heap", "timeline", "bins")
_SERIES = ("held", "arena", "hblkhd", "rss", "trimmed", "munmapped", "madvised")
_TICK_MS = 250
#: A new configuration keeps the axes while its data needs at least 1/_SLACK of them.
_SLACK = 2.0
_SPEEDS = (1, 10, 100, 1000)


class Dashboard:
    """Sliders for a scenario and for glibc's mallopt knobs, a glibc release selector, a player
    over its operations, a line explaining each operation, and the charts, redrawn in place.

    ``trace_factory(**values)`` returns trace text or Op records for the scenario's parameter
    values; ``params`` are ``memlab.scenarios.Param`` objects (or dicts/tuples with name, min,
    max, step, default, description). The release menu offers every release the model knows
    (``memlab.glibc.release.RELEASES``); ``glibc`` is the one shown first. A given ``engine``
    is copied for each release shown (``Engine.with_glibc``).

    >>> d = Dashboard(lambda size: f"a 0 {size}\\nf 0\\n", [("size", 16, 400_000, 16, 64, "bytes")],
    ...               charts=("timeline",))
    >>> d.set(size=200_000); d.step = 1
    >>> d.timeline.hblkhd[1], d.timeline.hblkhd[2]   # a mapping of its own, unmapped by free
    (200704, 0)
    >>> d.glibc, d.release.options[0], "glibc 2.36 model" in d.config.value
    ('2.36', '2.36', True)
    """

    def __init__(self, trace_factory, params=(), glibc: str = DEFAULT_RELEASE,
                 charts=("heap", "timeline", "bins"), *, title: str = "",
                 step: int | None = None, dpi: int = 80, engine: Engine | None = None,
                 prefetch: bool = True) -> None:
        unknown = [c for c in charts if c not in _CHARTS]
        if unknown or not charts:
            raise ValueError(f"charts must be some of {_CHARTS}, got {tuple(charts)!r}")
        known = tuple(RELEASES)
        if glibc not in known:
            raise ValueError(f"glibc must be one of the modelled releases {known}, got {glibc!r}")
        self._factory = trace_factory
        self._params = tuple(as_param(p) for p in params)
        self._engine = (engine or Engine(glibc)).with_glibc(glibc)
        self._engines = {glibc: self._engine}
        self._kinds = tuple(charts)
        self._dpi = dpi
        self._runs = Runs(self._build, size=12)
        self._prefetching = prefetch
        self._moved = None  # the control moved last: its next values are prefetched
        self._handle = None
        self._png = b""
        self._renders = 0
        self._error = ""
        self.sliders = {p.name: param_slider(p) for p in self._params}
        self.knobs = {k.name: knob_slider(k) for k in KNOBS}
        self.release = w.Dropdown(options=known, value=glibc, description="glibc release",
                                  style={"description_width": "13em"},
                                  tooltip="the glibc release whose malloc the model imitates")
        self._run = self._runs.get(self._key())
        n = self._run.steps
        self.step_slider = w.IntSlider(value=n if step is None else step, min=0, max=n,
                                       description="operation", continuous_update=False,
                                       style={"description_width": "13em"},
                                       layout={"width": "38em"})
        self.play = w.Play(value=self.step_slider.value, min=0, max=n, interval=_TICK_MS,
                           description="play", show_repeat=False)
        w.link((self.play, "value"), (self.step_slider, "value"))
        self.speed = w.Dropdown(options=[(f"{k:,} a tick", k) for k in _SPEEDS], value=1,
                                description="play speed", layout={"width": "16em"},
                                tooltip="operations the player moves on each tick "
                                        f"({1000 // _TICK_MS} ticks a second)")
        w.link((self.speed, "value"), (self.play, "step"))
        self.step_buttons = [self._button(f"{'-' if k < 0 else '+'}{abs(k):,}",
                                          lambda _b, k=k: self._move(k),
                                          f"{'back' if k < 0 else 'on'} {abs(k):,} operations")
                             for k in (-1000, -10, -1, 1, 10, 1000)]
        self.moment_buttons = [self._button(label, lambda _b, label=label: self.jump(label),
                                            f"jump to the moment labelled {label!r}")
                               for label in ("start", *self._run.moments(), "end")
                               if label != "end" or "end" not in self._run.moments()]
        self.explain = w.HTML(layout={"min_height": "2.6em"})
        self.config = w.HTML()
        self._figure = self._draw_figure()
        for s in (*self.sliders.values(), *self.knobs.values(), self.release):
            s.observe(self._on_config, names="value")
        self.step_slider.observe(self._on_step, names="value")
        reset = w.Button(description="glibc defaults", tooltip="put the four knobs back")
        reset.on_click(lambda _b: self.reset_knobs())
        heading = [w.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.controls = w.VBox(heading + [
            *self.sliders.values(),
            w.HBox([w.VBox(list(self.knobs.values())), reset]),
            self.release,
            w.HBox([self.play, self.speed]),
            self.step_slider,
            w.HBox([w.Label("step", layout={"width": "4em"}), *self.step_buttons,
                    w.Label("jump to", layout={"width": "5em", "margin": "0 0 0 1.5em"}),
                    *self.moment_buttons]),
            self.explain, self.config])
        self._refresh()
        self._prefetch()

    # ------------------------------------------------------------------ public views

    @property
    def figure(self) -> Figure:
        """The figure holding the charts."""
        return self._figure

    @property
    def charts(self) -> dict:
        """The chart handles, keyed 'heap', 'timeline', 'bins'."""
        return dict(self._charts)

    @property
    def values(self) -> dict[str, int]:
        """The scenario's parameter values now."""
        return {name: s.value for name, s in self.sliders.items()}

    @property
    def glibc(self) -> str:
        """The glibc release modelled now (the release menu's choice); settable."""
        return self.release.value

    @glibc.setter
    def glibc(self, name: str) -> None:
        if name not in self.release.options:
            raise ValueError(f"glibc must be one of the modelled releases "
                             f"{tuple(self.release.options)}, got {name!r}")
        self.release.value = name

    @property
    def settings(self) -> dict[str, int]:
        """The knobs moved away from glibc's defaults (these become mallopt calls)."""
        return {k.name: self.knobs[k.name].value for k in KNOBS
                if self.knobs[k.name].value != k.default}

    @property
    def ops(self) -> tuple:
        """The operations replayed: the mallopt preamble, then the scenario's."""
        return self._run.ops

    @property
    def trace_text(self) -> str:
        """The replayed trace as text (give it to ``python -m memlab compare``)."""
        return "".join(f"{op}\n" for op in self._run.ops)

    @property
    def timeline(self):
        """The Timeline of the configuration shown, from step 0 (after the preamble)."""
        return self._run.timeline

    @property
    def step(self) -> int:
        """The operation shown (0 = before the scenario's first)."""
        return self.step_slider.value

    @step.setter
    def step(self, value: int) -> None:
        self.step_slider.value = value

    @property
    def model(self):
        """The malloc model after the operation shown (do not change it)."""
        return self._run.model(self.step)

    @property
    def explanation(self) -> str:
        """The explain line's text."""
        return self._explain_text()

    @property
    def png(self) -> bytes:
        """The last picture rendered, as PNG bytes."""
        return self._png

    @property
    def renders(self) -> int:
        """How many times the picture has been rendered."""
        return self._renders

    @property
    def runs_built(self) -> int:
        """How many configurations have been replayed (the rest came from the cache)."""
        return self._runs.built

    def set(self, **values: int) -> None:
        """Move scenario sliders or knobs by name, then redraw once."""
        unknown = sorted(set(values) - set(self.sliders) - set(self.knobs))
        if unknown:
            raise ValueError(f"no slider named {', '.join(unknown)}; "
                             f"known: {', '.join([*self.sliders, *self.knobs])}")
        with self._held():
            for name, v in values.items():
                slider = self.sliders.get(name) or self.knobs[name]
                if hasattr(slider, "options") and name in self.sliders:
                    offered = [value for _, value in slider.options]
                    if v not in offered:  # a value between the log slider's marks
                        slider.options = [(f"{x:,}", x) for x in sorted({*offered, v})]
                slider.value = v
        self._on_config(None)

    def jump(self, label: str) -> None:
        """Show the moment labelled ``label`` in the trace ('start', a snapshot's label, 'end')."""
        moments = {"start": 0, **self._run.moments(), "end": self._run.steps}
        if label not in moments:
            raise ValueError(f"no moment {label!r}; moments: {', '.join(moments)}")
        self.step = moments[label]

    def _move(self, by: int) -> None:
        self.step = min(max(self.step + by, 0), self._run.steps)

    @staticmethod
    def _button(text: str, action, tip: str) -> w.Button:
        b = w.Button(description=text, tooltip=tip, layout={"width": "auto"})
        b.on_click(action)
        return b

    def reset_knobs(self) -> None:
        """Put every knob back to glibc's default (no mallopt call)."""
        self.set(**{k.name: k.default for k in KNOBS})

    def to_csv(self) -> str:
        """The Timeline shown, as CSV text."""
        return self._run.timeline.to_csv()

    def save(self, path: str, **kwargs) -> str:
        """Save the charts as they are now (PNG, SVG, PDF by suffix); return ``path``."""
        self._figure.savefig(path, **kwargs)
        return path

    def _ipython_display_(self) -> None:
        display(self.controls)
        self._handle = display(Image(data=self._png, format="png"), display_id=True)

    def _repr_png_(self) -> bytes:
        return self._png

    # ------------------------------------------------------------------ internals

    def _key(self, values=None, knobs=None) -> tuple:
        values = self.values if values is None else values
        knobs = {k.name: self.knobs[k.name].value for k in KNOBS} if knobs is None else knobs
        settings = tuple((k.name, knobs[k.name]) for k in KNOBS if knobs[k.name] != k.default)
        return (self.glibc, tuple(values.items()), settings)

    def _neighbours(self, slider) -> list:
        """The values one keyboard step either side of ``slider``'s value."""
        if hasattr(slider, "options"):
            offered = [v for _, v in slider.options]
            i = offered.index(slider.value)
            return [offered[j] for j in (i + 1, i - 1) if 0 <= j < len(offered)]
        return [v for v in (slider.value + slider.step, slider.value - slider.step)
                if slider.min <= v <= slider.max]

    def _prefetch(self) -> None:
        """Replay, in the background, the configurations one step away on the control moved
        last and on the scenario's own sliders."""
        if not self._prefetching:
            return
        keys = []
        controls = [self._moved] if self._moved is not None else []
        controls += [s for s in self.sliders.values() if s is not self._moved]
        for slider in controls:
            for v in self._neighbours(slider):
                values = self.values
                knobs = {k.name: self.knobs[k.name].value for k in KNOBS}
                if slider.description in values and slider is self.sliders.get(
                        slider.description):
                    values[slider.description] = v
                else:
                    knobs[slider.description] = v
                keys.append(self._key(values, knobs))
        self._runs.prefetch(keys)

    def _engine_for(self, glibc: str) -> Engine:
        if glibc not in self._engines:
            self._engines[glibc] = self._engine.with_glibc(glibc)
        return self._engines[glibc]

    def _build(self, key: tuple) -> Run:
        engine = self._engine_for(key[0])
        values, settings = dict(key[1]), dict(key[2])
        made = self._factory(**values)
        ops = engine.parse(made) if isinstance(made, str) else tuple(made)
        pre = preamble(settings, engine)
        return Run(pre + ops, len(pre), engine)

    @contextlib.contextmanager
    def _held(self):
        """Changes made inside do not redraw (the caller redraws once after)."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False

    _holding = False

    def _draw_figure(self) -> Figure:
        heap = "heap" in self._kinds
        lower = [k for k in self._kinds if k != "heap"]
        fig = Figure(figsize=(10, 7.4 if heap and lower else 4.0), dpi=self._dpi)
        FigureCanvasAgg(fig)
        rows = 2 if heap and lower else 1
        grid = fig.add_gridspec(
            rows, max(1, len(lower)),
            width_ratios=[3 if k == "timeline" else 2 for k in lower] or [1],
            height_ratios=[1.0, 1.3] if rows == 2 else [1],
            left=0.1, right=0.93, top=0.88 if heap else 0.84, bottom=0.15 if heap else 0.26,
            hspace=0.62, wspace=0.3)
        model = self._run.model(self.step)
        self._charts = {}
        if heap:
            self._charts["heap"] = heap_map(HeapPicture.of(model), fig.add_subplot(grid[0, :]))
        for i, kind in enumerate(lower):
            ax = fig.add_subplot(grid[rows - 1, i])
            if kind == "timeline":
                # madvise is named only where a scenario uses it (the lessons introduce it late)
                line = self._run.timeline
                series = [n for n in _SERIES if n != "madvised" or any(line.madvised)]
                self._charts[kind] = timeline_chart(line, ax, cursor=self.step, series=series)
            else:
                self._charts[kind] = bin_chart(BinCounts.of(model), ax)
        for chart in self._charts.values():
            chart.slack = _SLACK
        self._renderer = FrameRenderer(
            fig, [a for chart in self._charts.values() for a in chart.dynamic_artists])
        return fig

    def _on_config(self, change) -> None:
        if self._holding:
            return
        if change is not None and change["owner"] is not self.release:
            self._moved = change["owner"]
        at_end = self.step == self._run.steps
        try:
            run = self._runs.get(self._key())
        except Exception as exc:  # a bad parameter or a trace the model refuses
            self._error = f"{type(exc).__name__}: {exc}"
            self.explain.value = f"<span style='color:#b00'>{html.escape(self._error)}</span>"
            return
        self._error = ""
        self._run = run
        step = run.steps if at_end else min(self.step, run.steps)
        with self._held():
            self.play.max = self.step_slider.max = run.steps
            self.step_slider.value = step
        if "timeline" in self._charts:
            self._charts["timeline"].update(run.timeline)
        self._refresh(fresh_scale=True)
        self._prefetch()

    def _on_step(self, _change) -> None:
        if not self._holding:
            self._refresh()

    def _explain_text(self) -> str:
        step, run = self.step, self._run
        if step == 0:
            return f"before operation 1 of {run.steps}"
        return f"operation {step} of {run.steps}: {run.op(step)} | {run.note(step)}"

    def _refresh(self, fresh_scale: bool = False) -> None:
        step, run = self.step, self._run
        model = run.model(step)
        for kind, data in (("heap", HeapPicture), ("bins", BinCounts)):
            if kind in self._charts:
                chart = self._charts[kind]
                chart.grow_only = not fresh_scale  # one scale while stepping
                chart.update(data.of(model))
        if "timeline" in self._charts:
            self._charts["timeline"].set_cursor(step)
        if step:
            op, note = str(run.op(step)), run.note(step)
            self.explain.value = (f"<b>operation {step} of {run.steps}</b>: "
                                  f"<code>{html.escape(op)}</code> &nbsp; {html.escape(note)}")
        else:
            self.explain.value = html.escape(self._explain_text())
        moved = self.settings
        knobs = ", ".join(f"{k}={v:,}" for k, v in moved.items()) or "all at glibc defaults"
        params = ", ".join(f"{k}={v:,}" for k, v in self.values.items())
        self.config.value = (f"<small>glibc {html.escape(self.glibc)} model; "
                             f"{html.escape(params)}{'; ' if params else ''}"
                             f"mallopt: {html.escape(knobs)}</small>")
        self._png = self._renderer.render()
        self._renders += 1
        if self._handle is not None:
            self._handle.update(Image(data=self._png, format="png"))
