"""How fast the Windows model runs lesson 09's scenario (uncached): heap calls per second.

For each size of the objects, one run of the scenario with no fix, computed afresh (the saved
runs are not read): the wall time, the objects made and freed, and the heap calls per second.

    python benchmarks/bench_windows.py [MIB ...]        # default: 256 512 1024
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memlab.scenarios.windows import _seed_run  # noqa: E402
from memlab.units import MiB  # noqa: E402


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [256, 512, 1024]
    print(f"{'objects':>9}  {'seconds':>8}  {'made':>10}  {'calls/s':>10}")
    for mib in sizes:
        start = time.perf_counter()
        run = _seed_run(mib * MiB, 500 * MiB, "none", 2026)
        took = time.perf_counter() - start
        calls = run.made + run.made // 2
        print(f"{mib:>6} MiB  {took:>8.2f}  {run.made:>10,}  {calls / took:>10,.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
