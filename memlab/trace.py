"""Allocation traces: the `Op` record, the compact `Trace`, and the text format's parser and writer.

The format (one operation per line) is fixed in docs/trace-format.md and read the
same way by the C replayer in ``memlab/native/replay.c``:

    a ID SIZE          p[ID] = malloc(SIZE)
    f ID               free(p[ID])
    r ID SIZE          p[ID] = realloc(p[ID], SIZE)
    c ID NMEMB SIZE    p[ID] = calloc(NMEMB, SIZE)
    m ID ALIGN SIZE    p[ID] = memalign(ALIGN, SIZE)
    w ID               write every requested byte of p[ID]
    p SRC OFFSET [DST [DST_OFFSET]]
                       store a pointer (p[DST] + DST_OFFSET, or NULL) at p[SRC] + OFFSET;
                       SRC g is the program's global roots
    t PAD              malloc_trim(PAD)
    o PARAM VALUE      mallopt(PARAM, VALUE)
    s [LABEL]          snapshot
    T TID              the following operations run on thread TID
    n TID              the current thread creates thread TID (pthread_create)
    x TID              thread TID exits
    j TID              the current thread joins thread TID, which has exited

Numbers are decimal or ``0x`` hex; only a mallopt VALUE may be negative (it is
a C ``int``). Fields are separated by blanks (space, tab, CR, VT, FF). Thread 0,
the main thread, runs at the start. Comments before the first operation may give the
number of CPUs the arena limit is computed from (``# cpus N``), the number of modules
with thread-local storage, which sizes each thread's DTV (``# tls M``), and the architecture
the trace was recorded on (``# arch i386``).
"""

from __future__ import annotations

import gc
import json
import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Callable, Iterable

from memlab.errors import TraceError
from memlab.glibc import mallopt
from memlab.glibc.arch import ARCHES

__all__ = [
    "Op",
    "KINDS",
    "MALLOPT_PARAMS",
    "MAX_ID",
    "ROOTS",
    "ROOT",
    "MAX_TID",
    "THREAD_KINDS",
    "Trace",
    "read_trace",
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
    "p": "store",
    "t": "trim",
    "o": "mallopt",
    "s": "snapshot",
    "T": "switch",
    "n": "create",
    "x": "exit",
    "j": "join",
}
#: The kinds of the thread lines.
THREAD_KINDS = frozenset(("switch", "create", "exit", "join"))
_LETTER = {kind: letter for letter, kind in KINDS.items()}

#: The mallopt parameters a trace may set, with glibc's numbers for them.
MALLOPT_PARAMS: dict[str, int] = {
    name: mallopt.MALLOPT_PARAMS[name]
    for name in ("M_MXFAST", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_THRESHOLD", "M_MMAP_MAX",
                 "M_ARENA_TEST", "M_ARENA_MAX")
}
_PARAM_NAME = {number: name for name, number in MALLOPT_PARAMS.items()}
_PARAM_BY_TOKEN = {**MALLOPT_PARAMS, **{n[2:]: v for n, v in MALLOPT_PARAMS.items()}}
_PARAM_BY_TOKEN.update({str(v): v for v in MALLOPT_PARAMS.values()})

#: Largest ID a trace may use (a C unsigned 32-bit integer).
MAX_ID = 2**32 - 1
#: Pointer slots in the program's global roots (`p g OFFSET ...`: OFFSET below 8 * ROOTS).
ROOTS = 4096
#: The SRC token that names the global roots instead of a block.
ROOT = "g"
_POINTER = 8            # bytes in a pointer, and its alignment
#: Largest thread number a trace may use.
MAX_TID = 2**16 - 1
#: Most CPUs a ``# cpus N`` line may give.
MAX_CPUS = 2**16
#: Most modules with thread-local storage a ``# tls M`` line may give.
MAX_TLS = 2**16 - 1
# the settings a header comment may give: word -> (what it is, largest value)
_SETTINGS = {"cpus": ("the number of CPUs", MAX_CPUS),
             "tls": ("the number of modules with thread-local storage", MAX_TLS)}
