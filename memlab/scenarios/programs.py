"""The lessons' C++ programs (memlab/native/containers.cc) as traces, and their stages on the model.

    program_trace(kind, n)   the trace the recorder writes for ``containers KIND N``, optionally
                             with a `w` line after each allocation (the program writes every
                             block it gets, which a recorder cannot see)
    program_steps(kind, n)   the same as bulk steps (memlab.steps), so N may be a million
    model_stages(kind, n)    each stage on the model: VIRT, RES and SWAP of the heap and
                             mappings, and the snapshot; RAM and swap may be limited
    compare_program          the model's stages beside the real program's own numbers

>>> print(program_trace("list", 2, writes=False))
a 0 72704
s start
a 1 24
a 2 24
s filled
f 1
f 2
s cleared
s destroyed
<BLANKLINE>
>>> [s.label for s in model_stages("list", 1000)]
['start', 'filled', 'cleared', 'destroyed']
"""

from __future__ import annotations

from dataclasses import dataclass

from memlab.errors import MemlabError
from memlab.glibc import Malloc
from memlab.native.programs import run_program
from memlab.scenarios.catalog import push_back_capacities
from memlab.snapshot import Snapshot
from memlab.space import AddressSpace
from memlab.steps import run_steps
from memlab.trace import parse_trace
from memlab.units import fmt_bytes

__all__ = [
    "KINDS", "POOL", "NODE", "PINNED_BLOCK", "PIN", "program_trace", "program_steps", "Stage",
    "model_stages", "ProgramComparison", "compare_program",
]

#: The programs of containers.cc.
KINDS = ("vector", "list", "pinned")
#: libstdc++'s emergency exception pool, allocated before main (GCC 12's default size).
POOL = 72_704
#: A std::list<int> node: two pointers and the int, padded.
NODE = 24
#: The pinned program's blocks, and the small block that pins them.
PINNED_BLOCK = 1000
PIN = 24
_STAGES = {
    "vector": ("start", "filled", "cleared", "shrink_to_fit", "destroyed"),
    "list": ("start", "filled", "cleared", "destroyed"),
    "pinned": ("start", "filled", "freed", "trimmed"),
}


