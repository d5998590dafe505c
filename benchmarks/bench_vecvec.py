"""Benchmark: the vecvec experiment in memlab (bulk steps) against the real C program.

    python benchmarks/bench_vecvec.py [--n 1e6 1e7 1e8] [--repeat 3] [--glibc 2.43]

For each N, runs `python -m memlab scenario vecvec --n N --json` and the C program
tests/vecvec/vecvec.c (same operations on this machine's glibc, THP off) as child
processes, `repeat` times each, alternating; reports the medians of wall time and
peak resident memory (the child's maxrss from wait4), their ratios, and whether the
two printed the same snapshots. With --glibc, memlab models that release and the C
program runs on Debian's build of it (fetched into the cache). Not a test: nothing is
asserted. N = 1e8 needs about 6.5 GB of free RAM for the C program.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "vecvec"))

import native  # noqa: E402

from memlab.native.runner import clean_environment  # noqa: E402
from memlab.scenarios.bulk import parse_count  # noqa: E402


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run cmd; return (wall seconds, peak RSS bytes, stdout).

    The child is started through /usr/bin/time when it exists (a forked copy of this
    Python process would pass its own peak RSS on to the child's count), else through
    wait4 directly.
    """
    timer = "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r", suffix=".time") as f:
        use_timer = os.access(timer, os.X_OK)
        full = [timer, "-o", f.name, "-f", "%M"] + cmd if use_timer else cmd
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=subprocess.PIPE, env=env)
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{cmd[0]} failed with status {os.waitstatus_to_exitcode(status)}")
        peak = int(f.read().split()[-1]) * 1024 if use_timer else usage.ru_maxrss * 1024
    return wall, peak, out.decode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", nargs="+", default=["1e6", "1e7", "1e8"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--glibc", default=None, help="a modelled release (default: the machine's glibc, model 2.36)")
    args = ap.parse_args()
    env = clean_environment({"PYTHONPATH": str(ROOT)})
    release, loader = [], []
    if args.glibc:
        from memlab.native.glibc_releases import ensure_release, loader_command
        release, loader = ["--glibc", args.glibc], loader_command(ensure_release(args.glibc))
        print(f"glibc {args.glibc}: memlab's profile against Debian's library")
    print(f"{'N':>12} {'memlab s':>9} {'memlab MB':>10} {'C s':>8} {'C MB':>8} "
          f"{'time C/memlab':>14} {'mem C/memlab':>13}  snapshots")
    for text in args.n:
        n = parse_count(text)
        ours, theirs = [], []
        same = True
        for _ in range(args.repeat):
            a = measure([sys.executable, "-m", "memlab", "scenario", "vecvec", "--n", str(n), "--json",
                         *release], env)
            b = measure(loader + native.command(n), env)
            ours.append(a)
            theirs.append(b)
            same = same and a[2] == b[2]
        mt = statistics.median(x[0] for x in ours)
        mm = statistics.median(x[1] for x in ours)
        ct = statistics.median(x[0] for x in theirs)
        cm = statistics.median(x[1] for x in theirs)
        print(f"{n:>12,} {mt:>9.2f} {mm / 1e6:>10.1f} {ct:>8.2f} {cm / 1e6:>8.1f} "
              f"{ct / mt:>14.1f} {cm / mm:>13.1f}  {'identical' if same else 'DIFFERENT'}", flush=True)


if __name__ == "__main__":
    main()
