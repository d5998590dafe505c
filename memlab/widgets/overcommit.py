"""The overcommit dashboard: mode, RAM, swap, ratio, request, step and pages written as sliders."""

from __future__ import annotations

from memlab.charts.overcommit import draw_overcommit
from memlab.scenarios.overcommit import Machine, explore
from memlab.units import GiB, MiB
from memlab.widgets.live import LiveChart, choice_slider, int_slider

__all__ = ["overcommit_dashboard", "STEPS"]

#: realloc step sizes offered (bytes).
STEPS = (16 * MiB, 64 * MiB, 100 * MiB, 256 * MiB, GiB, 4 * GiB)


def _draw(figure, mode, ram_gib, swap_gib, ratio, request_gib, step, written_pct) -> str:
    machine = Machine(ram=ram_gib * GiB, swap=swap_gib * GiB, mode=mode, ratio=ratio)
    size = request_gib * GiB
    e = explore(machine, size, step, size * written_pct // 100)
    draw_overcommit(figure, e)
    return e.summary()


def overcommit_dashboard(machine: Machine | None = None, request_gib: int = 100) -> LiveChart:
    """A LiveChart of ``memlab.scenarios.overcommit.explore``, starting from ``machine``
    (this machine, read from /proc, when None; RAM and swap rounded to whole GiB).

    >>> d = overcommit_dashboard(Machine(ram=16 * GiB), request_gib=100)
    >>> d.text.startswith("malloc(100.0 GiB): NULL; realloc by 100.0 MiB: reaches 100.0 GiB")
    True
    >>> d.set(mode=2); d.text.split(";")[1]
    ' realloc by 100.0 MiB: stops at 7.9 GiB'
    """
    machine = machine or Machine.here()
    ram = max(1, min(256, round(machine.ram / GiB)))
    swap = min(64, round(machine.swap / GiB))
    sliders = {
        "mode": choice_slider("overcommit_memory", [("0 heuristic", 0), ("1 always", 1),
                                                    ("2 never", 2)], machine.mode),
        "ram_gib": int_slider("RAM (GiB)", 1, 256, ram),
        "swap_gib": int_slider("swap (GiB)", 0, 64, swap),
        "ratio": int_slider("overcommit_ratio (%)", 0, 100, min(100, machine.ratio), 5),
        "request_gib": int_slider("request (GiB)", 1, 256, request_gib),
        "step": choice_slider("realloc step", [(f"{s // MiB} MiB", s) for s in STEPS], 100 * MiB),
        "written_pct": int_slider("written (%)", 0, 100, 0, 5,
                                  "how much of the granted block the program writes"),
    }
    return LiveChart(_draw, sliders, title="asking for more than the machine has")
