"""The sliders of a dashboard: a scenario's own parameters and glibc's four mallopt knobs."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import ipywidgets as w

__all__ = ["Knob", "KNOBS", "as_param", "param_slider", "knob_slider", "log_values"]

#: A parameter whose range spans this many times its smallest value gets a logarithmic slider.
LOG_SPAN = 10_000
_MANTISSAS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8)

#: Room for the longest label, M_MMAP_THRESHOLD, in full.
_STYLE = {"description_width": "13em"}
_LAYOUT = {"width": "38em"}


@dataclass(frozen=True, slots=True)
class Knob:
    """A mallopt parameter a dashboard offers, glibc's default for it, and the values offered.

    >>> KNOBS[0].name, KNOBS[0].default, KNOBS[0].values[0], KNOBS[0].values[-1]
    ('M_MMAP_THRESHOLD', 131072, 4096, 33554432)
    """

    name: str
    default: int
    values: tuple[int, ...]
    description: str


def _doubling(first: int, last: int) -> tuple[int, ...]:
    out = [first]
    while out[-1] < last:
        out.append(out[-1] * 2)
    return tuple(out)


KNOBS = (
    Knob("M_MMAP_THRESHOLD", 131072, _doubling(4096, 32 << 20),
         "requests this big or bigger get their own mapping"),
    Knob("M_TRIM_THRESHOLD", 131072, _doubling(4096, 32 << 20),
         "free top above this is given back by sbrk"),
    Knob("M_TOP_PAD", 131072, (0,) + _doubling(4096, 32 << 20),
         "extra bytes asked of sbrk each time the heap grows"),
    Knob("M_MXFAST", 128, tuple(range(0, 161, 16)),
         "largest request served from fastbins"),
)


def as_param(spec):
    """A scenario parameter from a ``Param``-like object, a dict, or a tuple
    ``(name, min, max, step, default, description)``; returns an object with those attributes.

    >>> p = as_param(("n", 1, 10, 1, 4, "how many"))
    >>> p.name, p.min, p.max, p.step, p.default
    ('n', 1, 10, 1, 4)
    """
    keys = ("name", "min", "max", "step", "default", "description")
    if isinstance(spec, dict):
        values = {"step": 1, "description": "", **spec}
        values.setdefault("default", values.get("min"))
    elif isinstance(spec, (tuple, list)):
        values = dict(zip(keys, spec))
        values.setdefault("step", 1)
        values.setdefault("default", values.get("min"))
        values.setdefault("description", "")
    else:
        values = {k: getattr(spec, k) for k in keys}
    missing = [k for k in keys if values.get(k) is None and k != "description"]
    if missing:
        raise ValueError(f"parameter {spec!r} lacks {', '.join(missing)}")
    if not values["min"] <= values["default"] <= values["max"]:
        raise ValueError(f"parameter {values['name']}: default {values['default']} "
                         f"outside [{values['min']}, {values['max']}]")
    return SimpleNamespace(**{k: values[k] for k in keys})


def log_values(param) -> tuple[int, ...]:
    """The values of a logarithmic slider: 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times each power
    of ten in range (on the parameter's step), with its min, max and default.

    >>> log_values(as_param(("n", 1, 100, 1, 30, "")))
    (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100)
    """
    out = {param.min, param.max, param.default}
    power = 1
    while power <= param.max:
        for m in _MANTISSAS:
            v = param.min + round((m * power - param.min) / param.step) * param.step
            if param.min <= v <= param.max:
                out.add(int(v))
        power *= 10
    return tuple(sorted(out))


def param_slider(param):
    """A slider for one scenario parameter (updates when released): logarithmic (a selection
    of values) when the range spans four decades or more, else an IntSlider."""
    if param.max >= LOG_SPAN * max(param.min, 1):
        return w.SelectionSlider(options=[(f"{v:,}", v) for v in log_values(param)],
                                 value=param.default, description=param.name,
                                 tooltip=(param.description or param.name) + " (log scale)",
                                 continuous_update=False, style=_STYLE, layout=_LAYOUT)
    return w.IntSlider(value=param.default, min=param.min, max=param.max, step=param.step,
                       description=param.name, description_allow_html=False,
                       tooltip=param.description or param.name, continuous_update=False,
                       style=_STYLE, layout=_LAYOUT)


def _label(n: int) -> str:
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} B"


def knob_slider(knob: Knob):
    """A slider over the values of one knob, at glibc's default (updates when released)."""
    tip = f"{knob.name}: {knob.description} (glibc default {knob.default:,})"
    if knob.name == "M_MXFAST":
        return w.IntSlider(value=knob.default, min=knob.values[0], max=knob.values[-1],
                           step=knob.values[1] - knob.values[0], description=knob.name,
                           tooltip=tip, continuous_update=False, style=_STYLE, layout=_LAYOUT)
    return w.SelectionSlider(options=[(_label(v), v) for v in knob.values], value=knob.default,
                             description=knob.name, tooltip=tip, continuous_update=False,
                             style=_STYLE, layout=_LAYOUT)
