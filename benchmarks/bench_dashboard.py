"""Latency of the lessons' dashboards: from a slider change to the redrawn chart.

For each dashboard at its defaults, 20 slider changes (its own sliders one step at a time, and the
M_MMAP_THRESHOLD knob), each to a configuration not seen before, so every one replays the trace;
then 20 changes back to configurations already seen (cached), and 20 steps of the player.
Each change is timed from setting the slider's value to the new PNG being ready: the dashboard's
observer replays, updates the charts and renders before the assignment returns.

    python benchmarks/bench_dashboard.py [NAME ...]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memlab import scenarios  # noqa: E402
from memlab.widgets import Dashboard  # noqa: E402

CHANGES = 20


def dashboards() -> dict:
    """The lessons' dashboards: memlab.scenarios.DASHBOARDS when it exists, else one per scenario."""
    made = getattr(scenarios, "DASHBOARDS", None)
    if made:
        return {name: make for name, make in made.items()}
    return {name: (lambda s=s: Dashboard(s.text, s.params, title=s.title))
            for name, s in scenarios.SCENARIOS.items()}


def new_values(slider, count: int) -> list:
    """``count`` values next to the slider's default, alternating above and below it."""
    if hasattr(slider, "options"):
        options = [v for _, v in slider.options]
        i = options.index(slider.value)
        order = [options[j] for k in range(1, len(options))
                 for j in (i + k, i - k) if 0 <= j < len(options)]
        return order[:count]
    out, k = [], 1
    while len(out) < count and k < 10 * count:
        for v in (slider.value + k * slider.step, slider.value - k * slider.step):
            if slider.min <= v <= slider.max and len(out) < count:
                out.append(v)
        k += 1
    return out


def timed(set_value) -> float:
    start = time.perf_counter()
    set_value()
    return time.perf_counter() - start


def bench(name: str, make) -> dict:
    start = time.perf_counter()
    d = make()
    built = time.perf_counter() - start
    sliders = [*d.sliders.values(), d.knobs["M_MMAP_THRESHOLD"]]
    per = -(-CHANGES // len(sliders))
    plan = [(s, v) for s in sliders for v in new_values(s, per)][:CHANGES]
    defaults = {s: s.value for s in sliders}
    fresh, cached = [], []
    for slider, value in plan:
        renders = d.renders
        fresh.append(timed(lambda: setattr(slider, "value", value)))
        assert d.renders == renders + 1, "the chart was not redrawn"
        slider.value = defaults[slider]
    for slider, value in plan:
        cached.append(timed(lambda: setattr(slider, "value", value)))
        slider.value = defaults[slider]
    steps = []
    last = d.step_slider.max
    for k in range(CHANGES):
        step = (k * 7919) % (last + 1) if last else 0
        if step == d.step:
            continue
        steps.append(timed(lambda: setattr(d, "step", step)))
    return {"name": name, "ops": last, "build": built, "fresh": fresh, "cached": cached,
            "steps": steps}


def ms(values: list) -> str:
    if not values:
        return "       -        -"
    return f"{statistics.median(values) * 1000:8.0f} {max(values) * 1000:8.0f}"


def main(names: list[str]) -> None:
    boards = dashboards()
    chosen = names or list(boards)
    print(f"{'dashboard':<18} {'ops':>7} {'build':>7}   {'new config':>17}   "
          f"{'cached config':>17}   {'step':>17}")
    print(f"{'':<18} {'':>7} {'ms':>7}   {'median    worst':>17}   {'median    worst':>17}   "
          f"{'median    worst':>17}")
    for name in chosen:
        r = bench(name, boards[name])
        print(f"{r['name']:<18} {r['ops']:>7,} {r['build'] * 1000:>7.0f}   {ms(r['fresh'])}   "
              f"{ms(r['cached'])}   {ms(r['steps'])}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
