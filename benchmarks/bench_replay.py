"""Benchmark: memlab's model replay against the real-glibc replayer, on a recorded Python run.

    python benchmarks/bench_replay.py [--model-ops N] [--arch i386]

Records (once; cached under memlab's cache folder) the malloc calls of a small
Python workload run with PYTHONMALLOC=malloc, at least 1,000,000 operations; then
prints how fast the trace is read (read_trace, the columns replays use), how fast
memlab's model replays it, how long the native replayer takes, and the ratio of the
two (a figure that does not depend much on the machine). `--arch i386` replays the same trace
on the machine's 32-bit glibc and on the model of it. Times are CPU seconds (this process's, or the replayer's), so that
other load on the machine matters less. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memlab.native import cache_dir, replay_native
from memlab.trace import read_trace

WORKLOAD = """
import json
rows = [{"id": i, "name": "item%d" % i, "tags": ["t%d" % (i % 7)] * (i % 5)} for i in range(25000)]
text = json.dumps(rows)
back = json.loads(text)
back.sort(key=lambda r: r["name"])
print(len(text), len(back))
"""


def recorded_trace() -> Path:
    """The cached trace of WORKLOAD, recording it first if needed."""
    source = (Path(__file__).resolve().parent.parent / "memlab" / "native" / "record.c").read_bytes()
    key = hashlib.sha256(WORKLOAD.encode() + sys.version.encode() + source).hexdigest()[:16]
    target = cache_dir() / "bench" / f"python-{key}.trace"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="memlab-bench-") as tmp:
        out = Path(tmp) / "run.trace"
        env = dict(os.environ, PYTHONMALLOC="malloc")
        subprocess.run([sys.executable, "-m", "memlab", "record", "-o", str(out), "--",
                        sys.executable, "-c", WORKLOAD], check=True, env=env,
                       cwd=Path(__file__).resolve().parent.parent)
        biggest = max(Path(tmp).glob("run.trace*"), key=lambda p: p.stat().st_size)
        shutil.move(str(biggest), target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-ops", type=int, default=None,
                        help="replay only the first N operations on the model (default: all)")
    parser.add_argument("--arch", default="x86-64", choices=("x86-64", "i386"),
                        help="the architecture glibc is built for, on both sides (default x86-64)")
    args = parser.parse_args()

    trace = recorded_trace()
    data = trace.read_bytes()
    lines = data.count(b"\n")
    start = time.process_time()
    ops = read_trace(data)
    parse_s = time.process_time() - start
    count = ops.count
    print(f"trace: {trace} ({count:,} operations, {lines:,} lines)")
    print(f"read_trace: {parse_s:.2f} s, {lines / parse_s:,.0f} lines/s ({parse_s / lines * 1e6:.2f} us a line)")

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    native = replay_native(trace, arch=args.arch)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    native_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"native replayer ({args.arch}): {native_s:.2f} s for {count:,} operations, {count / native_s:,.0f} ops/s "
          f"(process start and both parsing passes included)")

    try:
        from memlab.glibc import Malloc
        from memlab.replay import replay
    except ImportError as e:
        print(f"memlab's model is missing ({e}); only the native figures are given")
        return
    subset = ops
    if args.model_ops is not None and args.model_ops < count:
        kinds, n = ops.kinds, 0
        for end, kind in enumerate(kinds):       # the index just past the N-th operation
            n += kind != "s"
            if n == args.model_ops:
                break
        subset = ops[:end + 1]
    model_count = subset.count
    start = time.process_time()
    snaps = replay(subset, lambda: Malloc(arch=args.arch), progress=None)
    model_s = time.process_time() - start
    model_rate = model_count / model_s
    print(f"memlab model ({args.arch}): {model_s:.2f} s for {model_count:,} operations, {model_rate:,.0f} ops/s")
    print(f"ratio: the model takes {(model_s / model_count) / (native_s / count):,.0f} times as long per "
          "operation as the native replayer")
    if model_count == count:
        same = snaps[-1].as_dict() == native[-1]
        print(f"final snapshot: model and real glibc {'agree' if same else 'DIFFER'}")
        if not same:
            print("  model: ", snaps[-1].to_json())
            print("  native:", native[-1])


if __name__ == "__main__":
    main()
