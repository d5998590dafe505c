"""The differential suites' comparison: one trace on the model and on the real glibc.

`compare_trace` replays one trace on the model (checking the heap's invariants after every
operation) and on this machine's real glibc, and describes every snapshot where they differ;
`expectations` reads the `#!` / `#?` claims written in hand-made trace files. The traces
themselves come from tests/strategies.py.

    >>> expectations("#! first uordblks == 688\\n#? first sbrk\\na 0 1\\ns first\\n")
    ([('first', 'uordblks', '==', '688')], [('first', 'sbrk')])
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from pathlib import Path

from memlab.glibc import Malloc
from memlab.native import replay_native
from memlab.replay import Replayer
from memlab.snapshot import FIELDS
from memlab.trace import read_trace

__all__ = ["FIELDS", "Outcome", "compare_trace", "run_model", "op_text", "expectations",
           "check_expectations"]

_OPS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
        "<=": operator.le, ">=": operator.ge}


@dataclass
class Outcome:
    """One trace replayed on both sides: snapshots, model notes per op, differences found."""

    real: list[dict]
    model: list[dict]
    notes: dict[int, str] = field(default_factory=dict)   # op number -> model's PathNote path
    differences: list[str] = field(default_factory=list)
    ops: int = 0

    @property
    def agree(self) -> bool:
        return not self.differences


def run_model(ops, every: int | None, check_every: int | None = 1, glibc: str = "2.36",
              arch: str = "x86-64"):
    """Replay `ops` on a fresh Malloc of release `glibc` built for `arch` (the threaded model when
    the trace has thread lines); return (snapshot dicts, {op: note path}).

    `check_every` runs the model's check() after every k-th operation (None: never); an
    AssertionError is re-raised naming the operation that broke the invariant.
    """
    r = Replayer(ops, Malloc(glibc=glibc, arch=arch), every)
    m = r.malloc
    notes: dict[int, str] = {}
    while not r.done:
        op = r.step()
        if op is None:
            break
        n = r.op
        note = m.last_note
        notes[n] = getattr(note, "path", "")
        if check_every and n % check_every == 0:
            try:
                m.check()
            except AssertionError as e:
                raise AssertionError(f"check() failed after op {n} ({op}): {e}") from None
    return [s.as_dict() for s in r.snapshots], notes


def op_text(ops, k: int) -> str:
    """The operation a snapshot taken after op `k` follows, as trace text ("start" before any)."""
    if k <= 0:
        return "start"
    real_ops = [o for o in ops if o.kind != "snapshot"]
    return str(real_ops[k - 1]) if k <= len(real_ops) else "?"


def compare_trace(trace, every: int | None = 1, check_every: int | None = 1, name: str = "",
                  limit: int = 5, glibc: str = "2.36", libc_dir=None, ignore: tuple = (),
                  arch: str = "x86-64") -> Outcome:
    """Replay `trace` (text, Path or ops) on the model and the real glibc; list differences.

    `glibc` names the release modelled; `libc_dir` the unpacked real release to run it on (None:
    this machine's glibc); `arch` the architecture of both (i386: the machine's 32-bit glibc).
    Fields named in `ignore` are not compared.

    Each difference names the trace, the snapshot (op number, label), the operation just run,
    and every field that differs as `field: model X vs real Y`.
    """
    if isinstance(trace, Path):
        text = trace.read_text()
        ops = read_trace(text)           # a Trace keeps the `# cpus` and `# tls` settings
        real = replay_native(trace, every=every, libc_dir=libc_dir, arch=arch)
    elif isinstance(trace, str):
        ops = read_trace(trace)
        real = replay_native(trace.encode(), every=every, libc_dir=libc_dir, arch=arch)
    else:
        ops = tuple(trace)
        real = replay_native(ops, every=every, libc_dir=libc_dir, arch=arch)
    model, notes = run_model(ops, every, check_every, glibc, arch)
    out = Outcome(real, model, notes, ops=sum(1 for o in ops if o.kind != "snapshot"))
    ops = list(ops)
    if len(real) != len(model):
        out.differences.append(f"{name}: {len(model)} model snapshots vs {len(real)} real")
    for r, s in zip(real, model):
        bad = [k for k in FIELDS if r.get(k) != s.get(k) and k not in ignore]
        if bad:
            where = f"{name} op {r['op']} ({op_text(ops, r['op'])}), snapshot {r['label']!r}"
            detail = ", ".join(f"{k}: model {s.get(k)} vs real {r.get(k)}" for k in bad)
            out.differences.append(f"{where}: {detail}")
            if len(out.differences) >= limit:
                break
    return out


def expectations(text: str):
    """The claims of a hand-written trace: `#! LABEL FIELD OP EXPR` and `#? LABEL PATH` lines."""
    values, paths = [], []
    for line in text.splitlines():
        if line.startswith("#! "):
            label, fld, op, expr = line[3:].split(None, 3)
            values.append((label, fld, op, expr.strip()))
        elif line.startswith("#? "):
            label, path = line[3:].split()
            paths.append((label, path))
    return values, paths


def _value(expr: str, snaps: dict[str, dict], fld: str) -> int:
    total = 0
    for sign, term in re.findall(r"([+-]?)\s*(@?\w+)", expr):
        v = snaps[term[1:]][fld] if term.startswith("@") else int(term, 0)
        total += -v if sign == "-" else v
    return total


def check_expectations(claims, snaps: list[dict]) -> list[str]:
    """The `#!` claims that do not hold on these snapshots (by label), as messages."""
    by_label = {s["label"]: s for s in snaps}
    failed = []
    for label, fld, op, expr in claims:
        have = by_label[label][fld]
        want = _value(expr, by_label, fld)
        if not _OPS[op](have, want):
            failed.append(f"{label}: {fld} {op} {expr} is false ({have} vs {want})")
    return failed