#: What an ``# arch NAME`` line is called in errors (NAME is one of memlab.glibc.arch.ARCHES).
_ARCH_SETTING = "the architecture"
_SIZE_LIMIT = 2**64  # SIZE, NMEMB, ALIGN and PAD are size_t
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_BLANKS = " \t\r\x0b\x0c"
# str.split() also splits at these ASCII characters; the format does not.
_NOT_BLANKS = frozenset("\x1c\x1d\x1e\x1f")
_BLANK_RUNS = re.compile("[ \t\r\x0b\x0c]+")
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
    "store": ("id", "offset", "target", "target_offset"),
    "switch": ("tid",),
    "create": ("tid",),
    "exit": ("tid",),
    "join": ("tid",),
}
_ALL_NUMERIC = ("id", "size", "nmemb", "align", "pad", "param", "value", "offset", "target", "target_offset",
                "tid")
_QUICK = frozenset(("malloc", "realloc", "free", "write"))
_SIZED = frozenset(("malloc", "realloc"))
_LOW = {"id": 0, "size": 0, "nmemb": 0, "align": 0, "pad": 0, "param": -8, "value": _INT_MIN,
        "offset": 0, "target": 0, "target_offset": 0, "tid": 0}
_HIGH = {"id": MAX_ID, "size": _SIZE_LIMIT - 1, "nmemb": _SIZE_LIMIT - 1, "align": _SIZE_LIMIT - 1,
         "pad": _SIZE_LIMIT - 1, "param": 1, "value": _INT_MAX, "offset": _SIZE_LIMIT - 1,
         "target": MAX_ID, "target_offset": _SIZE_LIMIT - 1, "tid": MAX_TID}


