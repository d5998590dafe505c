"""Tests of memlab.trace: the Op record, parse_trace and format_trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from memlab.errors import TraceError
import memlab.trace as trace_module
from memlab.trace import MALLOPT_PARAMS, MAX_ID, Op, Trace, format_trace, parse_trace, read_trace

DATA = Path(__file__).parent / "data"


class TestParse:
    def test_every_kind_is_read(self):
        """Each of the nine line kinds becomes the Op with its fields."""
        text = "a 1 10\nf 1\nr 2 0x20\nc 3 4 5\nm 4 64 100\nw 4\nt 0\no M_MMAP_MAX 0\ns the end\n"
        assert parse_trace(text) == (
            Op("malloc", id=1, size=10), Op("free", id=1), Op("realloc", id=2, size=32),
            Op("calloc", id=3, nmemb=4, size=5), Op("memalign", id=4, align=64, size=100),
            Op("write", id=4), Op("trim", pad=0), Op("mallopt", param=-4, value=0),
            Op("snapshot", label="the end"))

    def test_comments_blanks_and_outer_blanks_are_ignored(self):
        """Comment lines, blank lines, tabs, CRs and extra blanks do not matter."""
        assert parse_trace("# x\n\n \t\n  a\t0   1 \r\n#a 0 1\n") == (Op("malloc", id=0, size=1),)

    def test_snapshot_labels(self):
        """The label is the rest of the line without outer blanks; it may be empty or hold blanks."""
        ops = parse_trace("s\ns  two words \t\ns\t#not a comment\n")
        assert [op.label for op in ops] == ["", "two words", "#not a comment"]

    @pytest.mark.parametrize("token", ["M_TRIM_THRESHOLD", "TRIM_THRESHOLD", "-1"])
    def test_mallopt_names_and_numbers(self, token):
        """A mallopt parameter may be named with or without M_, or given by glibc's number."""
        assert parse_trace(f"o {token} 5")[0].param == MALLOPT_PARAMS["M_TRIM_THRESHOLD"]

    def test_mallopt_value_may_be_negative(self):
        """VALUE is a C int: negative values and the int limits are accepted."""
        ops = parse_trace("o MMAP_MAX -1\no 1 -0x10\no -3 2147483647\no -3 -2147483648")
        assert [op.value for op in ops] == [-1, -16, 2**31 - 1, -(2**31)]

    def test_rep_header_is_skipped(self):
        """The four integers opening a CS:APP .rep file are skipped, on one line or four."""
        ops = parse_trace((DATA / "rep_header.trace").read_text())
        assert len(ops) == 5 and ops[0] == Op("malloc", id=0, size=2040)
        assert parse_trace("20000 2 5 1\nf 0") == (Op("free", id=0),)

    def test_limits(self):
        """The largest ID and the largest size_t are accepted."""
        ops = parse_trace(f"a {MAX_ID} {2**64 - 1}\nm 0 0x8000000000000000 0")
        assert ops[0].id == MAX_ID and ops[0].size == 2**64 - 1 and ops[1].align == 2**63

    def test_bytes_are_decoded(self):
        """A trace given as bytes is read as UTF-8."""
        assert parse_trace("s caf\u00e9\n".encode()) == (Op("snapshot", label="caf\u00e9"),)


