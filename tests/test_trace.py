"""Tests of memlab.trace: the Op record, parse_trace and format_trace."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from memlab.errors import TraceError
from memlab.trace import MALLOPT_PARAMS, MAX_ID, Op, format_trace, parse_trace

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
    ("x 1", 1, "unknown operation"),
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


def test_repeated_lines_share_one_op():
    """Identical lines are parsed once (the parser's cache): equal and identical Ops."""
    ops = parse_trace("a 0 8\nf 0\n" * 3)
    assert ops[0] is ops[2] is ops[4] and ops[1] is ops[3]
