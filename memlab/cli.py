"""The command line: `python -m memlab replay | compare | record ...`.

    python -m memlab replay TRACE [--every N] [--json] [--native [--allocator NAME]] [--glibc VERSION]
    python -m memlab compare TRACE [--every N] [--glibc VERSION]
    python -m memlab record -o FILE -- PROGRAM ARGS...
    python -m memlab scenario [NAME [PARAM=VALUE ...]] [--glibc VERSION]
    python -m memlab scenario vecvec --n N [--every K] [--json] [--glibc VERSION]

`replay` runs a trace on memlab's model of glibc (or, with --native, on the real
glibc) and prints its snapshots; `compare` runs both and names the first
snapshot and field where they differ. --glibc picks the release (2.36, the
default, 2.41 or 2.43): the real 2.41 and 2.43 are Debian's libc6 packages,
fetched once into memlab's cache and run through their own loader; --allocator runs a native
replay on jemalloc, tcmalloc or mimalloc instead, preloaded (only the break and resident
bytes mean something there); `record` writes the
malloc-family calls of a real program as a trace; `scenario` prints one of the
lessons' traces (to replay or compare), or with --n runs it on the model and
prints its snapshots (vecvec: with bulk steps, so N may be 1e8).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Sequence, TextIO

from memlab.errors import MemlabError, TraceError
from memlab.native.allocators import NAMES
from memlab.snapshot import FIELDS, Snapshot
from memlab.trace import Op, Trace, read_trace

__all__ = ["main", "SUPPORTED_GLIBC", "format_table", "format_points"]

#: glibc releases the model imitates (`--glibc`); the first is the default.
SUPPORTED_GLIBC = ("2.36", "2.41", "2.43")
DEFAULT_GLIBC = SUPPORTED_GLIBC[0]


def format_table(snapshots: Sequence[Snapshot], names: Sequence[str] | None = None) -> str:
    """Snapshots as an aligned table, one row each; numbers with thousands separators.

    `names`, when given, adds a first column naming each row's source.

    >>> print(format_table([Snapshot(1, "first", 135168, 135168, 1, 0, 0, 0, 0, 688, 134480, 134480, 4096)]))
    op  label      brk    arena  ordblks  smblks  hblks  hblkhd  fsmblks  uordblks  fordblks  keepcost    rss
     1  first  135,168  135,168        1       0      0       0        0       688   134,480   134,480  4,096
    """
    header = (["source"] if names is not None else []) + list(FIELDS)
    rows = []
    for k, s in enumerate(snapshots):
        cells = [s.label if f == "label" else f"{getattr(s, f):,}" for f in FIELDS]
        rows.append(([names[k]] if names is not None else []) + cells)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    left = {"label", "source"}
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) if h in left else c.rjust(w) for c, w, h in zip(r, widths, header)]
        lines.append("  ".join(cells))
    return "\n".join(line.rstrip() for line in lines)


def _model_factory(glibc: str):
    try:
        from memlab.glibc import Malloc
    except ImportError as e:
        raise MemlabError(f"memlab's glibc model is not available ({e})") from None
    return lambda: Malloc(glibc=glibc)


def _read_ops(path: str) -> Trace:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise MemlabError(f"cannot read trace {path!r}: {e.strerror}") from None
    return read_trace(data)


def _model_snapshots(ops: Trace, every: int | None, glibc: str) -> list[Snapshot]:
    from memlab.replay import replay

    return replay(ops, _model_factory(glibc), every)


def _libc_dir(glibc: str):
    """None to run on this machine's glibc, else the unpacked release (fetched on first use)."""
    from memlab.native import glibc_version
    from memlab.native.glibc_releases import SUITES, ensure_release

    if glibc not in SUITES:
        here = glibc_version()
        if glibc != here:
            raise MemlabError(f"this machine runs glibc {here}, and glibc {glibc} cannot be fetched "
                              f"(fetchable: {', '.join(SUITES)})")
        return None
    return ensure_release(glibc)


def _real_name(libc_dir) -> str:
    from memlab.native import glibc_version

    if libc_dir is None:
        return f"this machine's glibc {glibc_version()}"
    return f"the real glibc {glibc_version(libc_dir)} (unpacked in {libc_dir})"