BAD = [
    ("a 0", 1, "malloc takes 2 field(s)"),
    ("a 0 1 2", 1, "malloc takes 2 field(s)"),
    ("q 1", 1, "unknown operation"),
    ("x 1", 1, "thread 1 was not created"),
    ("n 1\nT 1\nx 1\na 0 1", 4, "thread 1 has exited; a T line must name a running thread first"),
    ("n 1\nn 1", 2, "thread 1 already exists"),
    ("n 1\nT 1\nx 1\nT 0\nn 1", 5, "thread 1 already exists"),
    ("n 1\nj 1", 2, "thread 1 has not exited"),
    ("n 1\nx 1\nj 1\nj 1", 4, "thread 1 was already joined"),
    ("n 1\nx 1\nj 1\nT 1", 4, "thread 1 has exited"),
    ("j 2", 1, "thread 2 was not created"),
    ("x 0", 1, "thread 0 (the main thread) cannot exit"),
    ("T 65536", 1, "TID must be at most 65535"),
    ("a 0 1\n# cpus 2", 2, "the number of CPUs must be given before the first operation"),
    ("# cpus 2\n# cpus 3", 2, "the number of CPUs is given twice (first on line 1)"),
    ("# tls 2\n# cpus 2\n# tls 2", 3, "the number of modules with thread-local storage is given twice (first on line 1)"),
    ("# tls 65536", 1, "the number of modules with thread-local storage must be 1 to 65535"),
    ("# arch i386\n# cpus 2\n#arch i386", 3, "the architecture is given twice (first on line 1)"),
    ("s\n# arch i386", 2, "the architecture must be given before the first operation"),
    ("# arch amd64", 1, "the architecture must be one of x86-64, i386"),
    ("alloc 0 1", 1, "unknown operation"),
    ("a -1 5", 1, "ID must be a non-negative integer"),
    ("a 0 -5", 1, "SIZE must be a non-negative integer"),
    ("a 0 1.5", 1, "SIZE must be a non-negative integer"),
    ("a 0 0x", 1, "SIZE must be a non-negative integer"),
    ("a 0 0b11", 1, "SIZE must be a non-negative integer"),
    ("a 0 1_000", 1, "SIZE must be a non-negative integer"),
    ("a 0 \u0661", 1, "operation lines must be ASCII"),
    (f"a {MAX_ID + 1} 1", 1, "ID must be at most"),
    (f"a 0 {2**64}", 1, "SIZE must be below 2**64"),
    ("o M_PERTURB 1", 1, "unknown mallopt parameter"),
    ("o -6 1", 1, "unknown mallopt parameter"),
    ("o 0x1 1", 1, "unknown mallopt parameter"),
    ("o MXFAST 2147483648", 1, "VALUE must fit a C int"),
    ("t -1", 1, "PAD must be a non-negative integer"),
    ("# ok\n\na 0 1\nf", 4, "free takes 1 field(s)"),
    ("1 2 3\na 0 1", 1, "a .rep header has exactly four integers, found 3"),
    ("1 2 3 4 5\na 0 1", 1, "a .rep header has exactly four integers"),
    ("a 0 1\n5", 2, "unknown operation '5'"),
    ("a\x1c0 1", 1, "fields must be separated by blanks"),
    ("sx", 1, "unknown operation 'sx'"),
]


class TestErrors:
    @pytest.mark.parametrize("text,lineno,reason", BAD)
    def test_bad_line_names_line_number_and_line(self, text, lineno, reason):
        """A bad line raises TraceError with its number, the line, and the reason."""
        with pytest.raises(TraceError) as info:
            parse_trace(text)
        assert info.value.lineno == lineno
        assert info.value.line == text.split("\n")[lineno - 1]
        assert reason in info.value.reason
        assert f"line {lineno}: " in str(info.value)

    def test_invalid_utf8_names_its_line(self):
        """Undecodable bytes anywhere refuse the trace, naming their line."""
        with pytest.raises(TraceError) as info:
            parse_trace(b"a 0 1\n# \xff\n")
        assert info.value.lineno == 2 and info.value.reason == "not valid UTF-8"

    def test_is_a_value_error(self):
        """TraceError is a ValueError, so generic handlers catch it."""
        with pytest.raises(ValueError):
            parse_trace("bad")


