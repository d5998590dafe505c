"""Hypothesis strategies for allocation traces: random, valid trace text using every operation.

Shared by the model's own tests and by the differential suite that replays the same text on the
real glibc. Every trace these strategies draw is valid (it parses, and it frees, reallocs and writes
only through IDs, so it never misuses the heap); sizes span every glibc size class: tcache and
fastbin sizes, small bins, large bins and the mmap range, plus memalign up to 4096.

    >>> from hypothesis import given
    >>> @given(traces(max_ops=20))
    ... def check(text):
    ...     assert text.endswith("\\n") or text == ""
    >>> check()
"""

from __future__ import annotations

from hypothesis import strategies as st

__all__ = ["sizes", "alignments", "mallopts", "ops", "traces", "random_trace", "hostile_numbers",
           "hostile_lines", "hostile_traces", "cli_arguments"]

#: mallopt parameters a trace may use, with glibc's numbers.
_PARAMS = ("M_MXFAST", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_THRESHOLD", "M_MMAP_MAX")


def sizes(max_size: int = 300_000) -> st.SearchStrategy[int]:
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


def mallopts() -> st.SearchStrategy[str]:
    """A mallopt line with a sane value for its parameter (names or glibc's numbers)."""
    values = {
        "M_MXFAST": st.integers(0, 160),
        "M_TRIM_THRESHOLD": st.sampled_from([0, 32, 4096, 65536, 131072, 262144]) | st.integers(0, 1 << 20),
        "M_TOP_PAD": st.sampled_from([0, 1, 4096, 65536, 131072]) | st.integers(0, 1 << 18),
        "M_MMAP_THRESHOLD": st.sampled_from([0, 4096, 65536, 131072, 1 << 20]) | st.integers(0, 1 << 20),
        "M_MMAP_MAX": st.sampled_from([0, 1, 2, 65536]),
    }
    numbers = {"M_MXFAST": 1, "M_TRIM_THRESHOLD": -1, "M_TOP_PAD": -2, "M_MMAP_THRESHOLD": -3,
               "M_MMAP_MAX": -4}
    spellings = {p: st.sampled_from([p, p[2:], str(numbers[p])]) for p in _PARAMS}
    return st.sampled_from(_PARAMS).flatmap(
        lambda p: st.tuples(spellings[p], values[p]).map(lambda t: f"o {t[0]} {t[1]}"))


@st.composite
def ops(draw, n_ids: int = 24, max_size: int = 300_000) -> str:
    """One trace line (any operation) over IDs 0..n_ids-1."""
    i = draw(st.integers(0, n_ids - 1))
    kind = draw(st.sampled_from("aaaaaaffffffrrcmwwtos"))
    if kind == "a":
        return f"a {i} {draw(sizes(max_size))}"
    if kind == "f":
        return f"f {i}"
    if kind == "r":
        return f"r {i} {draw(sizes(max_size))}"
    if kind == "c":
        n = draw(st.integers(0, 64))
        return f"c {i} {n} {draw(sizes(max_size // 64 + 1))}"
    if kind == "m":
        return f"m {i} {draw(alignments())} {draw(sizes(max_size))}"
    if kind == "w":
        return f"w {i}"
    if kind == "t":
        return f"t {draw(st.sampled_from([0, 0, 1, 4096, 65536, 131072]))}"
    if kind == "o":
        return draw(mallopts())
    return "s"


def traces(max_ops: int = 200, n_ids: int = 24, max_size: int = 300_000) -> st.SearchStrategy[str]:
    """Trace text of up to `max_ops` lines using every operation of the format."""
    return st.lists(ops(n_ids, max_size), max_size=max_ops).map(
        lambda lines: "".join(line + "\n" for line in lines))


def random_trace(n_ops: int, seed: int = 0, n_ids: int = 200, max_size: int = 300_000,
                 mallopt_rate: float = 0.002) -> str:
    """A long random trace (plain `random`, not Hypothesis), for speed and soak runs.

    >>> text = random_trace(5, seed=1)
    >>> len(text.splitlines())
    5
    """
    import random

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
    return "".join(line + "\n" for line in lines)


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
