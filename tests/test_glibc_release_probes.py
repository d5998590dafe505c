"""Probe programs of what changed in glibc 2.41 and 2.43: the model prints what the real libraries printed.

tests/data/releases/X.trace is the input of a small C probe (one command a line: malloc,
free, double free, realloc, calloc, memalign, aligned_alloc, mallopt, malloc_trim,
malloc_usable_size, snapshots, and "block the break at H+N"); X.out holds its output as run
on the real glibc 2.36 (Debian 12), 2.41-12+deb13u5 and 2.43-7, line by line, each line
prefixed by the release. These outputs give addresses (offsets from the initial break),
usable sizes, return values and abort messages, which the snapshot format does not hold.
Here each probe is interpreted on the model of each release and must print the same lines.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from memlab.errors import MallocAbort, SyscallError
from memlab.glibc import Malloc
from memlab.glibc.misuse import UndefinedBehavior
from memlab.space import AddressSpace

DATA = Path(__file__).parent / "data" / "releases"
PROBES = sorted(DATA.glob("*.trace"))
RELEASES = ("2.36", "2.41", "2.43")


class BlockedBreak(AddressSpace):
    """An address space where a page mapped at `limit` stops the break from growing past it."""

    limit: int | None = None

    def sbrk(self, delta: int) -> int:
        if self.limit is not None and delta > 0 and self.brk + delta > self.limit:
            raise SyscallError(errno.ENOMEM, "sbrk: a mapping is in the way")
        return super().sbrk(delta)


def expected(path: Path, rel: str) -> list[str]:
    """The real release's output lines for one probe (the version line left out)."""
    lines = []
    for line in path.with_suffix(".out").read_text().splitlines():
        if line.startswith(rel + " ") and not line.startswith(f"{rel} glibc "):
            lines.append(line[len(rel) + 1:])
    return lines


def run_probe(text: str, rel: str) -> list[str]:
    """Interpret the probe on the model of `rel`; the lines the C probe would print."""
    space = BlockedBreak()
    m = Malloc(space, glibc=rel)
    base = space.heap_start
    p: dict[int, int] = {}
    keep: dict[int, int] = {}
    out: list[str] = []

    def where(what: str, i: int, q: int, err: int = errno.ENOMEM) -> None:
        if q == 0:
            out.append(f"{what} {i} -> NULL errno={err}")
        elif base <= q < space.brk:
            out.append(f"{what} {i} -> H+{q - base}")
        else:
            out.append(f"{what} {i} -> mmap+{q & 4095:#x}")

    try:
        for line in text.splitlines():
            if not line.strip():
                continue
            op, *args = line.split()
            if op == "s":
                mi = m.mallinfo2()
                out.append(f"snap {args[0]} brk+{space.brk - base} arena={mi.arena} "
                           f"ordblks={mi.ordblks} smblks={mi.smblks} hblks={mi.hblks} "
                           f"hblkhd={mi.hblkhd} fsmblks={mi.fsmblks} uordblks={mi.uordblks} "
                           f"fordblks={mi.fordblks} keepcost={mi.keepcost}")
                continue
            x, y, z = (list(map(int, args)) + [0, 0, 0])[:3]
            if op == "a":
                p[x] = m.malloc(y)
                where("malloc", x, p[x])
            elif op == "f":
                m.free(p.pop(x, 0))
            elif op == "x":
                if p.get(x):
                    keep[x] = p[x]
                p[x] = 0
                m.free(keep.get(x, 0))
            elif op == "y":
                m.free(p.get(x, 0) + y)
            elif op == "r":
                p[x] = m.realloc(p.get(x, 0), y)
                where("realloc", x, p[x])
            elif op == "c":
                p[x] = m.calloc(y, z)
                where("calloc", x, p[x])
            elif op == "m":
                p[x] = m.memalign(y, z)
                where("memalign", x, p[x])
            elif op == "A":
                p[x] = m.aligned_alloc(y, z)
                bad = y == 0 or y & (y - 1)
                where("aligned_alloc", x, p[x], errno.EINVAL if bad else errno.ENOMEM)
            elif op == "t":
                out.append(f"trim -> {m.malloc_trim(x)}")
            elif op == "o":
                out.append(f"mallopt({x},{y}) -> {m.mallopt(x, y)}")
            elif op == "u":
                out.append(f"usable {x} = {m.malloc_usable_size(p.get(x, 0))}")
            elif op == "F":
                for i in range(x, y):
                    m.free(p.pop(i, 0))
            elif op == "M":
                for i in range(x, y):
                    p[i] = m.malloc(z)
                where("malloc-first", x, p[x])
                where("malloc-last", y - 1, p[y - 1])
            elif op == "B":
                space.limit = base + x
                out.append(f"block at H+{x} -> ok")
            else:
                raise ValueError(f"unknown probe command {line!r}")
            m.check()
    except MallocAbort as e:
        out += [e.message, "Aborted"]
    except UndefinedBehavior:
        pass            # glibc does not notice: the real heap is corrupted and prints no more here
    return out


def test_every_probe_has_its_output():
    """30 probes, each with the real output of all three releases."""
    assert len(PROBES) >= 30
    for path in PROBES:
        for rel in RELEASES:
            assert expected(path, rel), f"{path.name}: no output of glibc {rel}"


@pytest.mark.parametrize("rel", RELEASES)
@pytest.mark.parametrize("path", PROBES, ids=[p.stem for p in PROBES])
def test_model_prints_what_the_real_release_printed(path, rel):
    """Addresses, usable sizes, return values, counters and abort messages, line by line."""
    got = run_probe(path.read_text(), rel)
    want = expected(path, rel)
    assert got == want, "\n".join(
        f"{'  ' if a == b else '! '}model: {a!r:60} real: {b!r}"
        for a, b in zip(got + [""] * len(want), want + [""] * len(got)) if a or b)
