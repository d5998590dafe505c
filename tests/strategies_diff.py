"""Traces and comparison helpers for the differential suites (the model against the real glibc).

`compare_trace` replays one trace on the model (checking the heap's invariants after every
operation) and on this machine's real glibc, and describes every snapshot where they differ;
`phased_trace` makes long seeded random traces that build up and tear down heaps of every
size class; `expectations` reads the `#!` / `#?` claims written in hand-made trace files.

    >>> text = phased_trace(50, seed=3)
    >>> len(text.splitlines())
    50
    >>> expectations("#! first uordblks == 688\\n#? first sbrk\\na 0 1\\ns first\\n")
    ([('first', 'uordblks', '==', '688')], [('first', 'sbrk')])
"""

from __future__ import annotations

import operator
import random
import re
from dataclasses import dataclass, field

__all__ = ["FIELDS", "Outcome", "compare_trace", "run_model", "phased_trace", "expectations",
           "check_expectations"]

#: Every snapshot key compared, in TRACE-FORMAT.md order.
FIELDS = ("op", "label", "brk", "arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks",
          "uordblks", "fordblks", "keepcost", "rss")

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


def run_model(ops, every: int | None, check_every: int | None = 1):
    """Replay `ops` on a fresh Malloc; return (snapshot dicts, {op: note path}).

    `check_every` runs Malloc.check() after every k-th operation (None: never); an
    AssertionError is re-raised naming the operation that broke the invariant.
    """
    from memlab.glibc import Malloc
    from memlab.replay import Replayer

    m = Malloc()
    r = Replayer(ops, m, every)
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
                raise AssertionError(f"Malloc.check() failed after op {n} ({op}): {e}") from None
    return [s.as_dict() for s in r.snapshots], notes


def _op_text(ops, k: int) -> str:
    if k <= 0:
        return "start"
    real_ops = [o for o in ops if o.kind != "snapshot"]
    return str(real_ops[k - 1]) if k <= len(real_ops) else "?"


def compare_trace(trace, every: int | None = 1, check_every: int | None = 1, name: str = "",
                  limit: int = 5) -> Outcome:
    """Replay `trace` (text, Path or ops) on the model and the real glibc; list differences.

    Each difference names the trace, the snapshot (op number, label), the operation just run,
    and every field that differs as `field: model X vs real Y`.
    """
    from pathlib import Path

    from memlab.native import replay_native
    from memlab.trace import parse_trace

    if isinstance(trace, Path):
        text = trace.read_text()
        ops = parse_trace(text)
        real = replay_native(trace, every=every)
    elif isinstance(trace, str):
        ops = parse_trace(trace)
        real = replay_native(ops, every=every)
    else:
        ops = tuple(trace)
        real = replay_native(ops, every=every)
    model, notes = run_model(ops, every, check_every)
    out = Outcome(real, model, notes, ops=sum(1 for o in ops if o.kind != "snapshot"))
    if len(real) != len(model):
        out.differences.append(f"{name}: {len(model)} model snapshots vs {len(real)} real")
    for r, s in zip(real, model):
        bad = [k for k in FIELDS if r.get(k) != s.get(k)]
        if bad:
            where = f"{name} op {r['op']} ({_op_text(ops, r['op'])}), snapshot {r['label']!r}"
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


def phased_trace(n_ops: int, seed: int = 0, n_ids: int = 400) -> str:
    """A seeded random trace of `n_ops` lines with all operation kinds, in phases.

    Phases alternate between growth (mostly allocations of one size class, so bins fill
    and tcache overflows) and teardown (mostly frees, so chunks coalesce, consolidate and
    trim); sizes span tcache/fastbin (0-120), small (121-1008), large (1009-130000) and mmap
    (>= 128 KiB, rarely up to 2 MB); calloc, memalign (16..4096), realloc chains, writes,
    malloc_trim and mallopt appear throughout.
    """
    rng = random.Random(seed)
    classes = [(0, 120), (121, 1008), (1009, 8000), (8000, 130000), (130000, 600000)]
    weights = [40, 30, 15, 10, 5]
    lines: list[str] = []
    phase_left = 0
    grow = True
    cls = classes[0]

    def size() -> int:
        lo, hi = cls if rng.random() < 0.7 else rng.choices(classes, weights)[0]
        if rng.random() < 0.01:
            hi = max(hi, 2_000_000)
        return rng.randint(lo, hi)

    while len(lines) < n_ops:
        if phase_left == 0:
            grow = not grow if rng.random() < 0.8 else grow
            cls = rng.choices(classes, weights)[0]
            phase_left = rng.randint(20, 300)
        phase_left -= 1
        i = rng.randrange(n_ids)
        r = rng.random()
        p_alloc = 0.6 if grow else 0.2
        if r < p_alloc:
            k = rng.random()
            if k < 0.75:
                lines.append(f"a {i} {size()}")
            elif k < 0.88:
                n = size()
                m = rng.choice([1, 1, 2, 3, 8, 16])
                lines.append(f"c {i} {m} {max(0, n // m)}")
            else:
                al = rng.choice([8, 16, 24, 32, 48, 64, 128, 256, 1024, 4096])
                lines.append(f"m {i} {al} {size()}")
        elif r < 0.85:
            lines.append(f"f {i}")
        elif r < 0.93:
            n = 0 if rng.random() < 0.05 else size()
            lines.append(f"r {i} {n}")
        elif r < 0.985:
            lines.append(f"w {i}")
        elif r < 0.993:
            lines.append(f"t {rng.choice([0, 0, 64, 4096, 65536, 131072, 1 << 20])}")
        else:
            p, v = rng.choice([
                ("M_MXFAST", rng.choice([0, 16, 64, 80, 128, 160, 161])),
                ("M_TRIM_THRESHOLD", rng.choice([0, 32, 4096, 65536, 131072, 1 << 20])),
                ("M_TOP_PAD", rng.choice([0, 1, 4096, 65536, 131072])),
                ("M_MMAP_THRESHOLD", rng.choice([4096, 65536, 131072, 1 << 20, 1 << 25])),
                ("M_MMAP_MAX", rng.choice([0, 1, 4, 65536])),
            ])
            lines.append(f"o {p} {v}")
    return "".join(line + "\n" for line in lines[:n_ops])
