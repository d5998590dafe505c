"""How much evidence the release checks compare: traces and snapshots per glibc release, and time.

    python benchmarks/bench_releases.py [--releases 2.41 2.43]

For each release, every hand-written path trace (tests/data/paths) is replayed on memlab's
model of that release and on the real library (fetched by memlab.native.glibc_releases), with a
snapshot after every operation (every 1/2000th for big traces, as tests/test_differential_releases.py
does). Prints, per release, the traces and snapshots compared, how many differ, and the CPU time
of each side. The equality itself is asserted by the tests; this only counts and times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from memlab.glibc import Malloc  # noqa: E402
from memlab.native import replay_native  # noqa: E402
from memlab.native.glibc_releases import available_releases, ensure_release  # noqa: E402
from memlab.replay import replay  # noqa: E402
from memlab.snapshot import FIELDS  # noqa: E402
from memlab.trace import parse_trace  # noqa: E402

PATHS = ROOT / "tests" / "data" / "paths"
BIG = 5000   # traces above this many operations are snapshotted every ops // 2000


def measure(release: str) -> str:
    """One line: traces, snapshots compared and differing, and each side's CPU seconds."""
    root = ensure_release(release)
    traces = snapshots = differing = 0
    model_s = real_s = 0.0
    for path in sorted(PATHS.glob("*.trace")):
        ops = parse_trace(path.read_text())
        n = sum(1 for op in ops if op.kind != "snapshot")
        every = 1 if n <= BIG else n // 2000
        start = time.process_time()
        model = [s.as_dict() for s in replay(ops, lambda: Malloc(glibc=release), every=every)]
        model_s += time.process_time() - start
        start = time.perf_counter()
        real = replay_native(path, every=every, libc_dir=root)
        real_s += time.perf_counter() - start
        traces += 1
        snapshots += min(len(model), len(real))
        differing += sum(any(a[k] != b.get(k) for k in FIELDS) for a, b in zip(model, real))
    return (f"glibc {release}: {traces} traces, {snapshots} snapshots compared, {differing} differ; "
            f"model {model_s:.1f} s CPU, real replayer {real_s:.1f} s wall")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", nargs="+", default=list(available_releases()))
    args = parser.parse_args()
    for release in args.releases:
        print(measure(release), flush=True)


if __name__ == "__main__":
    main()