class TestOp:
    @pytest.mark.parametrize("kwargs", [
        dict(kind="nope"), dict(kind="malloc", id=0), dict(kind="malloc", id=0, size=-1),
        dict(kind="free", id=0, size=1), dict(kind="free", id=True), dict(kind="snapshot"),
        dict(kind="snapshot", label=" x"), dict(kind="mallopt", param=-6, value=1),
        dict(kind="trim", pad=1, label="x"), dict(kind="calloc", id=0, nmemb=1),
    ])
    def test_bad_ops_are_refused(self, kwargs):
        """An Op with missing, extra or out-of-range fields raises ValueError."""
        with pytest.raises(ValueError):
            Op(**kwargs)

    def test_requested_size(self):
        """requested is SIZE, or NMEMB * SIZE for calloc, and None for other kinds."""
        assert Op("calloc", id=0, nmemb=3, size=7).requested == 21
        assert Op("free", id=0).requested is None

    def test_frozen(self):
        """Ops cannot be changed."""
        with pytest.raises(AttributeError):
            Op("free", id=0).id = 1


ID = st.integers(0, MAX_ID)
SIZE = st.integers(0, 2**64 - 1)
LABEL = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), max_size=12).map(
    lambda s: s.strip(" \t\r\x0b\x0c"))
OPS = st.one_of(
    st.builds(lambda i, n: Op("malloc", id=i, size=n), ID, SIZE),
    st.builds(lambda i: Op("free", id=i), ID),
    st.builds(lambda i, n: Op("realloc", id=i, size=n), ID, SIZE),
    st.builds(lambda i, a, b: Op("calloc", id=i, nmemb=a, size=b), ID, SIZE, SIZE),
    st.builds(lambda i, a, b: Op("memalign", id=i, align=a, size=b), ID, SIZE, SIZE),
    st.builds(lambda i: Op("write", id=i), ID),
    st.builds(lambda p: Op("trim", pad=p), SIZE),
    st.builds(lambda p, v: Op("mallopt", param=p, value=v), st.sampled_from(sorted(MALLOPT_PARAMS.values())),
              st.integers(-(2**31), 2**31 - 1)),
    st.builds(lambda s: Op("snapshot", label=s), LABEL),
)


class TestRoundTrip:
    @given(st.lists(OPS, max_size=30))
    @settings(max_examples=200)
    def test_format_then_parse_gives_the_same_ops(self, ops):
        """format_trace writes text that parse_trace reads back unchanged."""
        assert parse_trace(format_trace(ops)) == tuple(ops)

    def test_hex_and_names_read_back_as_numbers(self):
        """Hex sizes and mallopt names are written back in canonical form."""
        assert format_trace(parse_trace("a 0 0x10\no TOP_PAD 0")) == "a 0 16\no M_TOP_PAD 0\n"


def _respell(op: Op, how: int) -> str:
    """A line for `op` in another spelling the format allows (hex, tabs, outer blanks, leading zeros)."""
    line = str(op)
    if op.kind == "snapshot" or op.kind == "mallopt":
        return line
    letter, *numbers = line.split(" ")
    if how == 1:
        numbers = [hex(int(n)) for n in numbers]
    elif how == 2:
        numbers = ["0" + n for n in numbers]
    sep = "\t" if how == 3 else " "
    return (" " if how == 4 else "") + sep.join([letter, *numbers]) + ("\r" if how == 4 else "")


