"""All of memlab's performance figures in one run: replay time and peak memory, model against real glibc.

    python benchmarks/run_all.py [--runs N] [--no-dashboard] [--baseline DIR]

On the recorded Python trace of bench_replay.py (about 1.8 million operations):

- the native replayer (real glibc) and memlab's model each run N times, each in a
  fresh child process; every child's CPU time and peak RSS come from os.wait4, so
  one child's figures never mix with another's, and both sides are measured in the
  same run of this script;
- the model's child also times, inside itself, parse_trace and the replay apart;
- the figures printed are medians over the N runs (worst in parentheses), and the
  ratios model / native, which depend less on the machine than the times do.

The native replayer's time covers its whole process: start, reading and parsing the
trace (twice: a check pass, then the run) and the replay. So two model figures are
given against it: replay alone (ops already parsed) and parse + replay.

Then, in this process: mmap placement among many mappings (memlab.space.maps), an
mmap-heavy synthetic trace end to end against the native replayer (snapshots compared),
timeline() on the first operations of the recorded trace, and a replay with a snapshot every 100
operations against one without; last, the dashboards' slider-to-chart
latency (bench_dashboard.py, in a child process). Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "--child-model" not in sys.argv:        # a child imports the memlab its PYTHONPATH names
    sys.path.insert(0, str(ROOT))


def machine() -> str:
    """CPU model, cores, Python and the load when the run began."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{model}, {os.cpu_count()} cores; Python {platform.python_version()}; "
            f"{platform.system()} {platform.release()}; load average at start {load}")