@dataclass(frozen=True, slots=True)
class Op:
    """One trace operation; fields that the kind does not use are None.

    >>> op = Op("calloc", id=3, nmemb=4, size=10)
    >>> str(op), op.requested
    ('c 3 4 10', 40)
    >>> str(Op("mallopt", param=-3, value=4096))
    'o M_MMAP_THRESHOLD 4096'

    A pointer store (`p`): `id` is the block written (None: the global roots), `offset` the
    slot's byte offset in it, `target` the block pointed to (None: NULL is stored) and
    `target_offset` how far into that block the pointer points (0: its start).

    >>> str(Op("store", offset=8, target=3)), str(Op("store", id=1, offset=0, target=2, target_offset=16))
    ('p g 8 3', 'p 1 0 2 16')
    >>> str(Op("create", tid=1)), str(Op("switch", tid=1))
    ('n 1', 'T 1')
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
    offset: int | None = None
    target: int | None = None
    target_offset: int | None = None
    tid: int | None = None

    def __post_init__(self) -> None:
        # Quick acceptance of the common heap calls; everything else is checked in detail.
        if (self.kind in _QUICK and type(self.id) is int and 0 <= self.id <= MAX_ID
                and (type(self.size) is int and 0 <= self.size < _SIZE_LIMIT) is (self.kind in _SIZED)
                and self.nmemb is None and self.align is None and self.pad is None
                and self.param is None and self.value is None and self.label is None
                and self.offset is None and self.target is None and self.target_offset is None
                and self.tid is None
                and (self.size is None or self.kind in _SIZED)):
            return
        self._check()

    def _check(self) -> None:
        if self.kind == "store":
            self._check_store()
            return
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

    def _check_store(self) -> None:
        def whole(name: str, low: int, high: int) -> None:
            v = getattr(self, name)
            if type(v) is not int or not low <= v <= high:
                raise ValueError(f"store needs an integer {name} in {low}..{high} (got {v!r})")

        if self.id is not None:
            whole("id", 0, MAX_ID)
        whole("offset", 0, _SIZE_LIMIT - 1 if self.id is not None else _POINTER * ROOTS - 1)
        if self.offset % _POINTER:
            raise ValueError(f"store needs an offset that is a multiple of {_POINTER} (got {self.offset})")
        if self.target is None:
            if self.target_offset is not None:
                raise ValueError("a store of NULL (target None) takes no target_offset")
        else:
            whole("target", 0, MAX_ID)
            if self.target_offset is None:
                object.__setattr__(self, "target_offset", 0)
            whole("target_offset", 0, _SIZE_LIMIT - 1)
        extra = [n for n in ("size", "nmemb", "align", "pad", "param", "value", "label") if getattr(self, n) is not None]
        if extra:
            raise ValueError(f"store takes no {', '.join(extra)}")

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
        if kind == "store":
            words = ["p", ROOT if self.id is None else str(self.id), str(self.offset)]
            if self.target is not None:
                words.append(str(self.target))
                if self.target_offset:
                    words.append(str(self.target_offset))
            return " ".join(words)
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


_STORE_USAGE = "store takes 2 to 4 field(s): p SRC OFFSET [DST [DST_OFFSET]]"


def _parse_store(fields: list[str], lineno: int, line: str) -> Op:
    """Build the Op of a `p` line already split into fields."""
    if not 3 <= len(fields) <= 5:
        raise TraceError(lineno, line, _STORE_USAGE)
    src, offset = fields[1], fields[2]
    ident = None
    if src != ROOT:
        if not (src.isascii() and (src.isdigit() or (src[:2] in ("0x", "0X") and len(src) > 2
                                                        and all(c in "0123456789abcdefABCDEF" for c in src[2:])))):
            raise TraceError(lineno, line, f"SRC must be an ID (decimal or 0x hex) or {ROOT}, not {src!r}")
        ident = _number(src, lineno, line, "SRC")
        if ident > MAX_ID:
            raise TraceError(lineno, line, f"SRC must be at most {MAX_ID}")
    where = _number(offset, lineno, line, "OFFSET")
    if where >= _SIZE_LIMIT:
        raise TraceError(lineno, line, "OFFSET must be below 2**64")
    if where % _POINTER:
        raise TraceError(lineno, line, f"OFFSET must be a multiple of {_POINTER}")
    if ident is None and where >= _POINTER * ROOTS:
        raise TraceError(lineno, line, f"OFFSET of a global root must be below {_POINTER * ROOTS}")
    target = target_offset = None
    if len(fields) > 3:
        target = _number(fields[3], lineno, line, "DST")
        if target > MAX_ID:
            raise TraceError(lineno, line, f"DST must be at most {MAX_ID}")
        target_offset = 0
        if len(fields) > 4:
            target_offset = _number(fields[4], lineno, line, "DST_OFFSET")
            if target_offset >= _SIZE_LIMIT:
                raise TraceError(lineno, line, "DST_OFFSET must be below 2**64")
    return Op("store", id=ident, offset=where, target=target, target_offset=target_offset)


def _parse_op(fields: list[str], lineno: int, line: str) -> Op:
    """Build the Op of one operation line already split into fields."""
    letter = fields[0]
    kind = KINDS.get(letter)
    if kind is None or kind == "snapshot":
        raise TraceError(lineno, line, f"unknown operation {letter!r}; expected one of a f r c m w p t o s T n x j")
    if kind == "store":
        return _parse_store(fields, lineno, line)
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
        if name == "tid" and n > MAX_TID:
            raise TraceError(lineno, line, f"TID must be at most {MAX_TID}")
        if name == "value" and not _INT_MIN <= n <= _INT_MAX:
            raise TraceError(lineno, line, "VALUE must fit a C int (-2147483648..2147483647)")
        if n >= _SIZE_LIMIT:
            raise TraceError(lineno, line, f"{name.upper()} must be below 2**64")
        values[name] = n
    return Op(kind, **values)


# A heap call in its usual spelling: decimal numbers without leading zeros, single spaces,
# nothing around (9 digits keep an ID below 2**32, 19 keep a number below 2**64). This
# pattern finds the lines NOT so spelled; `_Reader.line`, the grammar's one definition,
# reads those, and the usual lines between them are read in bulk.
_ID = r"(?:0|[1-9][0-9]{0,8})"
_NUMBER = r"(?:0|[1-9][0-9]{0,18})"
_UNUSUAL = re.compile(rf"^(?![ar] {_ID} {_NUMBER}$|[fwTnxj] {_ID}$|[cm] {_ID} {_NUMBER} {_NUMBER}$)",
                      re.MULTILINE)
_AS_JSON = [("\n" + letter + ",", f"],[{ord(letter)},") for letter in "afrwcmTnxj"]
_THREAD_LETTERS = re.compile("[Tnxj]")
_TWO_NUMBERS = re.compile("[cm]")
_CHUNK = 1 << 20       # characters read by one regular-expression pass (about 100,000 lines)
_COLUMN_KINDS = "afrwcm"     # kinds kept in the columns alone; the others keep their Op
_SIZED_LETTERS = "arcm"
_SLOT_SETTERS = tuple(getattr(Op, name).__set__ for name in (
    "kind", "id", "size", "nmemb", "align", "pad", "param", "value", "label", "offset", "target",
    "target_offset", "tid"))


class _Threads:
    """The threads of a trace as its lines run: checks each thread line and each operation's thread.

    >>> t = _Threads(); t.step("create", 1, 1, "n 1"); t.step("switch", 1, 2, "T 1"); t.current
    1
    >>> t.step("exit", 1, 3, "x 1"); t.step("malloc", None, 4, "a 0 1")
    Traceback (most recent call last):
    ...
    memlab.errors.TraceError: line 4: thread 1 has exited; a T line must name a running thread first: 'a 0 1'
    """

    __slots__ = ("current", "running", "alive", "exited", "joined")

    def __init__(self) -> None:
        self.current = 0            # the thread the next operation runs on
        self.running = True         # False once the current thread has exited
        self.alive = {0}            # created (thread 0 at the start) and not exited
        self.exited: set[int] = set()   # exited, not joined
        self.joined: set[int] = set()   # exited and joined (the TID may be created again)

    def step(self, kind: str, tid: int | None, lineno: int, line: str) -> None:
        """Run the checks and the state change of one operation line."""
        if kind == "switch":
            self._known(tid, lineno, line)
            self.current, self.running = tid, True
        elif kind == "exit":
            self._known(tid, lineno, line)
            if tid == 0:
                raise TraceError(lineno, line, "thread 0 (the main thread) cannot exit; the trace ends where the process does")
            self.alive.discard(tid)
            self.exited.add(tid)
            if tid == self.current:
                self.running = False
        elif kind == "join":
            if tid not in self.exited:
                raise TraceError(lineno, line, f"thread {tid} has not exited" if tid in self.alive else
                                 f"thread {tid} was already joined" if tid in self.joined else
                                 f"thread {tid} was not created")
            self.exited.discard(tid)
            self.joined.add(tid)
        else:
            if not self.running:
                self.refuse_exited(lineno, line)
            if kind == "create":
                if tid in self.alive or tid in self.exited:
                    raise TraceError(lineno, line, f"thread {tid} already exists")
                self.alive.add(tid)
                self.joined.discard(tid)

    def refuse_exited(self, lineno: int, line: str) -> None:
        raise TraceError(lineno, line,
                         f"thread {self.current} has exited; a T line must name a running thread first")

    def _known(self, tid: int, lineno: int, line: str) -> None:
        if tid not in self.alive:
            raise TraceError(lineno, line, f"thread {tid} has exited" if tid in self.exited or tid in self.joined
                             else f"thread {tid} was not created")


class Trace(Sequence):
    """A parsed trace in compact columns: one entry per operation or `s` line, in file order.

    ``kinds`` holds one trace letter per entry; ``ids``, ``sizes`` and ``args`` (NMEMB of
    calloc, ALIGN of memalign) are integer arrays, 0 where the kind has no such field; the
    entries of the rare kinds (p, t, o, s and the thread lines T, n, x, j) keep their `Op` in ``rare``;
    ``cpus``, ``tls`` and ``arch`` are what ``# cpus N``, ``# tls M`` and ``# arch NAME`` lines gave,
    else None. Indexing gives `Op` records, so a Trace stands wherever a sequence of them is expected.

    >>> t = read_trace("a 0 16\\nc 1 4 10\\ns half\\nf 0")
    >>> t.kinds, list(t.ids), list(t.sizes), list(t.args), len(t), t.count
    ('acsf', [0, 1, 0, 0], [16, 10, 0, 0], [0, 4, 0, 0], 4, 3)
    >>> str(t[1]), t[2].label, [str(op) for op in t[2:]]
    ('c 1 4 10', 'half', ['s half', 'f 0'])
    """

    __slots__ = ("kinds", "ids", "sizes", "args", "rare", "cpus", "tls", "arch", "_ops")

    def __init__(self, kinds: str = "", ids: array | None = None, sizes: array | None = None,
                 args: array | None = None, rare: dict[int, Op] | None = None, cpus: int | None = None,
                 tls: int | None = None, arch: str | None = None) -> None:
        self.kinds = kinds
        self.ids = array("I") if ids is None else ids
        self.sizes = array("Q") if sizes is None else sizes
        self.args = array("Q") if args is None else args
        self.rare = {} if rare is None else rare
        self.cpus = cpus
        self.tls = tls
        self.arch = arch
        self._ops: tuple[Op, ...] | None = None

    @classmethod
    def from_ops(cls, ops: Iterable[Op], cpus: int | None = None, tls: int | None = None,
                 arch: str | None = None) -> Trace:
        """The columns of a sequence of Op records (entry k checked as line k + 1 would be).

        >>> Trace.from_ops([Op("malloc", id=3, size=8), Op("trim", pad=0)]).kinds
        'at'
        >>> Trace.from_ops([Op("switch", tid=2)])
        Traceback (most recent call last):
        ...
        memlab.errors.TraceError: line 1: thread 2 was not created: 'T 2'
        """
        if cpus is not None and (type(cpus) is not int or not 1 <= cpus <= MAX_CPUS):
            raise ValueError(f"cpus must be an integer in 1..{MAX_CPUS} (got {cpus!r})")
        if tls is not None and (type(tls) is not int or not 1 <= tls <= MAX_TLS):
            raise ValueError(f"tls must be an integer in 1..{MAX_TLS} (got {tls!r})")
        if arch is not None and arch not in ARCHES:
            raise ValueError(f"arch must be one of {', '.join(ARCHES)} (got {arch!r})")
        kinds, ids, sizes, args, rare = [], array("I"), array("Q"), array("Q"), {}
        threads = None
        for k, op in enumerate(ops):
            if not isinstance(op, Op):
                raise TypeError(f"a trace is a sequence of Op records, not {type(op).__name__}: {op!r}")
            letter = _LETTER[op.kind]
            if threads is None and op.kind in THREAD_KINDS:
                threads = _Threads()
            if threads is not None and letter != "s":
                threads.step(op.kind, op.tid, k + 1, str(op))
            kinds.append(letter)
            if letter in _COLUMN_KINDS:
                ids.append(op.id)
                sizes.append(op.size or 0)
                args.append(op.nmemb or op.align or 0)
            else:
                ids.append(0)
                sizes.append(0)
                args.append(0)
                rare[k] = op
        trace = cls("".join(kinds), ids, sizes, args, rare, cpus, tls, arch)
        trace._ops = tuple(ops) if isinstance(ops, tuple) else None
        return trace

    @property
    def count(self) -> int:
        """Operations in the trace (`s` lines are not operations)."""
        return len(self.kinds) - self.kinds.count("s")

    def __len__(self) -> int:
        return len(self.kinds)

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self.kinds))
            if step != 1:
                return tuple(self.op(k) for k in range(start, stop, step))
            return Trace(self.kinds[start:stop], self.ids[start:stop], self.sizes[start:stop],
                         self.args[start:stop],
                         {k - start: op for k, op in self.rare.items() if start <= k < stop}, self.cpus, self.tls,
                         self.arch)
        n = len(self.kinds)
        if not -n <= i < n:
            raise IndexError("trace index out of range")
        return self.op(i % n)

    def __iter__(self):
        return iter(self.ops())

    def __eq__(self, other) -> bool:
        if isinstance(other, Trace):
            return (self.kinds, self.ids, self.sizes, self.args, self.rare, self.cpus, self.tls, self.arch) == \
                   (other.kinds, other.ids, other.sizes, other.args, other.rare, other.cpus, other.tls, other.arch)
        return isinstance(other, Sequence) and self.ops() == tuple(other)

    __hash__ = None

    def __repr__(self) -> str:
        return f"<Trace of {len(self.kinds):,} entries>"

    def op(self, k: int) -> Op:
        """Entry `k` as an Op record (built on each call, except for p, t, o and s entries)."""
        letter = self.kinds[k]
        if letter not in _COLUMN_KINDS:
            return self.rare[k]
        kind = KINDS[letter]
        if letter == "c":
            return Op(kind, self.ids[k], size=self.sizes[k], nmemb=self.args[k])
        if letter == "m":
            return Op(kind, self.ids[k], size=self.sizes[k], align=self.args[k])
        return Op(kind, self.ids[k], self.sizes[k] if letter in "ar" else None)

    def ops(self) -> tuple[Op, ...]:
        """Every entry as an Op record (made once, then kept; equal entries share one Op).

        The columns were checked when read, so the records are made without `Op`'s checks.
        """
        if self._ops is None:
            new, (set_kind, set_id, set_size, set_nmemb, set_align, *others) = object.__new__, _SLOT_SETTERS
            rare, shared, out = self.rare, {}, []
            append, get = out.append, shared.get
            for k, letter, ident, size, arg in zip(range(len(self.kinds)), self.kinds, self.ids, self.sizes,
                                                   self.args):
                if letter not in _COLUMN_KINDS:
                    append(rare[k])
                    continue
                key = (letter, ident, size, arg)
                op = get(key)
                if op is None:
                    op = shared[key] = new(Op)
                    set_kind(op, KINDS[letter])
                    set_id(op, ident)
                    set_size(op, size if letter in _SIZED_LETTERS else None)
                    set_nmemb(op, arg if letter == "c" else None)
                    set_align(op, arg if letter == "m" else None)
                    for setter in others:         # pad, param, value, label, tid, and a store's fields
                        setter(op, None)
                append(op)
            self._ops = tuple(out)
        return self._ops

    @property
    def threaded(self) -> bool:
        """True if the trace has thread lines (T, n, x or j).

        >>> read_trace("a 0 1").threaded, read_trace("n 1\\nT 1\\na 0 1").threaded
        (False, True)
        """
        kinds = self.kinds
        return "T" in kinds or "n" in kinds or "x" in kinds or "j" in kinds

    def marks(self) -> list[int]:
        """Indices of the `s` entries, in order.

        >>> read_trace("s\\na 0 1\\ns\\ns").marks()
        [0, 2, 3]
        """
        kinds, marks = self.kinds, []
        k = kinds.find("s")
        while k >= 0:
            marks.append(k)
            k = kinds.find("s", k + 1)
        return marks


class _Reader:
    """Reads trace text into a Trace's columns, one chunk of lines at a time."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.ids, self.sizes, self.args = array("I"), array("Q"), array("Q")
        self.rare: dict[int, Op] = {}
        self.lineno = 0                     # lines read so far
        self.header = 0                     # integers of a .rep header seen so far
        self.header_line = (0, "")
        self.in_header = True
        self.threads: _Threads | None = None     # made at the first thread line
        self.settings: dict[str, tuple[int | str, int]] = {}   # word -> (value, line number)
        self.shared: dict[tuple[str, int], Op] = {}    # one Op per thread line spelling

    def chunk(self, text: str) -> None:
        """Read whole lines (the text between two chunk boundaries)."""
        pos = 0
        for match in _UNUSUAL.finditer(text):
            start = match.start()
            if start > pos:
                self.usual(text[pos:start - 1])
            end = text.find("\n", start)
            end = len(text) if end < 0 else end
            self.lineno += 1
            op = self.line(text[start:end], self.lineno)
            if op is not None:
                self.add(op)
            pos = end + 1
        if pos < len(text):
            self.usual(text[pos:])

    def usual(self, text: str) -> None:
        """Read lines all in the usual spelling, in bulk.

        They become a JSON array of arrays ("a 3 24" -> [97,3,24], the letter as its
        character code), which the json module's C scanner reads: the quickest reader of
        decimal numbers the standard library has.
        """
        self.end_header()
        first_line = self.lineno + 1
        lines = text
        self.lineno += text.count("\n") + 1
        text = ("\n" + text).replace(" ", ",")
        for before, after in _AS_JSON:
            text = text.replace(before, after)
        rows = json.loads("[" + text[2:] + "]]")
        columns = list(zip_longest(*rows, fillvalue=0))
        n = len(rows)
        kinds = bytes(columns[0]).decode("ascii")
        ids = columns[1]
        if self.threads is not None or _THREAD_LETTERS.search(kinds):
            ids = self.thread_lines(kinds, list(ids), first_line, lines)
        self.kinds.append(kinds)
        self.ids.extend(ids)
        sizes = list(columns[2]) if len(columns) > 2 else [0] * n
        args = list(columns[3]) if len(columns) > 3 else [0] * n
        for match in _TWO_NUMBERS.finditer(kinds):     # c ID NMEMB SIZE, m ID ALIGN SIZE
            k = match.start()
            sizes[k], args[k] = args[k], sizes[k]
        self.sizes.extend(sizes)
        self.args.extend(args)

    def thread_lines(self, kinds: str, ids: list[int], first_line: int, lines: str) -> list[int]:
        """Check and keep the thread lines among lines read in bulk (entry j is line first_line + j);
        their Ops go to ``rare`` and their IDs become 0, as `add` keeps them."""
        if self.threads is None:
            self.threads = _Threads()
        threads, start, n = self.threads, len(self.ids), len(kinds)
        line = lambda j: lines.split("\n")[j]       # only for an error
        prev = 0
        for j in [m.start() for m in _THREAD_LETTERS.finditer(kinds)] + [n]:
            if j > prev and not threads.running:      # operations on an exited thread
                threads.refuse_exited(first_line + prev, line(prev))
            if j == n:
                break
            kind, tid = KINDS[kinds[j]], ids[j]
            if tid > MAX_TID:
                raise TraceError(first_line + j, line(j), f"TID must be at most {MAX_TID}")
            try:
                threads.step(kind, tid, first_line + j, "")
            except TraceError as e:                   # the line is found only for an error
                raise TraceError(e.lineno, line(j), e.reason) from None
            op = self.shared.get((kind, tid))
            if op is None:
                op = self.shared[(kind, tid)] = Op(kind, tid=tid)
            self.rare[start + j] = op
            ids[j] = 0
            prev = j + 1
        return ids

    def add(self, op: Op) -> None:
        """Add one entry read by `line`."""
        letter = _LETTER[op.kind]
        if letter not in _COLUMN_KINDS:
            self.rare[len(self.ids)] = op
        self.kinds.append(letter)
        self.ids.append(op.id if letter in _COLUMN_KINDS else 0)
        self.sizes.append(op.size or 0)
        self.args.append(op.nmemb or op.align or 0)

    def line(self, line: str, lineno: int) -> Op | None:
        """The Op of one line in any spelling; None for blanks, comments and a .rep header."""
        body = line.strip(_BLANKS)
        if not body or body[0] == "#":
            if body[:1] == "#":
                self.comment(body, lineno, line)
            return None
        is_snapshot = body[0] == "s" and (len(body) == 1 or body[1] in _BLANKS)
        if not is_snapshot:
            if not body.isascii():
                raise TraceError(lineno, line, "operation lines must be ASCII")
            if _NOT_BLANKS.intersection(body):
                raise TraceError(lineno, line, "fields must be separated by blanks (space or tab)")
            fields = body.split()
            if self.in_header and all(f.isdigit() for f in fields):
                self.header += len(fields)
                self.header_line = (lineno, line)
                if self.header > 4:
                    raise TraceError(lineno, line, "a .rep header has exactly four integers")
                return None
        self.end_header()
        if is_snapshot:
            return Op("snapshot", label=body[1:].strip(_BLANKS))
        op = _parse_op(fields, lineno, line)
        if op.tid is not None:
            if self.threads is None:
                self.threads = _Threads()
            op = self.shared.setdefault((op.kind, op.tid), op)
        if self.threads is not None:
            self.threads.step(op.kind, op.tid, lineno, line)
        return op

    def comment(self, body: str, lineno: int, line: str) -> None:
        """A comment; ``# cpus N``, ``# tls M`` and ``# arch NAME`` give settings (each once, before the
        first operation)."""
        words = _BLANK_RUNS.split(body[1:].strip(_BLANKS))
        if len(words) != 2:
            return
        if words[0] == "arch":
            self.setting("arch", _ARCH_SETTING, lineno, line)
            if words[1] not in ARCHES:
                raise TraceError(lineno, line, f"{_ARCH_SETTING} must be one of {', '.join(ARCHES)}")
            self.settings["arch"] = (words[1], lineno)
            return
        if words[0] not in _SETTINGS or not words[1].isascii() or not words[1].isdigit():
            return
        what, largest = _SETTINGS[words[0]]
        self.setting(words[0], what, lineno, line)
        n = int(words[1]) if len(words[1]) <= _DIGITS else _TOO_BIG
        if not 1 <= n <= largest:
            raise TraceError(lineno, line, f"{what} must be 1 to {largest}")
        self.settings[words[0]] = (n, lineno)

    def setting(self, word: str, what: str, lineno: int, line: str) -> None:
        """Refuse a setting given twice, or after the first operation."""
        if word in self.settings:
            raise TraceError(lineno, line, f"{what} is given twice (first on line {self.settings[word][1]})")
        if self.kinds:
            raise TraceError(lineno, line, f"{what} must be given before the first operation")

    def end_header(self) -> None:
        """An entry follows: a .rep header before it must have been whole."""
        if self.in_header:
            if self.header not in (0, 4):
                raise TraceError(*self.header_line, f"a .rep header has exactly four integers, found {self.header}")
            self.in_header = False

    def trace(self) -> Trace:
        if self.in_header and self.header not in (0, 4):
            raise TraceError(*self.header_line, f"a .rep header has exactly four integers, found {self.header}")
        cpus, tls, arch = (self.settings.get(word, (None,))[0] for word in ("cpus", "tls", "arch"))
        return Trace("".join(self.kinds), self.ids, self.sizes, self.args, self.rare, cpus, tls, arch)


