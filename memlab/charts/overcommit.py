"""Overcommit picture: what one malloc and realloc in steps are granted, and what writing does."""

from __future__ import annotations

from matplotlib.figure import Figure

from memlab.charts.base import COLORS, byte_axis

__all__ = ["draw_overcommit"]


def draw_overcommit(figure: Figure, exploration) -> None:
    """Draw a ``memlab.scenarios.overcommit.Exploration`` into ``figure`` (cleared first).

    Left: the bytes each way of asking got, against the size asked for and the limits.
    Right: the written block: resident pages, swapped pages, RAM and RAM + swap.

    >>> from memlab.scenarios.overcommit import Machine, explore
    >>> from memlab.units import GiB
    >>> fig = Figure(); draw_overcommit(fig, explore(Machine(ram=8 * GiB), 10 * GiB, GiB, GiB))
    >>> [ax.get_title() for ax in fig.axes]
    ['what the kernel grants', 'writing the block']
    >>> draw_overcommit(fig, explore(Machine(ram=8 * GiB), 10 * GiB, GiB, 0))
    >>> fig.axes[1].texts[0].get_text().startswith("nothing written yet")
    True
    """
    e = exploration
    figure.clear()
    left, right = figure.subplots(1, 2)
    names = ["one malloc", "realloc in steps"]
    got = [e.size if e.malloc_ok else 0, e.grown]
    left.bar(names, [e.size, e.size], color="none", edgecolor="#888888", hatch="//",
             label="asked for")
    left.bar(names, got, color=COLORS["mmapped"], label="granted")
    for x, value in enumerate(got):
        if value == 0:
            left.text(x, e.size * 0.05, "NULL", ha="center", fontweight="bold")
    if e.single_cap is not None:
        left.axhline(e.single_cap, color="black", ls="--", lw=1,
                     label="RAM + swap: the most one request may ask (mode 0)")
    if e.commit_limit is not None:
        left.axhline(e.commit_limit, color="black", ls=":", lw=1.5,
                     label="CommitLimit: all commitments together (mode 2)")
    left.set_title("what the kernel grants")
    byte_axis(left.yaxis)
    left.set_ylim(0, max(e.size, e.single_cap or 0, e.commit_limit or 0) * 1.6)
    left.legend(fontsize="x-small", loc="upper left")

    t = e.touched
    ram, swap = e.machine.ram, e.machine.swap
    if t is not None:
        right.bar(["written"], [t.rss], color=COLORS["resident"], label="resident (RES)")
        right.bar(["written"], [t.swap], bottom=[t.rss], color=COLORS["tcache"],
                  label="in swap (SWAP)")
        if t.written == 0:
            right.text(0.5, 0.5, "nothing written yet:\nmove 'written (%)'", ha="center",
                       transform=right.transAxes)
        if t.killed:
            right.text(0, (t.rss + t.swap) * 0.5 or ram * 0.5, "OOM kill", ha="center",
                       color="white", fontweight="bold",
                       bbox={"facecolor": "#B00000", "edgecolor": "none"})
    else:
        right.text(0.5, 0.5, "no block granted", ha="center", transform=right.transAxes)
    right.axhline(ram, color="black", ls="--", lw=1, label="RAM")
    if swap:
        right.axhline(ram + swap, color="black", ls=":", lw=1.5, label="RAM + swap")
    right.set_title("writing the block")
    byte_axis(right.yaxis)
    right.set_ylim(0, (ram + swap) * 1.5)
    right.legend(fontsize="x-small", loc="upper left")
    figure.subplots_adjust(left=0.09, right=0.98, wspace=0.3, bottom=0.1, top=0.9)