def run_child(args: list[str], env: dict | None = None) -> tuple[str, float, int]:
    """Run a command; return its stdout, its CPU seconds (user + system) and peak RSS in bytes."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:   # files: no pipe to fill
        p = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(p.pid, 0)              # this child's own usage
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{args[0]} failed ({p.returncode}): {err.read().decode(errors='replace').strip()}")
        out.seek(0)
        return out.read().decode(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def child_model(trace: str) -> None:
    """In a child: parse and replay the trace on the model; print the inner timings as JSON."""
    from memlab.glibc import Malloc
    from memlab.replay import replay
    from memlab.trace import parse_trace

    start = time.process_time()
    ops = parse_trace(Path(trace).read_bytes())
    parsed = time.process_time()
    snaps = replay(ops, Malloc)
    done = time.process_time()
    import memlab

    print(json.dumps({"memlab": memlab.__file__, "parse": parsed - start, "replay": done - parsed,
                      "count": sum(op.kind != "snapshot" for op in ops),
                      "final": snaps[-1].as_dict()}))


def med(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], fmt: str) -> str:
    return f"{format(med(values), fmt)} (worst {format(max(values), fmt)})"


def bench_replay(trace: Path, runs: int, baseline: Path | None = None) -> None:
    from memlab.native.runner import _command, clean_environment

    lines = trace.read_bytes().count(b"\n")
    native_cmd = _command(None) + [str(trace)]
    model_cmd = [sys.executable, str(Path(__file__).resolve()), "--child-model", str(trace)]
    sides = {"memlab": ROOT} | ({"baseline": baseline} if baseline else {})
    nat_t, nat_rss = [], []
    mod: dict[str, list[dict]] = {name: [] for name in sides}
    native_final = None
    for _ in range(runs):                      # interleaved, so slow spells hit every side
        out, cpu, rss = run_child(native_cmd, clean_environment())
        nat_t.append(cpu)
        nat_rss.append(rss)
        native_final = json.loads(out.strip().splitlines()[-1])
        for name, root in sides.items():
            out, cpu, rss = run_child(model_cmd, dict(os.environ, PYTHONPATH=str(root)))
            inner = json.loads(out.strip().splitlines()[-1])
            inner.update(total=cpu, rss=rss)
            mod[name].append(inner)
    count = mod["memlab"][0]["count"]
    n = med(nat_t)
    mb = 1024 * 1024
    print(f"trace: {trace.name}: {count:,} operations, {lines:,} lines; {runs} runs of each side")
    print(f"native replayer:         {spread(nat_t, '.3f')} s CPU, whole process "
          f"({count / n:,.0f} ops/s); peak RSS {med(nat_rss) / mb:,.1f} MiB")
    for name, root in sides.items():
        runs_ = mod[name]
        parse = [m["parse"] for m in runs_]
        replay_t = [m["replay"] for m in runs_]
        both = [m["parse"] + m["replay"] for m in runs_]
        total = [m["total"] for m in runs_]
        rss = [m["rss"] for m in runs_]
        print(f"--- {name} ({root})")
        print(f"parse_trace:             {spread(parse, '.2f')} s, {lines / med(parse):,.0f} lines/s")
        print(f"replay:                  {spread(replay_t, '.2f')} s CPU ({count / med(replay_t):,.0f} ops/s)")
        print(f"parse + replay:          {spread(both, '.2f')} s CPU")
        print(f"whole process:           {spread(total, '.2f')} s CPU (interpreter start and imports too)")
        print(f"ratio, replay / native:          {med(replay_t) / n:5.1f}x   (target <= 10x)")
        print(f"ratio, parse + replay / native:  {med(both) / n:5.1f}x")
        print(f"ratio, whole process / native:   {med(total) / n:5.1f}x")
        print(f"peak RSS: {med(rss) / mb:,.1f} MiB (worst {max(rss) / mb:,.1f}); "
              f"ratio to native {med(rss) / med(nat_rss):.1f}x (target <= 10x)")
        same = all(m["final"] == native_final for m in runs_)
        print(f"final snapshot: model and real glibc {'agree' if same else 'DIFFER'}")
        if not same:
            print("  model: ", runs_[0]["final"])
            print("  native:", native_final)
    if baseline:
        now, before = mod["memlab"], mod["baseline"]
        for what in ("parse", "replay", "total", "rss"):
            print(f"memlab / baseline, {what}: "
                  f"{med([m[what] for m in now]) / med([m[what] for m in before]):.2f}")


def bench_place() -> None:
    """mmap placement with many live mappings: the size-class index against the walk from the top."""
    from memlab.space.maps import MapTable

    low, high, page = 0x1000_0000, 0x7000_0000_0000, 4096
    for count in (1000, 10000):
        t = MapTable()
        for k in range(count):                 # packed from the top, one page hole every 8th
            length = 3 * page
            addr = t.place(length, low, high)
            t.add(addr, addr + length)
            if k % 8 == 0:
                t.remove(addr, addr + page)
        probes = 200
        start = time.process_time()
        for _ in range(probes):
            t.place(2 * page, low, high)
        fast = (time.process_time() - start) / probes
        start = time.process_time()
        for _ in range(probes):
            t._place_scan(2 * page, low, high)
        scan = (time.process_time() - start) / probes
        print(f"mmap placement, {count:,} mappings: {fast * 1e6:,.1f} us CPU per place "
              f"(walk from the top: {scan * 1e6:,.1f} us)")


def mmap_heavy_trace() -> str:
    """8,000 live mmapped blocks, half freed and re-made bigger, then all freed (24,001 operations)."""
    n = 8000
    lines = ["o M_MMAP_THRESHOLD 131072"]          # a fixed threshold: every block is mmapped
    lines += [f"a {i} 200000" for i in range(n)]
    lines += [f"f {i}" for i in range(0, n, 2)]
    lines += [f"a {i} 300000" for i in range(0, n, 2)]
    lines += [f"f {i}" for i in range(n)]
    return "\n".join(lines) + "\n"


def bench_mmap_heavy() -> None:
    """End to end on many mappings: the model's replay against the native replayer's, snapshots compared."""
    from memlab.glibc import Malloc
    from memlab.native import replay_native
    from memlab.native.runner import _command, clean_environment
    from memlab.replay import replay
    from memlab.trace import parse_trace

    with tempfile.TemporaryDirectory(prefix="memlab-bench-") as tmp:
        path = Path(tmp) / "mmap.trace"
        path.write_text(mmap_heavy_trace())
        ops = parse_trace(path.read_text())
        start = time.process_time()
        snaps = replay(ops, Malloc, every=2000)
        took = time.process_time() - start
        _, native_s, _ = run_child(_command(None) + [str(path)], clean_environment())
        same = [s.as_dict() for s in snaps] == replay_native(path, every=2000)
    count = sum(op.kind != "snapshot" for op in ops)
    print(f"mmap-heavy trace ({count:,} operations, up to 8,000 live mappings): model {took:.2f} s CPU, "
          f"native {native_s:.3f} s, ratio {took / native_s:.0f}x; snapshots every 2,000 ops "
          f"{'agree' if same else 'DIFFER'}")


def bench_timeline(trace: Path, count: int) -> None:
    from memlab.glibc import Malloc
    from memlab.replay import timeline
    from memlab.trace import parse_trace

    ops = parse_trace(trace.read_bytes())[:count]
    start = time.process_time()
    t = timeline(ops, Malloc)
    took = time.process_time() - start
    print(f"timeline(): first {len(t) - 1:,} operations in {took:.2f} s CPU, {(len(t) - 1) / took:,.0f} ops/s")


def bench_every(trace: Path, count: int, every: int) -> None:
    """A replay that stops for a snapshot every `every` operations, against one that does not."""
    from memlab.glibc import Malloc
    from memlab.replay import replay
    from memlab.trace import parse_trace

    ops = parse_trace(trace.read_bytes())[:count]
    took = []
    for step in (None, every):
        start = time.process_time()
        snaps = replay(ops, Malloc, step)
        took.append(time.process_time() - start)
    print(f"replay of the first {count:,} operations: {took[0]:.2f} s CPU; with a snapshot every "
          f"{every:,} operations ({len(snaps):,} snapshots) {took[1]:.2f} s")


def bench_dashboard() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_dashboard.py")],
                         capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if out.returncode != 0:
        print(f"dashboard latency: bench_dashboard.py failed: {out.stderr.strip()[-500:]}")
        return
    print("dashboard latency (ms, slider change to new chart; 20 changes each):")
    for line in out.stdout.rstrip().splitlines():
        print("  " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each side (default 3)")
    parser.add_argument("--no-dashboard", action="store_true", help="skip the dashboard latency")
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="also time the model of another memlab checkout (e.g. an export of an "
                             "older commit), interleaved with this one")
    parser.add_argument("--child-model", metavar="TRACE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_model:
        child_model(args.child_model)
        return
    from bench_replay import recorded_trace

    print(f"machine: {machine()}", flush=True)
    trace = recorded_trace()
    bench_replay(trace, args.runs, args.baseline)
    bench_place()
    bench_mmap_heavy()
    bench_timeline(trace, 200_000)
    bench_every(trace, 1_000_000, 100)
    if not args.no_dashboard:
        bench_dashboard()


if __name__ == "__main__":
    main()
