"""Run a real process out of address space with malloc (exhaust.c) and read what it reports."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from memlab.native.build import build
from memlab.native.runner import NativeError, clean_environment

__all__ = ["RealExhaustion", "run_exhaust"]


@dataclass(frozen=True, slots=True)
class RealExhaustion:
    """What the real program printed: the counts, the break, and /proc/self/maps at three moments.

    >>> r = RealExhaustion(100, 1, 3, 5, 0x1000, 0x2000, "s", "f", "e", 0x9000, 0x8000)
    >>> r.n_big, r.n_small
    (3, 5)
    """

    big: int               # bytes per block of the first phase
    small: int             # bytes per block of the second phase
    n_big: int             # big blocks malloc returned before its first NULL
    n_small: int           # small blocks it returned after that, before the next NULL
    start_brk: int         # the break before the first malloc
    end_brk: int           # the break at the end
    maps_start: str        # /proc/self/maps before the first malloc
    maps_failed: str       # ... when the first big malloc failed
    maps_end: str          # ... when the first small malloc failed
    first_big: int = 0     # where the first big block's mapping starts (0: none)
    last_big: int = 0      # ... the last one's


def _parse(text: str, big: int, small: int) -> RealExhaustion:
    values: dict[str, int] = {}
    maps: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if current is not None:
            if line == "end":
                current = None
            else:
                maps[current].append(line)
            continue
        key, _, value = line.partition(" ")
        if key == "maps":
            current = value
            maps[current] = []
        elif key in ("start_brk", "brk", "big", "small", "first_big", "last_big"):
            values[key] = int(value, 0)
    try:
        return RealExhaustion(big, small, values["big"], values["small"], values["start_brk"],
                              values["brk"], "\n".join(maps["start"]), "\n".join(maps["failed"]),
                              "\n".join(maps["end"]), values["first_big"], values["last_big"])
    except KeyError as e:
        raise NativeError(f"the exhaust program's output lacks {e.args[0]!r}") from None


def run_exhaust(big: int, small: int, arch: str = "i386", randomize: bool = True,
                legacy: bool = False) -> RealExhaustion:
    """Run exhaust.c for `arch` (built on first use): malloc(big) until it fails, then malloc(small).

    `randomize=False` turns address-space randomisation off for the run (as setarch -R),
    `legacy=True` asks for the kernel's legacy mmap layout (as setarch -L). On x86-64 the
    run would take 128 TiB of address space: only i386 is allowed.

    >>> r = run_exhaust(1024 * 1024 * 1024, 256 * 1024 * 1024, randomize=False)
    >>> r.n_big >= 2, r.maps_start.count("[stack]")
    (True, 1)
    """
    if arch != "i386":
        raise ValueError(f"exhausting the address space is run for i386 only, not {arch!r}")
    if not (type(big) is int and type(small) is int and 0 < small and 0 < big < 2**32):
        raise ValueError(f"block sizes are whole numbers of bytes from 1 to 2**32-1, not {big!r}, {small!r}")
    flags = ([] if randomize else ["--no-random"]) + (["--legacy"] if legacy else [])
    done = subprocess.run([str(build("exhaust", arch)), *flags, str(big), str(small)],
                          capture_output=True, text=True, env=clean_environment())
    if done.returncode != 0:
        raise NativeError(f"the exhaust program failed ({done.returncode}): {done.stderr.strip() or done.stdout[-200:]}")
    return _parse(done.stdout, big, small)
