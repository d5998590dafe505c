"""Every generator of test inputs: Hypothesis strategies and seeded random traces.

Traces: `traces` (Hypothesis: every operation of the format, shrinking to a small failing
trace), `pointer_traces` (Hypothesis: random pointer graphs over small blocks, for leak checks), `random_trace` (plain seeded random, long, optionally with `s` lines) and `phased_trace`
(seeded growth and teardown phases over every size class), `edge_trace` (seeded, sizes on
either side of given class boundaries). Each is valid trace text: it parses,
and frees, reallocs and writes only through IDs, so it never misuses the heap; sizes span every
glibc size class (tcache and fastbin, small and large bins, the mmap range), memalign up to 4096.
Address space: a small space (`HEAP`, `BASE`) and the arguments of its calls.

    >>> from hypothesis import given
    >>> @given(traces(max_ops=20))
    ... def check(text):
    ...     assert text.endswith("\\n") or text == ""
    >>> check()
    >>> len(phased_trace(50, seed=3).splitlines()), len(random_trace(5, seed=1).splitlines())
    (50, 5)
"""

from __future__ import annotations

import random

from hypothesis import strategies as st

from memlab.space import MADV_DONTNEED, MADV_FREE
from memlab.trace import MALLOPT_PARAMS
from memlab.units import PAGE

__all__ = ["request_sizes", "alignments", "mallopts", "ops", "traces", "stores", "pointer_traces",
           "threaded_traces", "threaded_trace", "random_trace", "phased_trace", "edge_trace",
           "hostile_numbers", "hostile_lines", "hostile_traces", "cli_arguments", "hostile_values",
           "HEAP", "BASE", "addresses", "lengths", "deltas", "advice", "space_limits"]

#: mallopt parameters a trace may use.
_PARAMS = tuple(p for p in MALLOPT_PARAMS if not p.startswith("M_ARENA"))  # the arena limits matter with threads only


# ---------------------------------------------------------------------------- traces: Hypothesis

def request_sizes(max_size: int = 300_000) -> st.SearchStrategy[int]:
    """Request sizes weighted toward the interesting class boundaries."""
    edges = [0, 1, 8, 24, 25, 40, 56, 104, 120, 121, 136, 1000, 1008, 1016, 1032, 1033,
             3000, 4072, 4096, 65536, 131048, 131056, 131072, 200000]
    bands = [(0, 120), (121, 1032), (1033, 16_000), (16_000, max_size)]
    parts = [st.integers(lo, min(hi, max_size)) for lo, hi in bands if lo <= max_size]
    parts.append(st.sampled_from([e for e in edges if e <= max_size]))
    return st.one_of(*parts)


def alignments() -> st.SearchStrategy[int]:
    """memalign alignments up to 4096 (powers of two, plus a few that glibc rounds up)."""
    return st.one_of(st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]),
                     st.sampled_from([24, 48, 100, 3000]))


#: Top pads that leave no room: a break request that wraps round (negative values are huge
#: size_t's), or one larger than an i386 address space has free.
HUGE_TOP_PADS = [-1, -4096, -100_000_000, -(1 << 31), (1 << 31) - 1, 1 << 30]


def mallopts() -> st.SearchStrategy[str]:
    """A mallopt line with a sane value for its parameter (names or glibc's numbers)."""
    values = {
        "M_MXFAST": st.integers(0, 160),
        "M_TRIM_THRESHOLD": st.sampled_from([0, 32, 4096, 65536, 131072, 262144]) | st.integers(0, 1 << 20),
        "M_TOP_PAD": st.sampled_from([0, 1, 4096, 65536, 131072]) | st.integers(0, 1 << 18)
                     | st.sampled_from(HUGE_TOP_PADS),
        "M_MMAP_THRESHOLD": st.sampled_from([0, 4096, 65536, 131072, 1 << 20]) | st.integers(0, 1 << 20),
        "M_MMAP_MAX": st.sampled_from([0, 1, 2, 65536]),
    }
    spellings = {p: st.sampled_from([p, p[2:], str(MALLOPT_PARAMS[p])]) for p in _PARAMS}
    return st.sampled_from(_PARAMS).flatmap(
        lambda p: st.tuples(spellings[p], values[p]).map(lambda t: f"o {t[0]} {t[1]}"))


