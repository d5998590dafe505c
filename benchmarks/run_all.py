"""All of memlab's performance figures in one run: replay time and peak memory, model against real glibc.

    python benchmarks/run_all.py [--runs N] [--no-dashboard] [--only-replay] [--baseline DIR] [--trace FILE]

On the recorded Python trace of bench_replay.py (about 1.8 million operations), each
figure as a ratio to the bare native replayer (the C program on the real glibc, whole
process), measured in the same run:

- `python -m memlab replay TRACE --native --json` end to end (wall clock, process start
  included), where the C replayer checks the trace itself;
- parsing: read_trace (the compact columns replays use) and parse_trace (Op records, for
  the API), CPU time and microseconds a line;
- the model: replay alone, parse + replay, the whole child process, and
  `python -m memlab replay TRACE --json` end to end;
- peak RSS of a model replay against the native replayer's.

Every side runs N times, each in a fresh child process (CPU time and peak RSS from
os.wait4, so the children's figures never mix), interleaved so that a slow spell of a
shared machine hits every side; medians are printed, worst cases in parentheses.
--baseline DIR runs another checkout's memlab (an export of an older commit) in the same
rounds, for before/after figures.

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
if not {"--child-model", "--child-parse"} & set(sys.argv):   # a child imports its PYTHONPATH's memlab
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


def run_child(args: list[str], env: dict | None = None, cwd: Path = ROOT) -> tuple[str, float, int]:
    """Run a command; return its stdout, its CPU seconds (user + system) and peak RSS in bytes.

    The CPU time and peak RSS are the child's own with its waited-for children's.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:   # files: no pipe to fill
        p = subprocess.Popen(args, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(p.pid, 0)              # this child's own usage
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{args[0]} failed ({p.returncode}): {err.read().decode(errors='replace').strip()}")
        out.seek(0)
        return out.read().decode(), usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def child_model(trace: str) -> None:
    """In a child: parse and replay the trace on the model; print the inner timings as JSON.

    The trace is read into columns (read_trace) where this memlab has them, else into Op
    records (parse_trace), as the command line of that memlab does.
    """
    from memlab.glibc import Malloc
    from memlab.replay import replay
    from memlab.trace import parse_trace
    try:
        from memlab.trace import read_trace
    except ImportError:                       # an older checkout (--baseline)
        read_trace = parse_trace

    start = time.process_time()
    ops = read_trace(Path(trace).read_bytes())
    parsed = time.process_time()
    snaps = replay(ops, Malloc)
    done = time.process_time()
    import memlab

    print(json.dumps({"memlab": memlab.__file__, "parse": parsed - start, "replay": done - parsed,
                      "count": snaps[-1].op, "final": snaps[-1].as_dict()}))


def child_parse(trace: str) -> None:
    """In a child: time read_trace (if this memlab has it) and parse_trace apart; print JSON."""
    from memlab.trace import parse_trace
    try:
        from memlab.trace import read_trace
    except ImportError:
        read_trace = None
    data = Path(trace).read_bytes()
    times = {}
    for name, parse in (("read_trace", read_trace), ("parse_trace", parse_trace)):
        if parse is not None:
            start = time.process_time()
            parse(data)
            times[name] = time.process_time() - start
    print(json.dumps(times))


def med(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], fmt: str) -> str:
    return f"{format(med(values), fmt)} (worst {format(max(values), fmt)})"


def timed(args: list[str], env: dict | None = None, cwd: Path = ROOT) -> tuple[str, float, int, float]:
    """run_child, with the wall-clock seconds too (process start included)."""
    start = time.perf_counter()
    out, cpu, rss = run_child(args, env, cwd)
    return out, cpu, rss, time.perf_counter() - start


