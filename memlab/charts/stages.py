"""Stages chart: a program's VIRT, RES and SWAP at each stage, as `top` would show them."""

from __future__ import annotations

from matplotlib.figure import Figure

from memlab.charts.base import COLORS, byte_axis

__all__ = ["draw_stages"]


def draw_stages(ax, stages, ram: int | None = None, title: str = "") -> None:
    """Draw ``stages`` (objects with label, vsz, rss, swap) as bars on ``ax`` (cleared first):
    VIRT as an outline, RES filled, SWAP stacked on RES; ``ram`` as a dashed line.

    >>> from memlab.scenarios.programs import Stage
    >>> ax = Figure().add_subplot()
    >>> draw_stages(ax, [Stage("a", 8192, 4096, 4096, None)], ram=4096)
    >>> [round(p.get_height()) for p in ax.patches]
    [8192, 4096, 4096]
    """
    ax.clear()
    labels = [s.label for s in stages]
    x = range(len(stages))
    ax.bar(x, [s.vsz for s in stages], width=0.7, color="none", edgecolor="#555555",
           label="VIRT (mapped)")
    ax.bar(x, [s.rss for s in stages], width=0.5, color=COLORS["resident"], label="RES (in RAM)")
    ax.bar(x, [s.swap for s in stages], width=0.5, bottom=[s.rss for s in stages],
           color=COLORS["tcache"], label="SWAP")
    if ram is not None:
        ax.axhline(ram, color="black", ls="--", lw=1, label="RAM for this process")
    ax.set_xticks(list(x), labels, fontsize="small")
    top = max([s.vsz for s in stages] + [s.rss + s.swap for s in stages] + [ram or 0, 1])
    ax.set_ylim(0, top * 1.35)
    byte_axis(ax.yaxis)
    ax.legend(fontsize="x-small", loc="upper right", ncol=2)
    if title:
        ax.set_title(title, fontsize="medium")
