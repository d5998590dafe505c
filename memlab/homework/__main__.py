"""`python -m memlab.homework build|grade`: the commands behind scripts/homework.sh."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from memlab.homework.grading import build, grade, masters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m memlab.homework",
                                     description="Build memlab's assignments or grade submissions.")
    parser.add_argument("--homework", type=Path, default=Path("homework"),
                        help="the folder of master notebooks (default: ./homework)")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build every assignment (or the named ones) with otter assign")
    b.add_argument("names", nargs="*", help="assignments to build, e.g. 00_start_here")
    g = sub.add_parser("grade", help="grade submissions (notebooks or folders of them)")
    g.add_argument("submissions", nargs="+", type=Path)
    args = parser.parse_args(argv)
    folder, dist = args.homework, args.homework / "dist"
    if not folder.is_dir() or not masters(folder):
        parser.exit(2, f"memlab.homework: no master notebooks (NN_name.ipynb) in {folder}\n")
    if args.command == "build":
        known = {m.stem for m in masters(folder)}
        unknown = sorted(set(args.names) - known)
        if unknown:
            parser.exit(2, f"memlab.homework: no assignment {', '.join(unknown)} "
                           f"(there are {', '.join(sorted(known))})\n")
        results = build(folder, dist, args.names or None)
        for r in results:
            print(r.line(), flush=True)
        return 1 if any(r.error for r in results) else 0
    missing = [str(p) for p in args.submissions if not p.exists()]
    if missing:
        parser.exit(2, f"memlab.homework: no such file or folder: {', '.join(missing)}\n")
    results = grade(args.submissions, dist)
    for r in results:
        print(r.line(), flush=True)
    if not results:
        print("memlab.homework: no notebooks to grade", file=sys.stderr)
    return 1 if not results or any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
