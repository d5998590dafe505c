"""The cost of scoring: a checked replay (memlab.score) against a plain one (memlab.replay).

    python benchmarks/bench_score.py

On each default trace of `python -m memlab score` long enough to time, glibc's model replayed
plainly and through `score_trace` (every call checked), and the example allocators through
`score_trace`: seconds (best of three), and the checked replay's time as a multiple of the plain
one (about 2x to 4x when written). Not a test: it asserts nothing and its times vary with the
machine and its load.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from memlab.allocators import Bump, Glibc, Segregated  # noqa: E402
from memlab.replay import Replayer  # noqa: E402
from memlab.scenarios.scoring import TRACES  # noqa: E402
from memlab.score import score_trace  # noqa: E402
from memlab.trace import read_trace  # noqa: E402


def best(run, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    print(f"{'trace':18} {'ops':>7}  {'plain glibc':>11}  {'scored glibc':>12}  {'ratio':>5}  "
          f"{'Bump':>7}  {'Segregated':>10}")
    for name, make in TRACES.items():
        text = make()
        trace = read_trace(text)
        if trace.count < 1000:
            continue
        plain = best(lambda: Replayer(trace, Glibc()).run())
        scored = best(lambda: score_trace(trace, Glibc, name))
        bump = best(lambda: score_trace(trace, Bump, name))
        seg = best(lambda: score_trace(trace, Segregated, name))
        print(f"{name:18} {trace.count:>7,}  {plain:>10.3f}s  {scored:>11.3f}s  "
              f"{scored / plain:>4.1f}x  {bump:>6.3f}s  {seg:>9.3f}s")


if __name__ == "__main__":
    main()