def _native_snapshots(path: str, every: int | None, libc_dir=None) -> list[Snapshot]:
    from memlab.native import replay_native

    try:
        raw = replay_native(path, every, libc_dir=libc_dir)
    except FileNotFoundError:
        raise MemlabError(f"cannot read trace {path!r}: No such file or directory") from None
    return [Snapshot.from_dict(d) for d in raw]


def _cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    if args.allocator not in (None, "glibc"):
        return _replay_rival(args, _read_ops(args.trace), out)
    if args.native:      # without --glibc: this machine's own glibc, whatever its release
        libc_dir = None if args.glibc is None else _libc_dir(args.glibc)
        snaps = _native_snapshots(args.trace, args.every, libc_dir)   # the replayer parses the trace
    else:
        args.glibc = args.glibc or DEFAULT_GLIBC
        snaps = _model_snapshots(_read_ops(args.trace), args.every, args.glibc)
    if args.json:
        out.write("".join(s.to_json() + "\n" for s in snaps))
    else:
        source = _real_name(libc_dir) if args.native else f"memlab's model of glibc {args.glibc}"
        out.write(f"# {args.trace}: {snaps[-1].op} operations, on {source}\n")
        out.write(format_table(snaps) + "\n")
    return 0


def _replay_rival(args: argparse.Namespace, ops: tuple[Op, ...], out: TextIO) -> int:
    """`replay --native --allocator NAME`: the trace on a preloaded rival; only brk and rss."""
    from memlab.native import replay_native
    from memlab.native.allocators import library

    if not args.native or args.glibc is not None:
        print(f"memlab: --allocator {args.allocator} runs on the real library: give --native "
              f"(and no --glibc: it runs over this machine's glibc)", file=sys.stderr)
        return 2
    points = replay_native(args.trace, args.every, allocator=args.allocator)
    skipped = sum(op.kind in ("trim", "mallopt") for op in ops)
    note = (f"{skipped} t/o line(s) skipped: malloc_trim and mallopt tune glibc's malloc, "
            f"not {args.allocator}") if skipped else ""
    if args.json:
        out.write("".join(json.dumps(p) + "\n" for p in points))
        if note:
            print(f"memlab: {note}", file=sys.stderr)
        return 0
    out.write(f"# {args.trace}: {sum(op.kind != 'snapshot' for op in ops)} operations, on {args.allocator} "
              f"({library(args.allocator)}, preloaded) over this machine's glibc\n")
    out.write(f"# only the break and resident bytes: mallinfo2's fields are glibc's, "
              f"{args.allocator} does not keep them\n")
    if note:
        out.write(f"# {note}\n")
    out.write(format_points(points) + "\n")
    return 0


def format_points(points: Sequence[dict]) -> str:
    """A rival allocator's snapshots (op, label, brk, rss) as an aligned table.

    >>> print(format_points([{"op": 1, "label": "first", "brk": 0, "rss": 12288}]))
    op  label  brk     rss
     1  first    0  12,288
    """
    header = ["op", "label", "brk", "rss"]
    rows = [[p["label"] if h == "label" else f"{p[h]:,}" for h in header] for p in points]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(c.ljust(w) if h == "label" else c.rjust(w) for c, w, h in zip(r, widths, header))
             for r in [header, *rows]]
    return "\n".join(line.rstrip() for line in lines)