def bench_replay(trace: Path, runs: int, baseline: Path | None = None) -> None:
    """Every replay figure of the recorded trace, as a ratio to the bare native replayer's."""
    from memlab.native.runner import _command, clean_environment

    lines = trace.read_bytes().count(b"\n")
    native_cmd = _command(None) + [str(trace)]
    script = str(Path(__file__).resolve())
    sides = {"memlab": ROOT} | ({"baseline": baseline} if baseline else {})
    nat: list[tuple[float, float, int]] = []          # (cpu, wall, rss)
    figures: dict[str, dict[str, list]] = {name: {} for name in sides}

    def add(name: str, key: str, value) -> None:
        figures[name].setdefault(key, []).append(value)

    native_final = None
    for _ in range(runs):                      # interleaved, so slow spells hit every side
        out, cpu, rss, wall = timed(native_cmd, clean_environment())
        nat.append((cpu, wall, rss))
        native_final = json.loads(out.strip().splitlines()[-1])
        for name, root in sides.items():
            env = dict(clean_environment(), PYTHONPATH=str(root))
            out, cpu, rss, wall = timed([sys.executable, script, "--child-model", str(trace)], env)
            inner = json.loads(out.strip().splitlines()[-1])
            for key in ("parse", "replay", "count", "final"):
                add(name, key, inner[key])
            add(name, "model_total", cpu)
            add(name, "model_rss", rss)
            out, cpu, rss, wall = timed([sys.executable, script, "--child-parse", str(trace)], env)
            for key, value in json.loads(out.strip().splitlines()[-1]).items():
                add(name, key, value)
            out, cpu, rss, wall = timed([sys.executable, "-m", "memlab", "replay", str(trace), "--native",
                                         "--json"], env, root)     # (-m looks in the folder it runs in)
            add(name, "cli_native_cpu", cpu)
            add(name, "cli_native_wall", wall)
            out, cpu, rss, wall = timed([sys.executable, "-m", "memlab", "replay", str(trace), "--json"], env, root)
            add(name, "cli_model_cpu", cpu)
            add(name, "cli_model_wall", wall)
            add(name, "cli_model_rss", rss)
    n_cpu, n_wall = med([c for c, _, _ in nat]), med([w for _, w, _ in nat])
    n_rss = med([r for _, _, r in nat])
    count = figures["memlab"]["count"][0]
    mb = 1024 * 1024
    print(f"trace: {trace.name}: {count:,} operations, {lines:,} lines; {runs} runs of each side, "
          "interleaved; medians (worst in parentheses); ratios are to the bare native replayer")
    print(f"bare native replayer:    {spread([c for c, _, _ in nat], '.3f')} s CPU, "
          f"{spread([w for _, w, _ in nat], '.3f')} s wall, whole process ({count / n_cpu:,.0f} ops/s); "
          f"peak RSS {n_rss / mb:,.1f} MiB")
    for name, root in sides.items():
        f = figures[name]

        def row(label: str, key: str, against: float, unit: str = "s", target: str = "") -> None:
            values = f[key]
            print(f"  {label:<34} {spread(values, '.3f')} {unit}   {med(values) / against:6.1f}x{target}")

        print(f"--- {name} ({root})")
        row("replay --native --json, wall", "cli_native_wall", n_wall, target="   (target <= 2x)")
        row("replay --native --json, CPU", "cli_native_cpu", n_cpu)
        if "read_trace" in f:
            row("read_trace (columns), CPU", "read_trace", n_cpu)
            print(f"  {'':<34} {med(f['read_trace']) / lines * 1e6:.3f} us a line (target < 0.7)")
        row("parse_trace (Op records), CPU", "parse_trace", n_cpu)
        print(f"  {'':<34} {med(f['parse_trace']) / lines * 1e6:.3f} us a line")
        row("model: replay alone, CPU", "replay", n_cpu)
        both = [p + r for p, r in zip(f["parse"], f["replay"])]
        f["parse+replay"] = both
        row("model: parse + replay, CPU", "parse+replay", n_cpu)
        row("model: whole process, CPU", "model_total", n_cpu)
        row("replay --json (model), CPU", "cli_model_cpu", n_cpu, target="   (target <= 40x)")
        row("replay --json (model), wall", "cli_model_wall", n_wall)
        row("peak RSS, model replay", "model_rss", n_rss, unit="B", target="   (target <= 10x)")
        print(f"  {'':<34} {med(f['model_rss']) / mb:,.1f} MiB; replay --json: "
              f"{med(f['cli_model_rss']) / mb:,.1f} MiB ({med(f['cli_model_rss']) / n_rss:.1f}x)")
        same = all(final == native_final for final in f["final"])
        print(f"  final snapshot: model and real glibc {'agree' if same else 'DIFFER'}")
        if not same:
            print("  model: ", f["final"][0])
            print("  native:", native_final)
    if baseline:
        now, before = figures["memlab"], figures["baseline"]
        for what in ("cli_native_wall", "parse_trace", "replay", "parse+replay", "cli_model_cpu", "model_rss"):
            print(f"memlab / baseline, {what}: {med(now[what]) / med(before[what]):.2f}")
        if "read_trace" in now:
            print(f"memlab read_trace / baseline parse_trace: "
                  f"{med(now['read_trace']) / med(before['parse_trace']):.2f}")


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
    from memlab.trace import read_trace

    ops = read_trace(trace.read_bytes())[:count]
    start = time.process_time()
    t = timeline(ops, Malloc)
    took = time.process_time() - start
    print(f"timeline(): first {len(t) - 1:,} operations in {took:.2f} s CPU, {(len(t) - 1) / took:,.0f} ops/s")


def bench_every(trace: Path, count: int, every: int) -> None:
    """A replay that stops for a snapshot every `every` operations, against one that does not."""
    from memlab.glibc import Malloc
    from memlab.replay import replay
    from memlab.trace import read_trace

    ops = read_trace(trace.read_bytes())[:count]
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
    parser.add_argument("--child-parse", metavar="TRACE", help=argparse.SUPPRESS)
    parser.add_argument("--only-replay", action="store_true", help="only the recorded trace's figures")
    parser.add_argument("--trace", type=Path, metavar="FILE",
                        help="use this trace instead of bench_replay.py's recorded one")
    args = parser.parse_args()
    if args.child_model:
        child_model(args.child_model)
        return
    if args.child_parse:
        child_parse(args.child_parse)
        return
    from bench_replay import recorded_trace

    print(f"machine: {machine()}", flush=True)
    trace = args.trace or recorded_trace()
    bench_replay(trace, args.runs, args.baseline)
    if args.only_replay:
        return
    bench_place()
    bench_mmap_heavy()
    bench_timeline(trace, 200_000)
    bench_every(trace, 1_000_000, 100)
    if not args.no_dashboard:
        bench_dashboard()


if __name__ == "__main__":
    main()
