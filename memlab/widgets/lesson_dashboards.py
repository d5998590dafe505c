"""The lessons' dashboards: a scenario's model, drawn by a chart, driven by sliders (LiveChart).

    overcommit_dashboard   lesson 04: mode, RAM, swap, ratio, request, step and pages written
    top_dashboard          lesson 05: a program's VIRT, RES and SWAP per stage, RAM as a slider
    threads_dashboard      lesson 07: resident memory and arena of worker threads, M_ARENA_MAX
"""

from __future__ import annotations

from memlab.charts.base import COLORS, byte_axis
from memlab.charts.overcommit import draw_overcommit
from memlab.charts.stages import draw_stages
from memlab.scenarios.arenas import working
from memlab.scenarios.overcommit import Machine, explore
from memlab.scenarios.pressure import peak, ram_for, squeezed
from memlab.units import GiB, MiB
from memlab.widgets.live import LiveChart, choice_slider, int_slider

__all__ = ["overcommit_dashboard", "top_dashboard", "threads_dashboard", "STEPS", "SIZES",
           "ARENA_MAX"]

#: realloc step sizes offered (bytes).
STEPS = (16 * MiB, 64 * MiB, 100 * MiB, 256 * MiB, GiB, 4 * GiB)


def _draw_overcommit(figure, mode, ram_gib, swap_gib, ratio, request_gib, step,
                     written_pct) -> str:
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
    return LiveChart(_draw_overcommit, sliders, title="asking for more than the machine has")

#: Numbers of ints offered (powers of two: the vector's last block is then exactly full).
SIZES = tuple(2**k for k in range(12, 18))


def _draw_top(figure, kind, n, ram_percent) -> str:
    stages = squeezed(kind, n, ram_percent)
    ram = ram_for(kind, n, ram_percent) if ram_percent < 100 else None
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
    return LiveChart(_draw_top, sliders, title="what top shows: VIRT, RES and SWAP")


#: M_ARENA_MAX values offered by the threads dashboard (0: glibc's own limit, 8 per CPU).
ARENA_MAX = (0, 1, 2)


def _draw_threads(figure, threads, arena_max) -> str:
    points = [working(n, arena_max) for n in range(1, threads + 1)]
    figure.clear()
    ax, per_arena = figure.subplots(1, 2, gridspec_kw={"width_ratios": (3, 2)})
    xs = range(1, threads + 1)
    ax.bar([x - 0.2 for x in xs], [p.rss for p in points], 0.4, label="resident",
           color=COLORS["resident"])
    ax.bar([x + 0.2 for x in xs], [p.arena for p in points], 0.4, label="arena",
           color=COLORS["in_use"])
    ax.set_xlabel("worker threads")
    ax.set_xticks(list(xs))
    ax.set_ylim(0, 1.25 * max(max(p.rss, p.arena) for p in points))   # room for the legend
    byte_axis(ax.yaxis)
    ax.legend(loc="upper left", ncol=2)
    ax.set_title(f"M_ARENA_MAX {arena_max or 'default (8 per CPU)'}, on the model of glibc 2.36")
    last = points[-1]
    _draw_arenas(per_arena, last.arenas, threads)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.14, top=0.9, wspace=0.3)
    k = len(last.arenas)
    return (f"{threads} threads: resident {last.rss:,} B, arena {last.arena:,} B, "
            f"in {k} arena{'s' if k > 1 else ''}")


def _draw_arenas(ax, arenas, threads) -> None:
    """Each arena's bytes from the kernel, split into in use and free (kept by the arena)."""
    names = ["main"] + [str(k) for k in range(1, len(arenas))]
    used = [u for _, u in arenas]
    ax.bar(names, used, 0.6, label="in use", color=COLORS["in_use"])
    ax.bar(names, [s - u for s, u in arenas], 0.6, bottom=used, label="free, kept",
           color=COLORS["top"])
    ax.set_xlabel("arena")
    ax.set_ylim(0, 1.25 * max(s for s, _ in arenas))
    byte_axis(ax.yaxis)
    ax.legend(loc="upper left", ncol=2)
    ax.set_title(f"each arena at {threads} threads")


def threads_dashboard(threads: int = 4, arena_max: int = 0) -> LiveChart:
    """A LiveChart of ``memlab.scenarios.arenas.working``: threads 1-8 and M_ARENA_MAX.

    >>> d = threads_dashboard(1)
    >>> d.set(threads=2, arena_max=1); d.text.startswith("2 threads: resident "), d.text[-10:]
    (True, 'in 1 arena')
    """
    sliders = {
        "threads": int_slider("worker threads", 1, 8, threads),
        "arena_max": choice_slider("M_ARENA_MAX", [("0 (default)" if v == 0 else str(v), v)
                                                   for v in ARENA_MAX], arena_max),
    }
    return LiveChart(_draw_threads, sliders, title="worker threads and their arenas")