def _cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    if args.allocator not in (None, "glibc"):
        print(f"memlab: compare holds memlab's model of glibc against the real glibc; {args.allocator} is "
              f"another allocator, not comparable with the model (run it with replay --native "
              f"--allocator {args.allocator})", file=sys.stderr)
        return 2
    ops = _read_ops(args.trace)
    note = ""
    if args.glibc is None:    # this machine's glibc, against its profile if the model has one
        from memlab.native import glibc_version

        here = glibc_version()
        args.glibc = here if here in SUPPORTED_GLIBC else DEFAULT_GLIBC
        if here not in SUPPORTED_GLIBC:
            note = (f"# the model has no profile for glibc {here}; compared with {args.glibc}, "
                    f"so differences are expected (--glibc picks a release the model has)\n")
        libc_dir = None
    else:
        libc_dir = _libc_dir(args.glibc)
    model = _model_snapshots(ops, args.every, args.glibc)
    native = _native_snapshots(args.trace, args.every, libc_dir)
    rows, names = [], []
    for m, n in zip(model, native):
        rows += [m, n]
        names += ["model", "native"]
    out.write(f"# {args.trace}: memlab's model of glibc {args.glibc} against {_real_name(libc_dir)}\n")
    out.write(note)
    out.write(format_table(rows, names) + "\n")
    for m, n in zip(model, native):
        diff = m.first_difference(n)
        if diff:
            field, mine, theirs = diff
            out.write(f"DIFFER at the snapshot after op {n.op} (label {n.label!r}): {field} is {mine!r} "
                      f"in the model, {theirs!r} on the real glibc\n")
            return 1
    if len(model) != len(native):
        out.write(f"DIFFER: the model took {len(model)} snapshots, the real glibc {len(native)}\n")
        return 1
    out.write(f"AGREE: all {len(model)} snapshots are identical\n")
    return 0


def _cmd_record(args: argparse.Namespace, out: TextIO) -> int:
    from memlab.native.build import build
    from memlab.native.runner import clean_environment

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise MemlabError("record needs a program to run: python -m memlab record -o FILE -- PROGRAM ARGS")
    target = Path(args.output).resolve()
    library = build("record")
    if target.exists():
        target.unlink()
    env = clean_environment({"LD_PRELOAD": str(library), "MEMLAB_RECORD": str(target)})
    try:
        status = subprocess.run(command, env=env).returncode
    except OSError as e:
        raise MemlabError(f"cannot run {command[0]!r}: {e.strerror}") from None
    pattern = re.compile(re.escape(target.name) + r"\.\d+(\.\d+)?")
    others = sorted(p.name for p in target.parent.iterdir() if pattern.fullmatch(p.name))
    files = [target.name] if target.exists() else []
    print(f"memlab: recorded {', '.join(files + others) or 'nothing'} in {target.parent}"
          f" (program exit status {status})", file=sys.stderr)
    return status