def read_trace(text: str | bytes, progress: Callable[[int, int], None] | None = None) -> Trace:
    """Parse a whole trace into compact columns; the first bad line raises TraceError.

    `progress`, if given, is called as ``progress(characters read, characters in all)``
    after each chunk of about 100,000 lines.

    >>> read_trace("a 0 0x10\\n# comment\\nf 0\\n").kinds
    'af'
    >>> read_trace("a 0\\n")
    Traceback (most recent call last):
    ...
    memlab.errors.TraceError: line 1: malloc takes 2 field(s): a ID SIZE: 'a 0'
    """
    if isinstance(text, (bytes, bytearray)):
        text = _decode(bytes(text))
    reader = _Reader()
    # Each chunk makes a list per line, none in a cycle: the cyclic collector waits.
    collecting = gc.isenabled()
    gc.disable()
    try:
        start, end = 0, len(text)
        while True:
            cut = text.find("\n", start + _CHUNK)
            if cut < 0:
                reader.chunk(text[start:])
                break
            reader.chunk(text[start:cut])
            start = cut + 1
            if progress is not None:
                progress(start, end)
    finally:
        if collecting:
            gc.enable()
    return reader.trace()


def parse_trace(text: str | bytes) -> tuple[Op, ...]:
    """Parse a whole trace into Op records; the first bad line raises TraceError.

    (`read_trace` gives the same entries in compact columns, much faster.)

    >>> ops = parse_trace("# demo\\na 0 0x10\\ns after one\\nf 0\\n")
    >>> [str(op) for op in ops]
    ['a 0 16', 's after one', 'f 0']
    >>> parse_trace("a 0")
    Traceback (most recent call last):
    ...
    memlab.errors.TraceError: line 1: malloc takes 2 field(s): a ID SIZE: 'a 0'
    """
    return read_trace(text).ops()


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
    >>> format_trace(read_trace("# arch i386\\n# cpus 4\\n# tls 2\\nn 1"))  # a Trace keeps its settings
    '# arch i386\\n# cpus 4\\n# tls 2\\nn 1\\n'
    """
    head = ""
    if isinstance(ops, Trace):
        head = "".join(f"# {word} {value}\n" for word, value in
                       (("arch", ops.arch), ("cpus", ops.cpus), ("tls", ops.tls)) if value is not None)
    return head + "".join(f"{op}\n" for op in ops)
