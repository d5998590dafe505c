"""Heap snapshots: glibc's mallinfo2 counters, the break and resident memory at one point of a replay."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["Snapshot", "FIELDS", "COUNTERS"]

#: Keys of a snapshot's JSON line, in order (docs/trace-format.md).
FIELDS = ("op", "label", "brk", "arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks",
          "uordblks", "fordblks", "keepcost", "rss")
#: The numeric fields that describe the heap (everything but op and label).
COUNTERS = FIELDS[2:]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The heap after `op` operations: the break's growth, mallinfo2's counters, resident bytes.

    >>> s = Snapshot(1, "first", 135168, 135168, 1, 0, 0, 0, 0, 688, 134480, 134480, 4096)
    >>> s.to_json()[:44]
    '{"op": 1, "label": "first", "brk": 135168, "'
    >>> Snapshot.from_json(s.to_json()) == s
    True
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

    def __post_init__(self) -> None:
        if not isinstance(self.label, str):
            raise ValueError(f"label must be a str (got {self.label!r})")
        for name in FIELDS:
            if name != "label" and type(getattr(self, name)) is not int:
                raise ValueError(f"{name} must be an int (got {getattr(self, name)!r})")
        if self.op < 0:
            raise ValueError(f"op must be >= 0 (got {self.op})")

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict, keys in JSON order.

        >>> list(Snapshot(0, "", *[0] * 11).as_dict())[:3]
        ['op', 'label', 'brk']
        """
        return {name: getattr(self, name) for name in FIELDS}

    def to_json(self) -> str:
        """The exact JSON line (without newline) that the real replayer prints.

        >>> Snapshot(0, "é", *[0] * 11).to_json()[:30]
        '{"op": 0, "label": "\\\\u00e9", "'
        """
        return json.dumps(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        """Build from a dict with exactly the snapshot keys.

        >>> Snapshot.from_dict(dict.fromkeys(FIELDS, 0) | {"label": "x"}).label
        'x'
        """
        if set(data) != set(FIELDS):
            missing = [k for k in FIELDS if k not in data]
            extra = [k for k in data if k not in FIELDS]
            raise ValueError(f"a snapshot has keys {', '.join(FIELDS)}; missing {missing}, unexpected {extra}")
        return cls(**{name: data[name] for name in FIELDS})

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
    def from_model(cls, op: int, label: str, malloc: Any) -> Snapshot:
        """Read the counters of a malloc model (`memlab.glibc.Malloc` or alike).

        brk is the break's distance from the initial break, rss the address space's
        resident bytes (the model's space starts empty, so both are what the replay added).
        """
        info = malloc.mallinfo2()
        space = malloc.space
        return cls(op, label, space.brk - space.heap_start, info.arena, info.ordblks, info.smblks,
                   info.hblks, info.hblkhd, info.fsmblks, info.uordblks, info.fordblks, info.keepcost,
                   space.rss)

    def first_difference(self, other: Snapshot) -> tuple[str, Any, Any] | None:
        """The first field (in JSON order) where two snapshots differ, with both values; None if equal.

        >>> a = Snapshot(1, "", *[0] * 11); b = Snapshot(1, "", 0, 0, 2, *[0] * 8)
        >>> a.first_difference(b)
        ('ordblks', 0, 2)
        """
        for name in FIELDS:
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                return name, mine, theirs
        return None