class TestColumns:
    @given(st.lists(st.tuples(OPS, st.integers(0, 6)), max_size=40), st.booleans())
    @settings(max_examples=300)
    def test_every_spelling_reads_to_the_same_entries(self, entries, header):
        """The quick reading of the usual spelling and the careful one of the others agree.

        Each line is written in one of several spellings, blank and comment lines mixed in;
        read_trace's columns give back the Ops, and Trace.from_ops builds the same columns.
        """
        ops = tuple(op for op, _ in entries)
        lines = ["1 2", "3 4"] if header else []
        for op, how in entries:
            lines.append("" if how == 5 else "# note" if how == 6 else _respell(op, how))
            if how >= 5:
                lines.append(str(op))
        text = "\n".join(lines)
        trace = read_trace(text)
        assert trace.ops() == ops == parse_trace(text)
        assert [trace[k] for k in range(len(trace))] == list(ops)
        assert trace == Trace.from_ops(ops) and trace.count == sum(op.kind != "snapshot" for op in ops)

    def test_chunks_keep_line_numbers(self, monkeypatch):
        """A trace read in many small chunks names the same line as one read whole."""
        monkeypatch.setattr(trace_module, "_CHUNK", 16)
        text = "a 0 1\n" * 50 + "# c\n\nf 0\n" * 20 + "a 1\n"
        assert read_trace(text[:-4]).kinds == "a" * 50 + "f" * 20
        with pytest.raises(TraceError) as info:
            read_trace(text)
        assert info.value.lineno == 111
        seen = []
        read_trace(text[:-4], progress=lambda done, total: seen.append((done, total)))
        assert seen and seen == sorted(seen) and seen[-1][1] == len(text) - 4

    def test_slices_and_marks(self):
        """A slice of a Trace is a Trace of those entries; marks are the `s` entries."""
        trace = read_trace("a 0 1\ns x\no MXFAST 0\nf 0\ns\n")
        part = trace[1:4]
        assert isinstance(part, Trace) and [str(op) for op in part] == ["s x", "o M_MXFAST 0", "f 0"]
        assert trace.marks() == [1, 4] and part.marks() == [0]


class TestThreadLines:
    TEXT = "n 1\nn 2\nT 1\na 0 10\nT 2\nf 0\nx 2\nT 1\nx 1\nj 1\ns\nT 0\nj 2\nn 1\n"

    def test_bulk_and_line_by_line_reading_agree(self):
        """Thread lines in the usual spelling are read in bulk; any other spelling, line by line."""
        spaced = self.TEXT.replace(" ", "  ")
        assert read_trace(self.TEXT) == read_trace(spaced) == Trace.from_ops(parse_trace(spaced))
        assert [str(op) for op in read_trace(self.TEXT)] == self.TEXT.strip().split("\n")

    @pytest.mark.parametrize("spacing", [" ", "  "])
    def test_errors_name_the_line_in_bulk_too(self, spacing):
        text = ("a 0 1\n" * 5 + "n 1\nT 1\nx 1\n" + "a 0 1\n" * 3).replace(" ", spacing)
        with pytest.raises(TraceError) as info:
            read_trace(text)
        assert (info.value.lineno, info.value.line) == (9, "a 0 1".replace(" ", spacing))
        with pytest.raises(TraceError) as info:
            read_trace(("a 0 1\n" * 3 + "T 7\n").replace(" ", spacing))
        assert (info.value.lineno, info.value.reason) == (4, "thread 7 was not created")

    def test_settings_and_threaded(self):
        trace = read_trace("# memlab record\n# cpus 4\n# tls 2\nn 1\n")
        assert (trace.cpus, trace.tls, trace.threaded) == (4, 2, True)
        assert (read_trace("a 0 1").cpus, read_trace("a 0 1").threaded) == (None, False)

    def test_the_architecture_a_trace_was_recorded_on(self):
        """`# arch NAME` is kept (and written back first); other comments about arch mean nothing."""
        trace = read_trace("# memlab record\n# arch i386\n# cpus 2\na 0 1\n# arch of the heap\n")
        assert (trace.arch, read_trace("a 0 1").arch) == ("i386", None)
        assert format_trace(trace).startswith("# arch i386\n# cpus 2\n")
        assert read_trace(format_trace(trace)) == trace != read_trace("# cpus 2\na 0 1")
        assert trace[0:1].arch == "i386"
        assert Trace.from_ops(trace, arch="x86-64").arch == "x86-64"
        with pytest.raises(ValueError, match="arch must be one of x86-64, i386"):
            Trace.from_ops([], arch="arm")
