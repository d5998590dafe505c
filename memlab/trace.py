"""Allocation traces: the `Op` record and the text format's parser and writer.

The format (one operation per line) is fixed in docs/trace-format.md and read the
same way by the C replayer in ``memlab/native/replay.c``:

    a ID SIZE          p[ID] = malloc(SIZE)
    f ID               free(p[ID])
    r ID SIZE          p[ID] = realloc(p[ID], SIZE)
    c ID NMEMB SIZE    p[ID] = calloc(NMEMB, SIZE)
    m ID ALIGN SIZE    p[ID] = memalign(ALIGN, SIZE)
    w ID               write every requested byte of p[ID]
    t PAD              malloc_trim(PAD)
    o PARAM VALUE      mallopt(PARAM, VALUE)
    s [LABEL]          snapshot

Numbers are decimal or ``0x`` hex; only a mallopt VALUE may be negative (it is
a C ``int``). Fields are separated by blanks (space, tab, CR, VT, FF).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Iterable

from memlab.errors import TraceError

__all__ = [
    "Op",
    "KINDS",
    "MALLOPT_PARAMS",
    "MAX_ID",
    "parse_trace",
    "format_trace",
]

#: Operation kinds, keyed by their trace letter.
KINDS: dict[str, str] = {
    "a": "malloc",
    "f": "free",
    "r": "realloc",
    "c": "calloc",
    "m": "memalign",
    "w": "write",
    "t": "trim",
    "o": "mallopt",
    "s": "snapshot",
}
_LETTER = {kind: letter for letter, kind in KINDS.items()}

#: The mallopt parameters a trace may set, with glibc's numbers for them.
MALLOPT_PARAMS: dict[str, int] = {
    "M_MXFAST": 1,
    "M_TRIM_THRESHOLD": -1,
    "M_TOP_PAD": -2,
    "M_MMAP_THRESHOLD": -3,
    "M_MMAP_MAX": -4,
}
_PARAM_NAME = {number: name for name, number in MALLOPT_PARAMS.items()}
_PARAM_BY_TOKEN = {**MALLOPT_PARAMS, **{n[2:]: v for n, v in MALLOPT_PARAMS.items()}}
_PARAM_BY_TOKEN.update({str(v): v for v in MALLOPT_PARAMS.values()})

#: Largest ID a trace may use (a C unsigned 32-bit integer).
MAX_ID = 2**32 - 1
_SIZE_LIMIT = 2**64  # SIZE, NMEMB, ALIGN and PAD are size_t
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_BLANKS = " \t\r\x0b\x0c"
# str.split() also splits at these ASCII characters; the format does not.
_NOT_BLANKS = frozenset("\x1c\x1d\x1e\x1f")
_FIELDS = {  # kind -> names of its numeric fields, in line order
    "malloc": ("id", "size"),
    "free": ("id",),
    "realloc": ("id", "size"),
    "calloc": ("id", "nmemb", "size"),
    "memalign": ("id", "align", "size"),
    "write": ("id",),
    "trim": ("pad",),
    "mallopt": ("param", "value"),
    "snapshot": (),
}
_ALL_NUMERIC = ("id", "size", "nmemb", "align", "pad", "param", "value")
_QUICK = frozenset(("malloc", "realloc", "free", "write"))
_SIZED = frozenset(("malloc", "realloc"))
_LOW = {"id": 0, "size": 0, "nmemb": 0, "align": 0, "pad": 0, "param": -4, "value": _INT_MIN}
_HIGH = {"id": MAX_ID, "size": _SIZE_LIMIT - 1, "nmemb": _SIZE_LIMIT - 1, "align": _SIZE_LIMIT - 1,
         "pad": _SIZE_LIMIT - 1, "param": 1, "value": _INT_MAX}


@dataclass(frozen=True, slots=True)
class Op:
    """One trace operation; fields that the kind does not use are None.

    >>> op = Op("calloc", id=3, nmemb=4, size=10)
    >>> str(op), op.requested
    ('c 3 4 10', 40)
    >>> str(Op("mallopt", param=-3, value=4096))
    'o M_MMAP_THRESHOLD 4096'
    """

    kind: str
    id: int | None = None
    size: int | None = None
    nmemb: int | None = None
    align: int | None = None
    pad: int | None = None
    param: int | None = None
    value: int | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        # Quick acceptance of the common heap calls; everything else is checked in detail.
        if (self.kind in _QUICK and type(self.id) is int and 0 <= self.id <= MAX_ID
                and (type(self.size) is int and 0 <= self.size < _SIZE_LIMIT) is (self.kind in _SIZED)
                and self.nmemb is None and self.align is None and self.pad is None
                and self.param is None and self.value is None and self.label is None
                and (self.size is None or self.kind in _SIZED)):
            return
        self._check()

    def _check(self) -> None:
        fields = _FIELDS.get(self.kind)
        if fields is None:
            raise ValueError(f"unknown operation kind {self.kind!r}; expected one of {sorted(_LETTER)}")
        used = 0
        for name in fields:
            v = getattr(self, name)
            if type(v) is not int or not _LOW[name] <= v <= _HIGH[name]:
                raise ValueError(f"{self.kind} needs an integer {name} in {_LOW[name]}..{_HIGH[name]} (got {v!r})")
            used += 1
        if self.kind == "mallopt" and self.param not in _PARAM_NAME:
            raise ValueError(f"unknown mallopt parameter {self.param}; expected one of {sorted(_PARAM_NAME)}")
        present = sum(getattr(self, n) is not None for n in _ALL_NUMERIC)
        if present != used:
            extra = [n for n in _ALL_NUMERIC if n not in fields and getattr(self, n) is not None]
            raise ValueError(f"{self.kind} takes no {', '.join(extra)}")
        if self.kind == "snapshot":
            if not isinstance(self.label, str) or "\n" in self.label or self.label != self.label.strip(_BLANKS):
                raise ValueError(f"snapshot label must be a one-line str without outer blanks (got {self.label!r})")
        elif self.label is not None:
            raise ValueError(f"{self.kind} takes no label (got {self.label!r})")

    @property
    def letter(self) -> str:
        """The trace letter of this kind.

        >>> Op("free", id=0).letter
        'f'
        """
        return _LETTER[self.kind]

    @property
    def requested(self) -> int | None:
        """Bytes the call asks for (calloc: NMEMB * SIZE), or None for other kinds.

        >>> Op("memalign", id=0, align=64, size=100).requested
        100
        """
        if self.kind == "calloc":
            return self.nmemb * self.size
        if self.kind in ("malloc", "realloc", "memalign"):
            return self.size
        return None

    def __str__(self) -> str:
        kind = self.kind
        if kind == "snapshot":
            return f"s {self.label}" if self.label else "s"
        if kind == "mallopt":
            return f"o {_PARAM_NAME[self.param]} {self.value}"
        return " ".join([_LETTER[kind], *(str(getattr(self, n)) for n in _FIELDS[kind])])


_DIGITS = 40            # digits beyond every field's range (2**64 has 20)
_TOO_BIG = 1 << 256     # what a longer number reads as: out of every range


def _number(token: str, lineno: int, line: str, name: str, *, signed: bool = False) -> int:
    """Read one number field: decimal or 0x hex (a leading '-' only if signed)."""
    body = token[1:] if signed and token[:1] == "-" else token
    if body.isascii():
        # more digits than any field can hold read as a value every range check refuses
        # (and stay clear of int()'s limit on long decimal strings)
        if body.isdigit():
            digits = body.lstrip("0") or "0"
            n = int(digits) if len(digits) <= _DIGITS else _TOO_BIG
        elif body[:2] in ("0x", "0X") and len(body) > 2 and all(c in "0123456789abcdefABCDEF" for c in body[2:]):
            digits = body[2:].lstrip("0") or "0"
            n = int(digits, 16) if len(digits) <= _DIGITS else _TOO_BIG
        else:
            n = None
        if n is not None:
            return -n if body is not token else n
    kind = "an integer" if signed else "a non-negative integer"
    raise TraceError(lineno, line, f"{name} must be {kind} (decimal or 0x hex), not {token!r}")


_new = object.__new__
_SLOT_SETTERS = tuple(getattr(Op, name).__set__ for name in (
    "kind", "id", "size", "nmemb", "align", "pad", "param", "value", "label"))


def _fast_op(fields: list[str]) -> Op | None:
    """The common case, all-decimal fields of a heap call, quickly; None otherwise."""
    n = len(fields)
    letter = fields[0]
    try:
        if n == 3 and letter in ("a", "r") and fields[1].isdigit() and fields[2].isdigit():
            return Op(KINDS[letter], int(fields[1]), int(fields[2]))
        if n == 2 and letter in ("f", "w") and fields[1].isdigit():
            return Op(KINDS[letter], int(fields[1]))
    except ValueError:  # out of range: let the careful path word the error
        return None
    return None


def _parse_op(fields: list[str], lineno: int, line: str) -> Op:
    """Build the Op of one operation line already split into fields."""
    letter = fields[0]
    kind = KINDS.get(letter)
    if kind is None or kind == "snapshot":
        raise TraceError(lineno, line, f"unknown operation {letter!r}; expected one of a f r c m w t o s")
    names = _FIELDS[kind]
    if len(fields) != len(names) + 1:
        usage = " ".join([letter, *(n.upper() for n in names)])
        raise TraceError(lineno, line, f"{kind} takes {len(names)} field(s): {usage}")
    values = {}
    for name, token in zip(names, fields[1:]):
        if name == "param":
            param = _PARAM_BY_TOKEN.get(token)
            if param is None:
                raise TraceError(lineno, line, f"unknown mallopt parameter {token!r}; expected one of "
                                 + ", ".join(MALLOPT_PARAMS) + " (the M_ may be left off) or glibc's number")
            values[name] = param
            continue
        n = _number(token, lineno, line, name.upper(), signed=name == "value")
        if name == "id" and n > MAX_ID:
            raise TraceError(lineno, line, f"ID must be at most {MAX_ID}")
        if name == "value" and not _INT_MIN <= n <= _INT_MAX:
            raise TraceError(lineno, line, "VALUE must fit a C int (-2147483648..2147483647)")
        if n >= _SIZE_LIMIT:
            raise TraceError(lineno, line, f"{name.upper()} must be below 2**64")
        values[name] = n
    return Op(kind, **values)


def parse_trace(text: str | bytes) -> tuple[Op, ...]:
    """Parse a whole trace; the first bad line raises TraceError and nothing is returned.

    >>> ops = parse_trace("# demo\\na 0 0x10\\ns after one\\nf 0\\n")
    >>> [str(op) for op in ops]
    ['a 0 16', 's after one', 'f 0']
    >>> parse_trace("a 0")
    Traceback (most recent call last):
    ...
    memlab.errors.TraceError: line 1: malloc takes 2 field(s): a ID SIZE: 'a 0'
    """
    if isinstance(text, (bytes, bytearray)):
        text = _decode(bytes(text))
    # Millions of new objects would set off the cyclic garbage collector again and
    # again; none of them can form a cycle, so it is paused while parsing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse(text)
    finally:
        if collecting:
            gc.enable()


def _parse(text: str) -> tuple[Op, ...]:
    """parse_trace's loop, on decoded text."""
    ops: list[Op] = []
    append = ops.append
    seen: dict[str, Op | None] = {}  # line -> its Op (None for blanks and comments)
    get = seen.get
    header = 0  # integers of a .rep header seen so far
    header_line = (0, "")
    in_header = True
    missing = object()
    new = _new
    set_kind, set_id, set_size, set_nmemb, set_align, set_pad, set_param, set_value, set_label \
        = _SLOT_SETTERS
    malloc, realloc, free, write = KINDS["a"], KINDS["r"], KINDS["f"], KINDS["w"]
    for lineno, line in enumerate(text.split("\n"), 1):
        op = get(line, missing)
        if op is not missing:
            if op is not None:
                append(op)
            continue
        if not in_header:  # the usual a/r/f/w line, decimal, single spaces: quickly
            # (the Op is built in place, without a call: digit counts keep ID below
            # 10**9 and SIZE below 10**19, so both are in range)
            parts = line.split(" ")
            n = len(parts)
            kind = None
            if n == 3:
                letter, first, second = parts
                if second.isdigit() and len(second) < 20:
                    kind = malloc if letter == "a" else realloc if letter == "r" else None
            elif n == 2:
                letter, first = parts
                kind = free if letter == "f" else write if letter == "w" else None
            if kind is not None and first.isdigit() and line.isascii() and len(first) < 10:
                op = new(Op)
                set_kind(op, kind)
                set_id(op, int(first))
                set_size(op, int(second) if n == 3 else None)   # (ASCII digits: checked)
                set_nmemb(op, None)
                set_align(op, None)
                set_pad(op, None)
                set_param(op, None)
                set_value(op, None)
                set_label(op, None)
                seen[line] = op
                append(op)
                continue
        body = line.strip(_BLANKS)
        if not body or body[0] == "#":
            seen[line] = None
            continue
        is_snapshot = body[0] == "s" and (len(body) == 1 or body[1] in _BLANKS)
        if not is_snapshot:
            if not body.isascii():
                raise TraceError(lineno, line, "operation lines must be ASCII")
            if _NOT_BLANKS.intersection(body):
                raise TraceError(lineno, line, "fields must be separated by blanks (space or tab)")
            fields = body.split()
            if in_header and all(f.isdigit() for f in fields):
                header += len(fields)
                header_line = (lineno, line)
                if header > 4:
                    raise TraceError(lineno, line, "a .rep header has exactly four integers")
                continue
        if in_header:
            if header not in (0, 4):
                raise TraceError(*header_line, f"a .rep header has exactly four integers, found {header}")
            in_header = False
        if is_snapshot:
            op = Op("snapshot", label=body[1:].strip(_BLANKS))
        else:
            op = _fast_op(fields) or _parse_op(fields, lineno, line)
        seen[line] = op
        append(op)
    if in_header and header not in (0, 4):
        raise TraceError(*header_line, f"a .rep header has exactly four integers, found {header}")
    return tuple(ops)


def _decode(data: bytes) -> str:
    """Decode UTF-8, naming the line of the first undecodable byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = data.count(b"\n", 0, e.start) + 1
        start = data.rfind(b"\n", 0, e.start) + 1
        end = data.find(b"\n", e.start)
        line = data[start:end if end >= 0 else len(data)].decode("utf-8", "replace")
        raise TraceError(lineno, line, "not valid UTF-8") from None


def format_trace(ops: Iterable[Op]) -> str:
    """Write operations as trace text, one line each, ending in a newline.

    >>> format_trace([Op("malloc", id=0, size=1), Op("snapshot", label="first")])
    'a 0 1\\ns first\\n'
    >>> parse_trace(format_trace(parse_trace("o MMAP_MAX -1"))) == parse_trace("o -4 -1")
    True
    """
    return "".join(f"{op}\n" for op in ops)