@st.composite
def ops(draw, n_ids: int = 24, max_size: int = 300_000) -> str:
    """One trace line (any operation) over IDs 0..n_ids-1."""
    i = draw(st.integers(0, n_ids - 1))
    kind = draw(st.sampled_from("aaaaaaffffffrrcmwwtospp"))
    if kind == "a":
        return f"a {i} {draw(request_sizes(max_size))}"
    if kind == "f":
        return f"f {i}"
    if kind == "r":
        return f"r {i} {draw(request_sizes(max_size))}"
    if kind == "c":
        n = draw(st.integers(0, 64))
        return f"c {i} {n} {draw(request_sizes(max_size // 64 + 1))}"
    if kind == "m":
        return f"m {i} {draw(alignments())} {draw(request_sizes(max_size))}"
    if kind == "w":
        return f"w {i}"
    if kind == "t":
        return f"t {draw(st.sampled_from([0, 0, 1, 4096, 65536, 131072]))}"
    if kind == "o":
        return draw(mallopts())
    if kind == "p":
        return draw(stores(n_ids))
    return "s"


@st.composite
def stores(draw, n_ids: int = 24, max_offset: int = 96) -> str:
    """A `p` line over IDs 0..n_ids-1: into a block or a global root; a start, an interior or
    a past-the-end pointer, or NULL."""
    src = draw(st.one_of(st.integers(0, n_ids - 1), st.sampled_from(["g", "g", "0x3"])))
    offset = 8 * draw(st.integers(0, max_offset // 8 if src != "g" else 7))
    words = ["p", str(src), str(offset)]
    if draw(st.integers(0, 5)):
        words.append(str(draw(st.integers(0, n_ids - 1))))
        target_offset = draw(st.one_of(st.just(0), st.just(0), st.integers(1, max_offset),
                                       st.sampled_from([8, 16])))
        if target_offset or draw(st.booleans()):
            words.append(str(target_offset))
    return " ".join(words)


@st.composite
def pointer_traces(draw, max_ops: int = 40, n_ids: int = 8) -> str:
    """Trace text that builds a random pointer graph over small blocks: allocations (malloc,
    calloc, realloc; no memalign, whose fragments upset Valgrind's address order), frees,
    writes and many stores (cycles, interior pointers, overwritten and cleared slots)."""
    lines = []
    for _ in range(draw(st.integers(1, max_ops))):
        i = draw(st.integers(0, n_ids - 1))
        kind = draw(st.sampled_from("aaaacrffwpppppppp"))
        size = draw(st.one_of(st.sampled_from([0, 8, 16, 24, 32, 40, 64]), st.integers(0, 120)))
        if kind == "a":
            lines.append(f"a {i} {size}")
        elif kind == "c":
            lines.append(f"c {i} {draw(st.integers(0, 4))} {draw(st.sampled_from([0, 8, 16, 24]))}")
        elif kind == "r":
            lines.append(f"r {i} {size}")
        elif kind in "fw":
            lines.append(f"{kind} {i}")
        else:
            lines.append(draw(stores(n_ids, 64)))
    return "".join(line + "\n" for line in lines)


def traces(max_ops: int = 200, n_ids: int = 24, max_size: int = 300_000) -> st.SearchStrategy[str]:
    """Trace text of up to `max_ops` lines using every operation of the format."""
    return st.lists(ops(n_ids, max_size), max_size=max_ops).map(
        lambda lines: "".join(line + "\n" for line in lines))


@st.composite
def threaded_traces(draw, max_threads: int = 20, max_ops: int = 80, n_ids: int = 24,
                    max_size: int = 300_000) -> str:
    """Trace text with threads: up to `max_threads` created (and some exited, joined and made
    again), operations on any of them over shared IDs (so frees cross threads), mallopt on any
    thread, sometimes more threads than the arena limit (`# cpus` 1 or 2, or `M_ARENA_MAX`)."""
    cpus = draw(st.sampled_from([None, None, 1, 2]))
    lines = [f"# cpus {cpus}"] if cpus else []
    running, exited, fresh = [0], [], list(range(1, max_threads + 1))
    cur = 0
    for _ in range(draw(st.integers(1, max_ops))):
        kind = draw(st.sampled_from("oooooooonnnTTxjm"))
        if kind == "n" and fresh:
            tid = fresh.pop(draw(st.integers(0, len(fresh) - 1)))
            running.append(tid)
            lines.append(f"n {tid}")
        elif kind == "T":
            cur = draw(st.sampled_from(running))
            lines.append(f"T {cur}")
        elif kind == "x" and len(running) > 1:
            tid = draw(st.sampled_from(running[1:]))
            running.remove(tid)
            exited.append(tid)
            lines.append(f"x {tid}")
            if tid == cur:                        # its exit ran; a running thread carries on
                cur = draw(st.sampled_from(running))
                lines.append(f"T {cur}")
        elif kind == "j" and exited:
            tid = exited.pop(draw(st.integers(0, len(exited) - 1)))
            fresh.append(tid)
            lines.append(f"j {tid}")
        elif kind == "m" and cpus is None:
            lines.append(f"o {draw(st.sampled_from(['M_ARENA_MAX', 'M_ARENA_TEST', '-8']))} "
                         f"{draw(st.sampled_from([0, 1, 2, 3]))}")
        else:
            lines.append(draw(ops(n_ids, max_size)))
    return "".join(line + "\n" for line in lines)


def threaded_trace(n_ops: int, seed: int = 0, max_threads: int = 20, n_ids: int = 400) -> str:
    """A seeded random trace with threads and heavy traffic: batches of equal requests (up to
    8 MiB, so that arenas grow heaps, open new ones and trim them) and batches of frees on
    random threads, thread exits, joins and re-creation, trims and mallopts, `s` after each step."""
    rng = random.Random(seed)
    cpus = rng.choice([1, 2])
    lines = [f"# cpus {cpus}"]
    running, exited = [0], []
    nthreads = rng.randint(1, max_threads)
    for tid in range(1, nthreads + 1):
        lines.append(f"n {tid}")
        running.append(tid)
    fresh = list(range(nthreads + 1, max_threads + 1))
    cur, live, nxt = 0, [], 0
    for _ in range(n_ops):
        r = rng.random()
        if r < 0.1:
            cur = rng.choice(running)
            lines.append(f"T {cur}")
        elif r < 0.14 and len(running) > 1:
            tid = rng.choice(running[1:])
            running.remove(tid)
            lines.append(f"x {tid}")
            if tid == cur:
                cur = rng.choice(running)
                lines.append(f"T {cur}")
            if rng.random() < 0.8:
                lines.append(f"j {tid}")
                fresh.append(tid)
            else:
                exited.append(tid)
            if fresh and rng.random() < 0.6:
                tid = fresh.pop(rng.randrange(len(fresh)))
                running.append(tid)
                lines.append(f"n {tid}")
        elif r < 0.6:
            size = rng.choice([rng.randint(1000, 60000), rng.randint(16, 1024), 130000,
                               rng.randint(1 << 20, 8 << 20)])
            for _ in range(rng.randint(1, 40)):
                lines.append(f"a {nxt % n_ids} {size}")
                live.append(nxt % n_ids)
                nxt += 1
        elif r < 0.95 and live:
            for _ in range(rng.randint(1, 60)):
                if not live:
                    break
                lines.append(f"f {live.pop(rng.randrange(len(live)))}")
        elif r < 0.97:
            lines.append(f"t {rng.choice([0, 65536])}")
        else:
            lines.append(rng.choice(["o M_TRIM_THRESHOLD 33554432", "o M_TOP_PAD 0",
                                     "o M_MMAP_THRESHOLD 33554432", "o M_MXFAST 0"]))
        lines.append("s")
    return "".join(line + "\n" for line in lines)


# ---------------------------------------------------------------------------- traces: seeded random

def random_trace(n_ops: int, seed: int = 0, n_ids: int = 200, max_size: int = 300_000,
                 mallopt_rate: float = 0.002, snapshot_rate: float = 0.0) -> str:
    """A long random trace (plain `random`, not Hypothesis), for speed and soak runs.

    With `snapshot_rate`, that share of the lines are `s` lines and the trace ends with one.

    >>> text = random_trace(40, seed=1, snapshot_rate=0.25)
    >>> lines = text.splitlines()
    >>> len(lines), lines[-1], 0 < lines.count("s") < 41
    (41, 's', True)
    """
    rng = random.Random(seed)
    live: set[int] = set()
    lines = []

    def size() -> int:
        r = rng.random()
        if r < 0.45:
            return rng.randint(0, 120)
        if r < 0.75:
            return rng.randint(121, 1032)
        if r < 0.93:
            return rng.randint(1033, 16_000)
        return rng.randint(16_000, max_size)

    for _ in range(n_ops):
        if snapshot_rate and rng.random() < snapshot_rate:
            lines.append("s")
            continue
        i = rng.randrange(n_ids)
        r = rng.random()
        if r < 0.36:
            lines.append(f"a {i} {size()}")
            live.add(i)
        elif r < 0.70:
            lines.append(f"f {i}")
            live.discard(i)
        elif r < 0.80:
            lines.append(f"r {i} {size()}")
            live.add(i)
        elif r < 0.84:
            lines.append(f"c {i} {rng.randint(0, 40)} {size() // 40 + rng.randint(0, 3)}")
            live.add(i)
        elif r < 0.88:
            lines.append(f"m {i} {rng.choice([8, 16, 32, 64, 256, 1024, 4096, 48])} {size()}")
            live.add(i)
        elif r < 0.995 - mallopt_rate:
            lines.append(f"w {i}")
        elif r < 0.995:
            p = rng.choice(_PARAMS)
            v = {"M_MXFAST": rng.randint(0, 160), "M_TRIM_THRESHOLD": rng.choice([0, 65536, 131072, 1 << 20]),
                 "M_TOP_PAD": rng.choice([0, 4096, 131072]), "M_MMAP_THRESHOLD": rng.choice([4096, 131072, 1 << 20]),
                 "M_MMAP_MAX": rng.choice([0, 65536])}[p]
            lines.append(f"o {p} {v}")
        else:
            lines.append(f"t {rng.choice([0, 4096, 131072])}")
    if snapshot_rate:
        lines.append("s")
    return "".join(line + "\n" for line in lines)


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


def edge_trace(n_ops: int, edges, seed: int = 0, n_ids: int = 300) -> str:
    """A seeded random trace whose request sizes sit on either side of the given `edges`.

    Each size is an edge moved by a few 16-byte steps or a few bytes (never below 0), so that
    chunks land in both size classes of every boundary; phases of growth and teardown, with
    realloc, calloc, memalign, writes, malloc_trim and mallopt (M_MXFAST and the thresholds)
    throughout.

    >>> lines = edge_trace(200, [1000, 2940], seed=2).splitlines()
    >>> len(lines), all(line.split()[0] in "afrcmwto" for line in lines)
    (200, True)
    """
    rng = random.Random(seed)
    edges = list(edges)
    lines: list[str] = []
    grow, phase_left = True, 0

    def size() -> int:
        edge = rng.choice(edges)
        step = rng.choice([-32, -16, -16, 0, 0, 16, 16, 32]) + rng.choice([-3, -1, 0, 0, 1, 4])
        return max(0, edge + step)

    while len(lines) < n_ops:
        if phase_left == 0:
            grow, phase_left = rng.random() < 0.6, rng.randint(10, 120)
        phase_left -= 1
        i = rng.randrange(n_ids)
        r = rng.random()
        if r < (0.55 if grow else 0.2):
            lines.append(f"a {i} {size()}")
        elif r < 0.8:
            lines.append(f"f {i}")
        elif r < 0.87:
            lines.append(f"r {i} {size()}")
        elif r < 0.9:
            n = size()
            m = rng.choice([1, 2, 4, 7])
            lines.append(f"c {i} {m} {n // m}")
        elif r < 0.93:
            lines.append(f"m {i} {rng.choice([32, 64, 128, 1024, 4096, 48])} {size()}")
        elif r < 0.99:
            lines.append(f"w {i}")
        elif r < 0.995:
            lines.append(f"t {rng.choice([0, 64, 4096, 131072])}")
        else:
            lines.append(rng.choice(["o M_MXFAST 0", "o M_MXFAST 64", "o M_MXFAST 80", "o M_MXFAST 81",
                                     "o M_MXFAST 128", "o M_TRIM_THRESHOLD 0", "o M_TOP_PAD 0",
                                     "o M_TOP_PAD 65536", "o M_MMAP_THRESHOLD 524288",
                                     "o M_MMAP_THRESHOLD 1048576", "o M_MMAP_MAX 0"]))
    return "".join(line + "\n" for line in lines[:n_ops])


# --- hostile input: what a careless or mischievous user types (not valid on purpose) -----------

def hostile_numbers(max_digits: int = 5000) -> st.SearchStrategy[str]:
    """Number fields of every shape: in and out of range, thousands of digits (past Python's
    int-conversion limit), signs, hex, exponents, non-ASCII digits."""
    return st.one_of(
        st.integers(-2**70, 2**70).map(str),
        st.sampled_from(["0", "-0", "2147483647", "-2147483648", "2147483648", "18446744073709551615",
                         "18446744073709551616", str(2**63), "0x10", "0X", "0xffffffffffffffff",
                         "1e3", "1.5", "-1", "+5", "٣", "²", "nan", "inf", "", "00000000001"]),
        st.integers(1, max_digits).map(lambda n: "9" * n),
        st.integers(1, max_digits).map(lambda n: "0" * n + "7"),
        st.integers(1, 40).map(lambda n: "0x" + "f" * n),
    )


@st.composite
def hostile_lines(draw, max_digits: int = 5000) -> str:
    """One trace line, valid or not: right and wrong letters and field counts, odd numbers and blanks,
    comments, long labels, control and non-ASCII characters."""
    shape = draw(st.integers(0, 5))
    if shape == 0:
        return draw(ops(n_ids=8, max_size=1 << 20))
    if shape == 1:
        letter = draw(st.sampled_from(list("afrcmwtosxA") + ["aa", "", "#", "s"]))
        fields = draw(st.lists(hostile_numbers(max_digits), max_size=4))
        blank = draw(st.sampled_from([" ", "\t", "  ", " \t "]))
        return blank.join([letter, *fields])
    if shape == 2:
        param = draw(st.sampled_from(["M_TOP_PAD", "M_MXFAST", "MMAP_MAX", "-3", "1", "M_NOPE", "M_ARENA_MAX"]))
        return f"o {param} {draw(hostile_numbers(max_digits))}"
    if shape == 3:
        return "s " + draw(st.text(max_size=3000))
    if shape == 4:
        return draw(st.sampled_from(["#", "# comment", "", "   ", "\r", "a 0 1\r", "\x00", "a\x000 1"]))
    return draw(st.text(max_size=50))


def hostile_traces(max_lines: int = 12, max_digits: int = 5000) -> st.SearchStrategy[str]:
    """Trace text of hostile lines."""
    return st.lists(hostile_lines(max_digits), max_size=max_lines).map("\n".join)


@st.composite
def cli_arguments(draw) -> list[str]:
    """Arguments of `python -m memlab` with odd values; "TRACE" stands for a trace file path."""
    every = st.sampled_from(["--every"]).flatmap(lambda o: hostile_numbers(5000).map(lambda v: [o, v]))
    glibc = st.sampled_from(["2.36", "2.41", "2.99", "", "x" * 500, "2.36.0"]).map(lambda v: ["--glibc", v])
    extra = st.lists(st.one_of(every, glibc, st.just(["--json"]), st.just(["--bogus"]),
                               st.text(max_size=20).map(lambda t: [t])), max_size=3)
    command = draw(st.sampled_from(["replay", "compare", "scenario", "scenario-run", "other"]))
    rest = [x for part in draw(extra) for x in part]
    if command in ("replay", "compare"):
        return [command, draw(st.sampled_from(["TRACE", "TRACE", "/nonexistent/t", "/", ""])), *rest]
    if command == "scenario":
        name = draw(st.sampled_from(["vecvec", "reserve", "push_back", "nope", ""]))
        values = draw(st.lists(st.one_of(hostile_numbers(5000).map(lambda v: "n=" + v),
                                         st.text(max_size=10)), max_size=2))
        return ["scenario", name, *values]
    if command == "scenario-run":
        name = draw(st.sampled_from(["vecvec", "reserve", "small_requests", "nope"]))
        # (no count that runs long: a real 10**12-vector run with --every 1 would take days)
        n = draw(st.one_of(st.sampled_from(["1e18", "1e999999", "3", "1e3", "0", "-5", "2.5", "x", ""]),
                           st.integers(21, 5000).map(lambda k: "9" * k), st.integers(-10**6, 10**4).map(str)))
        return ["scenario", name, "--n", n, *rest]
    return draw(st.lists(st.text(max_size=30), max_size=4))


def hostile_values(near: st.SearchStrategy[int]) -> st.SearchStrategy:
    """Arguments of any type for an API that takes ints: mostly `near` (values that mean something
    to the object under test), else register edges, out-of-range ints, floats, str, None, bools,
    bytes and containers."""
    edges = st.sampled_from([0, 1, -1, 4095, 4096, -4096, 2**47 - 4096, 2**47, 2**63 - 1, 2**63, -2**63,
                             2**64 - 1, 2**64, -2**63 - 1, 2**64 - 4096, 10**30])
    wrong = st.one_of(st.floats(allow_nan=True), st.text(max_size=5), st.none(), st.booleans(),
                      st.binary(max_size=3), st.just([4096]), st.just(4096.0), st.just("4096"),
                      st.complex_numbers(max_magnitude=10))
    return st.one_of(near, near, near, edges, wrong)


# ---------------------------------------------------------------------------- address space

HEAP = 0x40_0000              # heap_start of the small test space
BASE = HEAP + 48 * PAGE       # mmap_base: 48 pages above the heap, so gaps run out


def addresses():
    """Addresses around the small space: mostly page aligned, sometimes not, sometimes outside."""
    page = st.integers(min_value=-2, max_value=50).map(lambda k: HEAP + k * PAGE)
    return st.one_of(page, page, page, st.tuples(page, st.integers(1, PAGE - 1)).map(sum))


def lengths():
    """Lengths in bytes: mostly a few pages, sometimes odd, zero or negative."""
    pages = st.integers(min_value=1, max_value=10).map(lambda k: k * PAGE)
    odd = st.integers(min_value=1, max_value=10 * PAGE)
    return st.one_of(pages, pages, odd, st.sampled_from([0, -1, -PAGE]))


def deltas():
    """sbrk arguments: growth or shrinkage by bytes or pages."""
    return st.one_of(st.integers(min_value=-6 * PAGE, max_value=6 * PAGE),
                     st.integers(min_value=-3, max_value=3).map(lambda k: k * PAGE))


def advice():
    """madvise advice: the two modelled ones and an unknown number."""
    return st.sampled_from([MADV_DONTNEED, MADV_FREE, MADV_FREE, 99])


def space_limits():
    """(ram, swap) pairs for the small space: unlimited, or a few pages."""
    small = st.tuples(st.integers(2, 12).map(lambda k: k * PAGE),
                      st.integers(0, 8).map(lambda k: k * PAGE))
    return st.one_of(st.just((None, None)), small)
