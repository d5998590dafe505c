"""Asking for more than the machine has: one big malloc against realloc in steps, model and kernel.

    Machine            RAM, swap and the overcommit sysctls (``Machine.here()`` reads /proc)
    model_malloc       does the model grant malloc(size) in a fresh process?
    model_grow         how far realloc in steps gets on the model
    largest_malloc     the largest malloc the model grants in one request
    growth_report      what realloc in steps leaves: calls, VIRT, commit charge, RES
    touch              write part of a granted block on the model: resident, swapped or OOM kill
    probe_malloc, probe_grow   the same questions put to this machine's kernel by a C probe
                       that only reserves memory and never writes it
    check_here         the lesson's requests on the model and on this machine, side by side
    explore            one setting of the lesson's dashboard: both ways of asking, then writing

>>> small = Machine(ram=4 * GiB, swap=0, mode=0)
>>> model_malloc(small, 5 * GiB), model_malloc(small, 3 * GiB)
(False, True)
>>> model_grow(small, 100 * MiB, 5 * GiB) == 5 * GiB
True
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from memlab.errors import OutOfMemoryKill
from memlab.glibc import Malloc
from memlab.space import AddressSpace
from memlab.space.overcommit import Overcommit
from memlab.units import GiB, MiB, PAGE, fmt_bytes

__all__ = [
    "Machine", "Touched", "Check", "LESSON_REQUESTS", "model_malloc", "model_grow",
    "largest_malloc", "growth_report", "touch", "probe_malloc", "probe_grow", "check_here", "Exploration",
    "explore",
]

#: The seed's experiment: one malloc of 100 GiB, and realloc growing a block by 100 MiB to 100 GiB.
BIG = 100 * GiB
STEP = 100 * MiB
#: The single requests the lesson asks about (bytes).
LESSON_REQUESTS = (20 * GiB, 30 * GiB, BIG)


@dataclass(frozen=True, slots=True)
class Machine:
    """The memory a kernel judges requests against, and its overcommit sysctls.

    ``ram`` is MemTotal and ``swap`` SwapTotal (bytes); ``mode``, ``ratio`` and ``kbytes`` are
    vm.overcommit_memory, _ratio and _kbytes (0 meaning unset).

    >>> Machine(ram=8 * GiB, swap=2 * GiB, mode=2, ratio=50).commit_limit / GiB
    6.0
    >>> Machine(ram=8 * GiB, swap=0).describe()
    'RAM 8.0 GiB, swap 0 B, vm.overcommit_memory = 0 (heuristic), overcommit_ratio 50'
    """

    ram: int
    swap: int = 0
    mode: int = 0
    ratio: int = 50
    kbytes: int = 0

    def __post_init__(self) -> None:
        Overcommit(self.mode, self.ratio, self.kbytes or None)   # rejects bad sysctl values
        if self.ram < PAGE or self.swap < 0:
            raise ValueError(f"ram must be >= {PAGE} and swap >= 0 bytes, got {self.ram}, {self.swap}")

    @classmethod
    def here(cls, proc: str | Path = "/proc") -> "Machine":
        """This machine, read from /proc/meminfo and /proc/sys/vm."""
        proc = Path(proc)
        meminfo = {}
        for line in (proc / "meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            meminfo[key] = int(rest.split()[0]) * 1024 if rest.split() else 0
        vm = proc / "sys" / "vm"

        def sysctl(name: str) -> int:
            return int((vm / name).read_text().split()[0])

        return cls(ram=meminfo["MemTotal"], swap=meminfo["SwapTotal"],
                   mode=sysctl("overcommit_memory"), ratio=sysctl("overcommit_ratio"),
                   kbytes=sysctl("overcommit_kbytes"))

    @property
    def policy(self) -> Overcommit:
        """The kernel's overcommit test with these sysctls."""
        return Overcommit(self.mode, self.ratio, self.kbytes or None)

    @property
    def commit_limit(self) -> int:
        """CommitLimit (bytes), as /proc/meminfo shows it; it binds only in mode 2."""
        return self.policy.limit(self.ram, self.swap)

    def space(self) -> AddressSpace:
        """A fresh simulated process on this machine (no event log)."""
        return AddressSpace(ram=self.ram, swap=self.swap, overcommit=self.mode,
                            overcommit_ratio=self.ratio, overcommit_kbytes=self.kbytes or None,
                            log=False)

    def describe(self) -> str:
        """One line: the sizes and sysctls."""
        name = {0: "heuristic", 1: "always", 2: "never"}[self.mode]
        return (f"RAM {fmt_bytes(self.ram)}, swap {fmt_bytes(self.swap)}, "
                f"vm.overcommit_memory = {self.mode} ({name}), overcommit_ratio {self.ratio}")


def model_malloc(machine: Machine, size: int) -> bool:
    """Whether malloc(size) returns memory in a fresh process of the model on ``machine``.

    >>> model_malloc(Machine(ram=GiB), 2 * GiB), model_malloc(Machine(ram=GiB, mode=1), 2 * GiB)
    (False, True)
    """
    return Malloc(space=machine.space()).malloc(size) != 0