def _check(kind: str, n: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")


def program_steps(kind: str, n: int) -> list[tuple]:
    """``containers KIND N`` as memlab.steps steps, each allocation followed by its write
    (IDs as the recorder numbers them).

    >>> program_steps("pinned", 3)[2:5]
    [('a', 1, 24), ('w', 1), ('aw', 2, 3, 1000)]
    """
    _check(kind, n)
    steps: list[tuple] = [("a", 0, POOL), ("s", "start")]
    if kind == "vector":
        old = None
        for k, cap in enumerate(push_back_capacities(n)):
            new = 1 + k % 2
            steps += [("a", new, 4 * cap), ("w", new)]
            if old is not None:
                steps.append(("f", old))
            old = new
        steps += [("s", "filled"), ("s", "cleared"), ("f", old), ("s", "shrink_to_fit"),
                  ("s", "destroyed")]
    elif kind == "list":
        steps += [("aw", 1, n, NODE), ("s", "filled"), ("f*", 1, n), ("s", "cleared"),
                  ("s", "destroyed")]
    else:
        steps += [("a", 1, 8 * n), ("w", 1), ("aw", 2, n, PINNED_BLOCK), ("a", n + 2, PIN),
                  ("w", n + 2), ("s", "filled"), ("f*", 2, n), ("f", 1), ("s", "freed"),
                  ("op", parse_trace("t 0")[0]), ("s", "trimmed"), ("f", n + 2)]
    return steps


def program_trace(kind: str, n: int, writes: bool = True) -> str:
    """The trace of ``containers KIND N``; without ``writes``, as the recorder writes it.

    >>> program_trace("vector", 3).splitlines()[2:9]
    ['a 1 4', 'w 1', 'a 2 8', 'w 2', 'f 1', 'a 1 16', 'w 1']
    """
    lines = []
    for step in program_steps(kind, n):
        if step[0] == "aw":
            for ident in range(step[1], step[1] + step[2]):
                lines.append(f"a {ident} {step[3]}")
                lines.append(f"w {ident}")
        elif step[0] == "f*":
            lines += [f"f {ident}" for ident in range(step[1], step[1] + step[2])]
        elif step[0] == "op":
            lines.append(str(step[1]))
        else:
            lines.append(" ".join(map(str, step)))
    if not writes:
        lines = [line for line in lines if not line.startswith("w ")]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of a program on the model: the heap's and mappings' VIRT, RES and SWAP.

    >>> Stage("filled", 8192, 4096, 0, None).describe()
    'filled: VIRT 8,192 B, RES 4,096 B, SWAP 0 B'
    """

    label: str
    vsz: int
    rss: int
    swap: int
    snapshot: Snapshot | None

    def describe(self) -> str:
        """One line: VIRT, RES and SWAP."""
        return (f"{self.label}: VIRT {fmt_bytes(self.vsz)}, RES {fmt_bytes(self.rss)}, "
                f"SWAP {fmt_bytes(self.swap)}")


class _Watched:
    """A Malloc whose every mallinfo2() call (one per snapshot) also notes the space's sizes."""

    def __init__(self, malloc: Malloc) -> None:
        self._m = malloc
        self.sizes: list[tuple[int, int, int]] = []

    def __getattr__(self, name):
        return getattr(self._m, name)

    def mallinfo2(self):
        space = self._m.space
        self.sizes.append((space.vsz, space.rss, space.swap))
        return self._m.mallinfo2()


def model_stages(kind: str, n: int, ram: int | None = None, swap: int | None = 0,
                 settings: tuple[tuple[str, int], ...] = ()) -> list[Stage]:
    """Replay ``containers KIND N`` (with its writes) on the glibc 2.36 model; one Stage per
    stage. ``ram`` limits the RAM this process may use (None: no limit), ``swap`` the swap;
    ``settings`` are mallopt calls made first, as (parameter, value).

    >>> s = model_stages("vector", 2**20)
    >>> s[1].snapshot.hblkhd, s[3].snapshot.hblkhd
    (4198400, 0)
    """
    space = AddressSpace(ram=ram, swap=swap if ram is not None else None, log=False)
    watched = _Watched(Malloc(space=space))
    steps = [("op", op) for op in parse_trace("".join(f"o {k} {v}\n" for k, v in settings))]
    snaps = run_steps(steps + program_steps(kind, n), watched)
    return [Stage(snap.label, *sizes, snap) for snap, sizes in zip(snaps, watched.sizes)
            if snap.label in _STAGES[kind]]


@dataclass(frozen=True, slots=True)
class ProgramComparison:
    """The model's stages beside the real program's (rows: label, field, model, real).

    The real program counts brk and rss from its "start" stage; the model's are counted from
    its own "start" too. VmSize and VmRSS (top's VIRT and RES) are the real program's own
    numbers, kept for showing.
    """

    kind: str
    n: int
    rows: tuple[tuple[str, str, int, int], ...]
    real: tuple[dict, ...]
    error: str | None

    @property
    def differences(self) -> tuple[tuple[str, str, int, int], ...]:
        """Rows where model and real disagree."""
        return tuple(r for r in self.rows if r[2] != r[3])

    @property
    def agrees(self) -> bool:
        """True when the real program ran and every compared number agrees."""
        return self.error is None and bool(self.rows) and not self.differences

    @property
    def verdict(self) -> str:
        """One line: whether the model agrees with the real program, on how many numbers.

        >>> ProgramComparison("list", 8, (("start", "brk", 0, 0),), (), None).verdict
        'containers list 8: model and real program agree on all 1 numbers compared'
        """
        name = f"containers {self.kind} {self.n:,}"
        if self.error:
            return f"{name}: the real program could not run here ({self.error})"
        if self.agrees:
            return f"{name}: model and real program agree on all {len(self.rows)} numbers compared"
        return f"{name}: {len(self.differences)} of {len(self.rows)} numbers differ"

    def top_table(self) -> str:
        """The real program's VIRT and RES at each stage, as `top` would show them."""
        if self.error:
            return f"the real program could not run here: {self.error}"
        lines = [f"{'containers ' + self.kind + ' ' + format(self.n, ',')}: what top shows",
                 f"{'stage':<15}{'VIRT (VmSize)':>16}{'RES (VmRSS)':>16}{'heap+maps RES':>16}"]
        for s in self.real:
            lines.append(f"{s['label']:<15}{fmt_bytes(s['vmsize']):>16}{fmt_bytes(s['vmrss']):>16}"
                         f"{s['rss']:>16,}")
        lines.append("(heap+maps RES: the bytes the program's allocations made resident since "
                     "the start)")
        return "\n".join(lines)

    def report(self) -> str:
        """Model beside real, stage by stage: the heap's counters and resident bytes."""
        if self.error:
            return f"the real program could not run here: {self.error}"
        lines = [f"{'stage':<15}{'field':<10}{'model':>16}{'real':>16}"]
        for label, field, model, real in self.rows:
            mark = "" if model == real else "   <- differs"
            lines.append(f"{label:<15}{field:<10}{model:>16,}{real:>16,}{mark}")
        lines.append(self.verdict)
        return "\n".join(lines)


#: Fields compared with the real program (brk and rss counted from "start").
COMPARED = ("brk", "arena", "hblkhd", "uordblks", "fordblks", "smblks", "rss")


def compare_program(kind: str, n: int, real: list[dict] | None = None,
                    fields: tuple[str, ...] = COMPARED) -> ProgramComparison:
    """Run ``containers KIND N`` on this machine (unless its stages are given) and the model.

    VmSize changes are compared too, with the model's VIRT (heap and mappings): field "virt".

    >>> c = compare_program("list", 1000)
    >>> c.agrees or c.error is not None
    True
    """
    try:
        real = real if real is not None else run_program(kind, n)
    except (MemlabError, OSError) as exc:
        return ProgramComparison(kind, n, (), (), str(exc))
    stages = model_stages(kind, n)
    base_model, base_real = stages[0], real[0]
    rows = []
    for stage, got in zip(stages, real):
        snap = stage.snapshot
        for f in fields:
            model = getattr(snap, f)
            if f in ("brk", "rss"):
                model -= getattr(base_model.snapshot, f)
            rows.append((stage.label, f, model, got[f]))
        rows.append((stage.label, "virt", stage.vsz - base_model.vsz,
                     got["vmsize"] - base_real["vmsize"]))
    return ProgramComparison(kind, n, tuple(rows), tuple(real), None)
