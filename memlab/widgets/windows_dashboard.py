"""Lesson 09's dashboard: the Windows scenario's address space, with its sizes and fix as sliders."""

from __future__ import annotations

from memlab.charts.windows import AddressSpaceChart
from memlab.scenarios.windows import FIXES, seed_run
from memlab.units import MiB
from memlab.widgets.live import LiveChart, choice_slider

__all__ = ["windows_dashboard", "OBJECTS_MIB", "BIG_MIB", "STAGES"]

#: MiB of small objects offered, and sizes of the big request (MiB).
OBJECTS_MIB = (256, 512, 768, 1024, 1280)
BIG_MIB = (100, 200, 300, 400, 500, 600, 800, 1000, 1200, 1500)
STAGES = ("start", "built", "half dropped", "big block")


def windows_dashboard(objects_mib: int = 1024, big_mib: int = 500, fix: str = "none") -> LiveChart:
    """A LiveChart of ``memlab.scenarios.windows.seed_run``; the chart is drawn once and then
    updated in place as the sliders move.

    >>> d = windows_dashboard(256, 100)
    >>> d.text.endswith("VirtualAlloc(100 MiB) succeeds")
    True
    """
    charts: list[AddressSpaceChart] = []

    def draw(figure, objects_mib, big_mib, fix, stage):
        run = seed_run(objects_mib * MiB, big_mib * MiB, fix)
        m = run.stage(stage).map
        if charts:
            charts[0].update(m, big_mib * MiB)
        else:
            charts.append(AddressSpaceChart(m, big_mib * MiB, figure))
        return run.summary(stage)

    sliders = {
        "objects_mib": choice_slider("objects", [(f"{n:,} MiB", n) for n in OBJECTS_MIB], objects_mib),
        "big_mib": choice_slider("big request", [(f"{n:,} MiB", n) for n in BIG_MIB], big_mib),
        "fix": choice_slider("fix", [(f, f) for f in FIXES], fix),
        "stage": choice_slider("stage", [(s, s) for s in STAGES], "half dropped"),
    }
    return LiveChart(draw, sliders, title="a 32-bit Windows process running out of address space")
