"""The lessons' named allocation traces: each a Scenario with its own integer parameters."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from memlab.trace import parse_trace
from memlab.units import MiB

__all__ = [
    "Param",
    "Scenario",
    "VECVEC",
    "PUSH_BACK",
    "RESERVE",
    "SMALL_REQUESTS",
    "TWO_SOURCES",
    "DYNAMIC_THRESHOLD",
    "SCENARIOS",
    "scenario",
    "vecvec",
    "push_back",
    "push_back_capacities",
    "reserve",
    "small_requests",
    "two_sources",
    "dynamic_threshold",
    "WORKER_THREADS",
    "worker_threads",
]


@dataclass(frozen=True, slots=True)
class Param:
    """One integer knob of a scenario, with the range a slider offers.

    >>> n = Param("n", 1, 100, 1, 10, "how many vectors")
    >>> n.check(25)
    25
    """

    name: str
    min: int
    max: int
    step: int
    default: int
    description: str

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"Param name must be an identifier, got {self.name!r}")
        for field in ("min", "max", "step", "default"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Param {self.name}: {field} must be an int, got {value!r}")
        if self.step <= 0:
            raise ValueError(f"Param {self.name}: step must be positive, got {self.step}")
        if not self.min <= self.default <= self.max:
            raise ValueError(
                f"Param {self.name}: default {self.default} outside [{self.min}, {self.max}]"
            )

    def check(self, value: int) -> int:
        """Return ``value`` if it is an int in [min, max]; raise naming the parameter otherwise.

        >>> Param("size", 0, 10, 1, 5, "bytes").check(10)
        10
        """
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{self.name} must be an int, got {value!r}")
        if not self.min <= value <= self.max:
            raise ValueError(f"{self.name} = {value} is outside [{self.min}, {self.max}]")
        return value


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named trace generator: ``text(**values)`` gives trace text, ``build(**values)`` its ops.

    >>> s = Scenario("one", "One block", (Param("size", 1, 99, 1, 8, "bytes"),),
    ...              lambda size: f"a 0 {size}\\nf 0\\n")
    >>> s.values()
    {'size': 8}
    >>> print(s.text(size=20), end="")
    # one: size=20
    a 0 20
    f 0
    """

    name: str
    title: str
    params: tuple[Param, ...]
    write: Callable[..., str]

    def values(self, **given: int) -> dict[str, int]:
        """All parameter values: the given ones (checked) and the defaults for the rest."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise TypeError(f"scenario {self.name} has no parameter {', '.join(unknown)}")
        return {p.name: p.check(given[p.name]) if p.name in given else p.default
                for p in self.params}

    def text(self, **given: int) -> str:
        """The trace, as text in memlab's trace format, opening with its configuration."""
        values = self.values(**given)
        config = " ".join(f"{k}={v}" for k, v in values.items())
        header = f"# {self.name}: {config}".rstrip() if config else f"# {self.name}"
        return header + "\n" + self.write(**values)

    def build(self, **given: int) -> tuple:
        """The trace as a tuple of ``Op`` records (parsed by ``memlab.trace.parse_trace``)."""
        return parse_trace(self.text(**given))

    def with_max(self, **maxima: int) -> "Scenario":
        """A copy with other upper ends (sliders end at ``max``; a default above it is lowered).

        >>> RESERVE.with_max(n=10**9).params[0].max
        1000000000
        """
        known = {p.name for p in self.params}
        unknown = sorted(set(maxima) - known)
        if unknown:
            raise TypeError(f"scenario {self.name} has no parameter {', '.join(unknown)}")
        params = tuple(replace(p, max=maxima[p.name], default=min(p.default, maxima[p.name]))
                       if p.name in maxima else p for p in self.params)
        return replace(self, params=params)

    def save(self, path: str, **given: int) -> str:
        """Write the trace text to ``path`` (for the real-glibc replayer); return ``path``."""
        with open(path, "w", encoding="ascii") as f:
            f.write(self.text(**given))
        return path


