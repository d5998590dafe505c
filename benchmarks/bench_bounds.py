"""Resource bounds of the command line and the bulk model: peak memory with many snapshots,
heap_map of 10**8 chunks, malloc_run after different M_TOP_PAD values.

    python benchmarks/bench_bounds.py

Not a test: it asserts nothing and its times vary with the machine and its load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

from memlab.charts.heap import heap_map  # noqa: E402
from memlab.glibc import M_TOP_PAD, Malloc  # noqa: E402


def child_peak(args: list[str]) -> tuple[float, int]:
    """Wall time and peak RSS (bytes) of `python -m memlab ARGS`, output discarded."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "memlab", *args], stdout=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def main() -> None:
    for extra in ([], ["--json"]):
        args = ["scenario", "vecvec", "--n", "3e5", "--every", "1", *extra]
        seconds, peak = child_peak(args)
        print(f"{' '.join(args):52} {seconds:7.1f} s  peak RSS {peak / 2**20:7.0f} MiB")
    m = Malloc()
    start = time.perf_counter()
    (b,) = m.malloc_run(24, 10**8)
    m.free_run(b.addr, b.stride, 10**8 // 2)
    built = time.perf_counter() - start
    start = time.perf_counter()
    h = heap_map(m)
    h.ax.figure.canvas.draw()
    print(f"heap_map of 10**8 chunks (half freed; model built in {built:.1f} s): "
          f"{time.perf_counter() - start:.2f} s")
    for pad in (0, 4096, 128 * 1024, 64 << 20, (1 << 31) - 1):
        m = Malloc()
        m.mallopt(M_TOP_PAD, pad)
        start = time.perf_counter()
        m.malloc_run(24, 10**7)
        print(f"malloc_run(24, 10**7) after M_TOP_PAD {pad:>10,}: {time.perf_counter() - start:6.2f} s "
              f"({m.space.calls['sbrk']:,} sbrk calls)")


if __name__ == "__main__":
    main()
