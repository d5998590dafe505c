"""Heap snapshots: glibc's mallinfo2 counters, the break and resident memory at one point of a replay."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Snapshot", "FIELDS", "COUNTERS", "ARENAS"]

#: Keys of a snapshot's JSON line, in order (docs/trace-format.md).
FIELDS = ("op", "label", "brk", "arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks",
          "uordblks", "fordblks", "keepcost", "rss")
#: The numeric fields that describe the heap (everything but op and label).
COUNTERS = FIELDS[2:]
#: The optional key after FIELDS: [system bytes, in-use bytes] of each arena (replay --arenas).
ARENAS = "arenas"


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The heap after `op` operations: the break's growth, mallinfo2's counters, resident bytes.

    >>> s = Snapshot(1, "first", 135168, 135168, 1, 0, 0, 0, 0, 688, 134480, 134480, 4096)
    >>> s.to_json()[:44]
    '{"op": 1, "label": "first", "brk": 135168, "'
    >>> Snapshot.from_json(s.to_json()) == s
    True

    `arenas`, when given, is glibc's per-arena detail, (system bytes, in-use bytes) of each
    arena, main first, then the newest; it is printed (as the last key) only then.

    >>> s.with_arenas(((135168, 688),)).to_json()[-26:]
    '"arenas": [[135168, 688]]}'
    """

    op: int
    label: str
    brk: int
    arena: int
    ordblks: int
    smblks: int
    hblks: int
    hblkhd: int
    fsmblks: int
    uordblks: int
    fordblks: int
    keepcost: int
    rss: int
    arenas: tuple[tuple[int, int], ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, str):
            raise ValueError(f"label must be a str (got {self.label!r})")
        for name in FIELDS:
            if name != "label" and type(getattr(self, name)) is not int:
                raise ValueError(f"{name} must be an int (got {getattr(self, name)!r})")
        if self.op < 0:
            raise ValueError(f"op must be >= 0 (got {self.op})")
        if self.arenas is not None:
            if not isinstance(self.arenas, (list, tuple)) or not all(
                    isinstance(p, (list, tuple)) and len(p) == 2 and all(type(x) is int for x in p)
                    for p in self.arenas):
                raise ValueError(f"arenas must be pairs of ints (got {self.arenas!r})")
            object.__setattr__(self, "arenas", tuple(tuple(p) for p in self.arenas))

    def with_arenas(self, arenas: Any) -> Snapshot:
        """The same snapshot carrying the per-arena pairs `arenas`."""
        return replace(self, arenas=arenas)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict, keys in JSON order (`arenas` last, as lists, when present).

        >>> list(Snapshot(0, "", *[0] * 11).as_dict())[:3]
        ['op', 'label', 'brk']
        """
        data = {name: getattr(self, name) for name in FIELDS}
        if self.arenas is not None:
            data[ARENAS] = [list(p) for p in self.arenas]
        return data

    def to_json(self) -> str:
        """The exact JSON line (without newline) that the real replayer prints.

        >>> Snapshot(0, "é", *[0] * 11).to_json()[:30]
        '{"op": 0, "label": "\\\\u00e9", "'
        """
        return json.dumps(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        """Build from a dict with exactly the snapshot keys (and, optionally, `arenas`).

        >>> Snapshot.from_dict(dict.fromkeys(FIELDS, 0) | {"label": "x"}).label
        'x'
        """
        if set(data) - {ARENAS} != set(FIELDS):
            missing = [k for k in FIELDS if k not in data]
            extra = [k for k in data if k not in FIELDS and k != ARENAS]
            raise ValueError(f"a snapshot has keys {', '.join(FIELDS)}; missing {missing}, unexpected {extra}")
        return cls(**{name: data[name] for name in FIELDS}, arenas=data.get(ARENAS))

    @classmethod
    def from_json(cls, line: str) -> Snapshot:
        """Read one JSON line as printed by a replay (keys must be the snapshot keys).

        >>> Snapshot.from_json('{"op": 2, "label": "", "brk": 0, "arena": 0, "ordblks": 1, "smblks": 0, '
        ...     '"hblks": 0, "hblkhd": 0, "fsmblks": 0, "uordblks": 0, "fordblks": 0, "keepcost": 0, "rss": 0}').op
        2
        """
        try:
            data = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"not a JSON snapshot line ({e}): {line!r}") from None
        if not isinstance(data, dict):
            raise ValueError(f"a snapshot line holds a JSON object: {line!r}")
        return cls.from_dict(data)

    @classmethod
    def from_model(cls, op: int, label: str, malloc: Any, arenas: bool = False) -> Snapshot:
        """Read the counters of a malloc model (`memlab.glibc.Malloc` or alike).

        brk is the break's distance from the initial break, rss the address space's
        resident bytes (the model's space starts empty, so both are what the replay added).
        With `arenas`, the per-arena pairs too: a threaded model's `arena_pairs()`, else the
        main arena's (arena, uordblks).
        """
        info = malloc.mallinfo2()
        space = malloc.space
        pairs = None
        if arenas:
            pairs = malloc.arena_pairs() if hasattr(malloc, "arena_pairs") else ((info.arena, info.uordblks),)
        return cls(op, label, space.brk - space.heap_start, info.arena, info.ordblks, info.smblks,
                   info.hblks, info.hblkhd, info.fsmblks, info.uordblks, info.fordblks, info.keepcost,
                   space.rss, pairs)

    def first_difference(self, other: Snapshot) -> tuple[str, Any, Any] | None:
        """The first field (in JSON order) where two snapshots differ, with both values; None if equal.

        >>> a = Snapshot(1, "", *[0] * 11); b = Snapshot(1, "", 0, 0, 2, *[0] * 8)
        >>> a.first_difference(b)
        ('ordblks', 0, 2)

        Then the arenas, when either carries them: the field is named `arenas[i]` (arena i in
        glibc's order, 0 the main arena), or `arenas` with the numbers of arenas when those differ.

        >>> a.with_arenas(((0, 0), (135168, 944))).first_difference(a.with_arenas(((0, 0), (135168, 2944))))
        ('arenas[1]', (135168, 944), (135168, 2944))
        """
        for name in FIELDS:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                return name, mine, theirs
        if self.arenas != other.arenas:
            if self.arenas is None or other.arenas is None or len(self.arenas) != len(other.arenas):
                count = lambda a: None if a is None else len(a)  # noqa: E731
                return ARENAS, count(self.arenas), count(other.arenas)
            for i, (mine, theirs) in enumerate(zip(self.arenas, other.arenas)):
                if mine != theirs:
                    return f"{ARENAS}[{i}]", mine, theirs
        return None