def _at_least(name: str, value: int, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")


def vecvec(n: int) -> str:
    """Trace of ``std::vector<std::vector<int>> v(n)``, one int pushed into each, then destroyed.

    The outer vector is one zero-filled block of n 24-byte headers; each inner vector
    holding one int is a 4-byte block; destruction frees the inner blocks in order, then
    the outer block.

    >>> print(vecvec(2), end="")
    a 0 48
    w 0
    a 1 4
    w 1
    a 2 4
    w 2
    s built
    f 1
    f 2
    f 0
    """
    _at_least("n", n, 1)
    lines = [f"a 0 {24 * n}", "w 0"]
    for i in range(1, n + 1):
        lines += [f"a {i} 4", f"w {i}"]
    lines.append("s built")
    lines += [f"f {i}" for i in range(1, n + 1)]
    lines.append("f 0")
    return "\n".join(lines) + "\n"


def push_back_capacities(n: int) -> tuple[int, ...]:
    """The capacities a libstdc++ vector passes through while n ints are pushed back.

    Each growth doubles the capacity, starting from 1.

    >>> push_back_capacities(5)
    (1, 2, 4, 8)
    >>> push_back_capacities(8)
    (1, 2, 4, 8)
    """
    _at_least("n", n, 1)
    caps = [1]
    while caps[-1] < n:
        caps.append(2 * caps[-1])
    return tuple(caps)


def push_back(n: int) -> str:
    """Trace of one ``std::vector<int>`` grown to n ints by push_back, then destroyed.

    Each growth mallocs the new block (4 bytes per int of capacity), copies into it,
    and only then frees the old block.

    >>> print(push_back(3), end="")
    a 0 4
    w 0
    a 1 8
    w 1
    f 0
    a 0 16
    w 0
    f 1
    s built
    f 0
    """
    lines: list[str] = []
    old = None
    for k, cap in enumerate(push_back_capacities(n)):
        new = k % 2
        lines += [f"a {new} {4 * cap}", f"w {new}"]
        if old is not None:
            lines.append(f"f {old}")
        old = new
    lines += ["s built", f"f {old}"]
    return "\n".join(lines) + "\n"


def reserve(n: int) -> str:
    """Trace of one ``std::vector<int>`` with ``reserve(n)`` before n push_backs.

    >>> print(reserve(1000), end="")
    a 0 4000
    w 0
    s built
    f 0
    """
    _at_least("n", n, 1)
    return f"a 0 {4 * n}\nw 0\ns built\nf 0\n"


def small_requests(n: int, size: int) -> str:
    """Trace of n requests of ``size`` bytes, each written, then all freed in order.

    >>> print(small_requests(2, 10), end="")
    a 0 10
    w 0
    a 1 10
    w 1
    s built
    f 0
    f 1
    """
    _at_least("n", n, 1)
    _at_least("size", size, 0)
    lines = [f"a {i} {size}\nw {i}" for i in range(n)]
    lines.append("s built")
    lines += [f"f {i}" for i in range(n)]
    return "\n".join(lines) + "\n"


def two_sources(size: int) -> str:
    """Trace of a ``size``-byte block with a 2000-byte block after it; the big one is freed first.

    2000 bytes is too big for tcache and fastbins, so freeing that block merges it with
    its free neighbours.

    >>> print(two_sources(8192), end="")
    a 0 8192
    w 0
    a 1 2000
    w 1
    s both live
    f 0
    s first freed
    f 1
    s both freed
    """
    _at_least("size", size, 0)
    return (f"a 0 {size}\nw 0\na 1 2000\nw 1\ns both live\n"
            "f 0\ns first freed\nf 1\ns both freed\n")


def dynamic_threshold() -> str:
    """Trace of a 1 MiB block freed, then 1 MiB asked for again and freed.

    >>> print(dynamic_threshold(), end="")
    a 0 1048576
    w 0
    s first live
    f 0
    s first freed
    a 1 1048576
    w 1
    s second live
    f 1
    s second freed
    """
    mib = MiB
    return (f"a 0 {mib}\nw 0\ns first live\nf 0\ns first freed\n"
            f"a 1 {mib}\nw 1\ns second live\nf 1\ns second freed\n")


VECVEC = Scenario(
    "vecvec", "n one-int vectors inside an outer vector, built then destroyed",
    (Param("n", 1, 10_000, 1, 1_000, "number of one-int vectors"),), vecvec)
PUSH_BACK = Scenario(
    "push_back", "one vector of n ints grown by push_back (capacity doubles)",
    (Param("n", 1, 10_000_000, 1, 100_000, "number of ints pushed back"),), push_back)
RESERVE = Scenario(
    "reserve", "one vector of n ints, reserve(n) first: a single block",
    (Param("n", 1, 10_000_000, 1, 100_000, "number of ints reserved"),), reserve)
SMALL_REQUESTS = Scenario(
    "small_requests", "n requests of one small size, then all freed",
    (Param("n", 1, 10_000, 1, 100, "number of requests"),
     Param("size", 1, 4096, 1, 24, "bytes per request")), small_requests)
TWO_SOURCES = Scenario(
    "two_sources", "a block of `size` bytes below a 2000-byte block; both freed, big one first",
    (Param("size", 1_000, 1_000_000, 1_000, 200_000, "bytes in the first block"),), two_sources)
DYNAMIC_THRESHOLD = Scenario(
    "dynamic_threshold", "free a 1 MiB block, then ask for 1 MiB again", (), dynamic_threshold)



def worker_threads(threads: int, arena_max: int = 0, blocks: int = 400, size: int = 1000) -> str:
    """`threads` worker threads each build `blocks` blocks of `size` bytes, write them and free
    all but every 50th (snapshot "working" once all have), then frees those; `arena_max` > 0 sets
    M_ARENA_MAX first (0: glibc's limit, 8 per CPU). Each thread's blocks live in its own arena
    unless the limit makes threads share.

    >>> from memlab.replay import replay
    >>> def working(**k): return [s for s in replay(worker_threads(**k)) if s.label == "working"][0]
    >>> one, four, shared = working(threads=1), working(threads=4), working(threads=4, arena_max=1)
    >>> four.rss > 3 * one.rss, shared.rss < 2 * one.rss        # arenas of their own, or one
    (True, True)
    """
    _at_least("threads", threads, 1)
    _at_least("blocks", blocks, 1)
    lines = [f"o M_ARENA_MAX {arena_max}"] if arena_max > 0 else []
    lines += [f"n {t}" for t in range(1, threads + 1)]
    for t in range(1, threads + 1):
        lines.append(f"T {t}")
        base = t * blocks
        for i in range(base, base + blocks):
            lines += [f"a {i} {size}", f"w {i}"]
        lines += [f"f {i}" for i in range(base, base + blocks) if (i - base) % 50]
        lines.append(f"s thread {t}")
    lines.append("s working")
    for t in range(1, threads + 1):                     # each thread frees what it kept
        lines.append(f"T {t}")
        lines += [f"f {i}" for i in range(t * blocks, (t + 1) * blocks, 50)]
    lines.append("T 0")
    return "\n".join(lines) + "\n"


WORKER_THREADS = Scenario(
    "worker_threads", "worker threads, each with a working set it mostly frees, in its own arena",
    (Param("threads", 1, 20, 1, 4, "worker threads"),
     Param("arena_max", 0, 16, 1, 0, "M_ARENA_MAX (0: 8 per CPU)")), worker_threads)

SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (VECVEC, PUSH_BACK, RESERVE, SMALL_REQUESTS, TWO_SOURCES, DYNAMIC_THRESHOLD,
              WORKER_THREADS)
}


def scenario(name: str) -> Scenario:
    """Look a scenario up by name.

    >>> scenario("reserve").params[0].default
    100000
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}") from None