def _grow(machine: Machine, step: int, target: int) -> tuple[Malloc, int, int]:
    """realloc by ``step`` up to ``target`` on the model: (malloc, block, bytes reached)."""
    if step <= 0 or target < 0:
        raise ValueError(f"step must be > 0 and target >= 0, got {step}, {target}")
    m = Malloc(space=machine.space())
    p = reached = 0
    while reached < target:
        want = min(reached + step, target)
        q = m.realloc(p, want)
        if not q:
            break
        p, reached = q, want
    return m, p, reached


def model_grow(machine: Machine, step: int, target: int) -> int:
    """How many bytes a block grown with realloc by ``step`` holds when it reaches ``target``
    or the next realloc returns NULL (the block is kept).

    >>> model_grow(Machine(ram=GiB, mode=2, ratio=50), 100 * MiB, GiB) // MiB
    500
    """
    return _grow(machine, step, target)[2]


def growth_report(machine: Machine, step: int, target: int) -> str:
    """What realloc by ``step`` towards ``target`` leaves on the model: calls, sizes, VIRT, RES.

    >>> print(growth_report(Machine(ram=GiB), 100 * MiB, 300 * MiB))
    3 calls (1 malloc, then realloc) reached 300.0 MiB of 300.0 MiB
    mapped (VIRT) 300.1 MiB, commit charge 300.1 MiB, resident (RES) 8,192 B
    """
    m, _, reached = _grow(machine, step, target)
    space = m.space
    calls = -(-reached // step) + (reached < target)
    return (f"{calls:,} calls (1 malloc, then realloc) reached {fmt_bytes(reached)} of "
            f"{fmt_bytes(target)}\nmapped (VIRT) {fmt_bytes(space.vsz)}, commit charge "
            f"{fmt_bytes(space.commit_charge)}, resident (RES) {fmt_bytes(space.rss)}")


def largest_malloc(machine: Machine, limit: int = 1 << 46) -> int:
    """The largest size (a multiple of 16) whose malloc the model grants, searched up to ``limit``.

    When mmap is refused, glibc grows the heap with sbrk by up to RAM + swap, and the free top
    of the heap it already has adds a little:

    >>> largest_malloc(Machine(ram=GiB)) - GiB
    3392
    """
    lo, hi = 0, limit // 16
    if model_malloc(machine, hi * 16):
        return hi * 16
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if model_malloc(machine, mid * 16):
            lo = mid
        else:
            hi = mid
    return lo * 16


@dataclass(frozen=True, slots=True)
class Touched:
    """What writing ``written`` bytes of a granted block of ``size`` did on the model; when the
    OOM killer struck, ``written`` is what had been written before the write it refused.

    >>> Touched(GiB, GiB, GiB, 0, None).killed
    False
    """

    size: int
    written: int
    rss: int
    swap: int
    oom: str | None

    @property
    def killed(self) -> bool:
        """Whether the OOM killer ended the process."""
        return self.oom is not None


def touch(machine: Machine, size: int, written: int, step: int | None = None) -> Touched | None:
    """Grant ``size`` on the model (one malloc, or realloc by ``step``) and write its first
    ``written`` bytes; None when the block is not granted.

    The model's RAM is all this one process's: the kernel's own memory and other processes are
    left out, so a real OOM kill comes somewhat earlier.

    >>> t = touch(Machine(ram=GiB, swap=GiB), 1536 * MiB, 1536 * MiB)
    >>> t.rss // MiB, t.swap // MiB, t.killed
    (1024, 512, False)
    >>> touch(Machine(ram=GiB, mode=1), 4 * GiB, 2 * GiB).killed
    True
    """
    if step is None:
        m = Malloc(space=machine.space())
        p = m.malloc(size)
        if not p:
            return None
    else:
        m, p, reached = _grow(machine, step, size)
        if reached < size:
            return None
    written = max(0, min(written, size))
    piece = max(64 * MiB, written // 1024)
    done = 0
    try:
        while done < written:                  # page after page, as a program writes them
            n = min(piece, written - done)
            m.space.touch(p + done, n)
            done += n
    except OutOfMemoryKill as kill:
        return Touched(size, done, m.space.rss, m.space.swap, str(kill))
    return Touched(size, written, m.space.rss, m.space.swap, None)


# --- the real kernel ---------------------------------------------------------------------------

def _probe(*args: int | str) -> dict:
    from memlab.native import build
    from memlab.native.runner import clean_environment

    program = build("overcommit")
    out = subprocess.run([str(program), *map(str, args)], capture_output=True, text=True,
                         env=clean_environment())
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip() or f"the overcommit probe failed ({out.returncode})")
    return json.loads(out.stdout)


def probe_malloc(size: int) -> bool:
    """Whether this machine's glibc and kernel grant malloc(size) in a fresh process.

    The probe never writes to the block: nothing becomes resident.

    >>> probe_malloc(MiB)
    True
    """
    return bool(_probe("malloc", size)["ok"])


def probe_grow(step: int, target: int) -> int:
    """How far a block grows on this machine with realloc by ``step`` towards ``target``.

    >>> probe_grow(MiB, 4 * MiB) == 4 * MiB
    True
    """
    return int(_probe("realloc", step, target)["reached"])


@dataclass(frozen=True, slots=True)
class Check:
    """The lesson's requests on the model of a machine and on the machine itself.

    ``rows`` are (request, model's answer, kernel's answer); ``error`` says why the real side
    could not run.

    >>> c = Check(Machine(ram=GiB), (("malloc(2.0 GiB)", "NULL", "NULL"),), None)
    >>> c.agrees
    True
    """

    machine: Machine
    rows: tuple[tuple[str, str, str], ...]
    error: str | None

    @property
    def agrees(self) -> bool:
        """True when the real side ran and gave the model's answer every time."""
        return self.error is None and all(model == real for _, model, real in self.rows)

    def report(self) -> str:
        """A table: each request, the model's answer, this machine's answer."""
        lines = [f"this machine: {self.machine.describe()}",
                 f"{'request':<36}{'model':>16}{'this kernel':>16}"]
        for what, model, real in self.rows:
            lines.append(f"{what:<36}{model:>16}{real:>16}" + ("" if model == real else "  <- differs"))
        if self.error:
            lines.append(f"the real side could not run here: {self.error}")
        else:
            lines.append("model and kernel agree on every request" if self.agrees
                         else "model and kernel disagree")
        return "\n".join(lines)


def _answer(ok: bool) -> str:
    return "memory" if ok else "NULL"


def check_here(machine: Machine | None = None, sizes: tuple[int, ...] = LESSON_REQUESTS,
               step: int = STEP, target: int = BIG) -> Check:
    """Put each malloc(size) and the realloc growth to the model of this machine and to its kernel.

    Besides ``sizes``, it asks for the largest single malloc the model grants and 16 bytes more.

    >>> c = check_here(sizes=(MiB,), target=0)
    >>> c.rows[0][:2]
    ('malloc(1.0 MiB)', 'memory')
    """
    from memlab.errors import MemlabError

    machine = machine or Machine.here()
    edge = largest_malloc(machine)
    asks = [(f"malloc({fmt_bytes(s)})", s) for s in sizes]
    asks += [(f"malloc({edge:,})", edge), (f"malloc({edge + 16:,})", edge + 16)]
    rows = []
    error = None
    try:
        for what, size in asks:
            rows.append((what, _answer(model_malloc(machine, size)), _answer(probe_malloc(size))))
        if target:
            model, real = model_grow(machine, step, target), probe_grow(step, target)
            rows.append((f"realloc by {fmt_bytes(step)} to {fmt_bytes(target)}",
                         f"{fmt_bytes(model)}", f"{fmt_bytes(real)}"))
    except (MemlabError, OSError, RuntimeError) as exc:
        error = str(exc)
    return Check(machine, tuple(rows), error)


@dataclass(frozen=True, slots=True)
class Exploration:
    """One setting of the dashboard: what malloc(size) and realloc by ``step`` get on
    ``machine``, and what writing the first ``written`` bytes of the granted block does.

    ``single_cap`` is the most one request may map (mode 0: RAM + swap), ``commit_limit`` the
    limit of all commitments together (binding in mode 2); None where the mode has none.
    """

    machine: Machine
    size: int
    step: int
    malloc_ok: bool
    grown: int
    single_cap: int | None
    commit_limit: int | None
    touched: Touched | None

    def summary(self) -> str:
        """One line for the dashboard."""
        got = "memory" if self.malloc_ok else "NULL"
        line = (f"malloc({fmt_bytes(self.size)}): {got}; realloc by {fmt_bytes(self.step)}: "
                f"{'reaches' if self.grown == self.size else 'stops at'} {fmt_bytes(self.grown)}")
        t = self.touched
        if t is None:
            return line + "; nothing granted to write"
        if t.killed:
            return line + f"; writing {fmt_bytes(t.written)}: OOM kill ({t.oom})"
        return (line + f"; after writing {fmt_bytes(t.written)}: RES {fmt_bytes(t.rss)}, "
                f"SWAP {fmt_bytes(t.swap)}")


def explore(machine: Machine, size: int, step: int, written: int) -> Exploration:
    """Ask for ``size`` both ways on the model of ``machine``, then write part of the block
    (the realloc-grown one, else the malloc'd one).

    >>> e = explore(Machine(ram=8 * GiB), 10 * GiB, GiB, 0)
    >>> e.malloc_ok, e.grown // GiB, e.single_cap // GiB
    (False, 10, 8)
    """
    ok = model_malloc(machine, size)
    grown = model_grow(machine, step, size)
    touched = None
    if grown == size:
        touched = touch(machine, size, written, step)
    elif ok:
        touched = touch(machine, size, written)
    cap = machine.ram + machine.swap if machine.mode == 0 else None
    limit = machine.commit_limit if machine.mode == 2 else None
    return Exploration(machine, size, step, ok, grown, cap, limit, touched)