def _cmd_scenario(args: argparse.Namespace, out: TextIO) -> int:
    from memlab.scenarios import SCENARIOS, scenario

    if args.name is None:
        for s in SCENARIOS.values():
            params = " ".join(f"{p.name}={p.default}" for p in s.params)
            out.write(f"{s.name:18} {s.title}" + (f"  [{params}]" if params else "") + "\n")
        return 0
    if args.n is not None or args.json or args.every is not None:
        return _run_scenario(args, out)
    try:
        chosen = scenario(args.name)
        values = {}
        for item in args.values:
            name, sep, value = item.partition("=")
            if not sep or not value.lstrip("-").isdigit():
                raise ValueError(f"scenario values are PARAM=INTEGER, not {item!r}")
            values[name] = int(value)
        out.write(chosen.text(**values))
    except (KeyError, TypeError, ValueError) as e:
        print(f"memlab: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    return 0


def _run_scenario(args: argparse.Namespace, out: TextIO) -> int:
    """Run a scenario on the model and print its snapshots as `replay` does."""
    from memlab.scenarios import scenario
    from memlab.scenarios.bulk import parse_count, run_vecvec

    try:
        chosen = scenario(args.name)
        n = parse_count(args.n) if args.n is not None else None
        if args.values:
            raise ValueError("give --n, not PARAM=VALUE, when running a scenario")
    except (KeyError, TypeError, ValueError) as e:
        print(f"memlab: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    if chosen.name == "vecvec":
        snaps = run_vecvec(n if n is not None else chosen.values()["n"], args.every,
                           _model_factory(args.glibc)())
        ops = f"{snaps[-1].op:,}"
    else:
        from memlab.replay import replay

        names = [p.name for p in chosen.params]
        given = {names[0]: n} if n is not None and names else {}
        try:
            trace = chosen.build(**given)
        except (TypeError, ValueError) as e:
            print(f"memlab: {e.args[0] if e.args else e}", file=sys.stderr)
            return 2
        snaps = replay(trace, _model_factory(args.glibc), args.every)
        ops = f"{snaps[-1].op:,}"
    if args.json:
        out.write("".join(s.to_json() + "\n" for s in snaps))
    else:
        label = f"n={n:,}" if n is not None else "defaults"
        out.write(f"# scenario {chosen.name} ({label}): {ops} operations, "
                  f"on memlab's model of glibc {args.glibc}\n")
        out.write(format_table(snaps) + "\n")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m memlab", description="memlab: glibc malloc, simulated and real.")
    sub = p.add_subparsers(dest="command_name", required=True, metavar="COMMAND")

    def glibc_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--glibc", metavar="VERSION",
                       help=f"glibc release (one of {', '.join(SUPPORTED_GLIBC)}; the model's default "
                            f"is {DEFAULT_GLIBC}; the real library's is this machine's own)")

    def allocator_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--allocator", choices=NAMES, metavar="NAME",
                       help=f"the real allocator ({', '.join(NAMES)}; default glibc): the others are "
                            f"preloaded and report only the break and resident bytes")

    def every_option(q: argparse.ArgumentParser) -> None:
        q.add_argument("--every", type=int, metavar="N", help="also snapshot after every N-th operation")

    q = sub.add_parser("replay", help="replay a trace and print its snapshots")
    q.add_argument("trace", help="trace file (TRACE-FORMAT.md)")
    every_option(q)
    q.add_argument("--json", action="store_true", help="print the exact JSON lines")
    q.add_argument("--native", action="store_true", help="run on the real glibc instead of the model")
    allocator_option(q)
    glibc_option(q)
    q.set_defaults(run=_cmd_replay)

    q = sub.add_parser("compare", help="replay on the model and on the real glibc; name the first difference")
    q.add_argument("trace", help="trace file (TRACE-FORMAT.md)")
    every_option(q)
    glibc_option(q)
    allocator_option(q)
    q.set_defaults(run=_cmd_compare)

    q = sub.add_parser("record", help="record a program's malloc calls as a trace",
                       description="Run PROGRAM with memlab's recorder preloaded. The first program writes FILE; "
                                   "every other process or exec'd program it starts writes FILE.<pid> "
                                   "(FILE.<pid>.<n> for later images of the same pid). MALLOC_* and "
                                   "GLIBC_TUNABLES are removed from the environment, as for replays.")
    q.add_argument("-o", "--output", required=True, metavar="FILE", help="trace file to write")
    q.add_argument("command", nargs=argparse.REMAINDER, metavar="-- PROGRAM ARGS", help="the program to run")
    q.set_defaults(run=_cmd_record)

    q = sub.add_parser("scenario", help="print a lesson's trace (no NAME: list the scenarios)")
    q.add_argument("name", nargs="?", help="scenario name")
    q.add_argument("values", nargs="*", metavar="PARAM=VALUE", help="parameter values (defaults otherwise)")
    q.add_argument("--n", metavar="N", help="run the scenario on the model with this n (1e8 or 100000000) "
                                             "and print its snapshots")
    every_option(q)
    q.add_argument("--json", action="store_true", help="run it and print the exact JSON lines")
    glibc_option(q)
    q.set_defaults(run=_cmd_scenario)
    return p


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 1 differ/failed, 2 bad input).

    >>> main(["replay", "--glibc", "2.99", "x.trace"])
    2
    """
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "glibc", None) not in (None, *SUPPORTED_GLIBC):
        print(f"memlab: --glibc {args.glibc} is not modelled; choose one of {', '.join(SUPPORTED_GLIBC)}",
              file=sys.stderr)
        return 2
    if hasattr(args, "glibc") and args.glibc is None and args.run not in (_cmd_replay, _cmd_compare):
        args.glibc = DEFAULT_GLIBC
    if getattr(args, "every", None) is not None and args.every < 1:
        print(f"memlab: --every needs a positive number, not {args.every}", file=sys.stderr)
        return 2
    try:
        return args.run(args, out)
    except TraceError as e:
        print(f"memlab: {args.trace}: {e}; nothing was replayed", file=sys.stderr)
        return 2
    except MemlabError as e:
        print(f"memlab: {e}", file=sys.stderr)
        return 1
