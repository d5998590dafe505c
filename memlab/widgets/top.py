"""The `top` dashboard: a program's VIRT, RES and SWAP per stage, with RAM as a slider."""

from __future__ import annotations

from memlab.charts.stages import draw_stages
from memlab.scenarios.pressure import peak, squeezed
from memlab.widgets.live import LiveChart, choice_slider, int_slider

__all__ = ["top_dashboard", "SIZES"]

#: Numbers of ints offered (powers of two: the vector's last block is then exactly full).
SIZES = tuple(2**k for k in range(12, 18))


def _draw(figure, kind, n, ram_percent) -> str:
    stages = squeezed(kind, n, ram_percent)
    ram = max(s.rss for s in stages) if ram_percent < 100 else None
    figure.clear()
    ax = figure.add_subplot()
    draw_stages(ax, stages, ram=ram, title=f"std::{kind}<int> of {n:,} ints on the model")
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.12, top=0.9)
    return (f"peak RES {peak(kind, n):,} B; RAM {ram_percent} % of it. "
            + "; ".join(s.describe() for s in stages[1:]))


def top_dashboard(kind: str = "list", n: int = 2**15) -> LiveChart:
    """A LiveChart of ``memlab.scenarios.pressure.squeezed``: program, size and RAM as sliders.

    >>> d = top_dashboard("list", 2**12)
    >>> d.set(ram_percent=50); "SWAP 0 B" in d.text.split(";")[1]
    False
    """
    sliders = {
        "kind": choice_slider("program", [("std::vector<int>", "vector"),
                                          ("std::list<int>", "list")], kind),
        "n": choice_slider("ints", [(f"{s:,}", s) for s in SIZES], n),
        "ram_percent": int_slider("RAM (% of peak RES)", 10, 100, 100, 5,
                                  "how much of its peak RES this process may keep in RAM"),
    }
    return LiveChart(_draw, sliders, title="what top shows: VIRT, RES and SWAP")
