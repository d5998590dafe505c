"""Leak totals as Valgrind's memcheck prints them: `LeakSummary`, its text, and Valgrind's read back.

>>> s = LeakSummary(definitely_lost=Count(48, 1), indirectly_lost=Count(32, 1))
>>> print(s)
LEAK SUMMARY:
   definitely lost: 48 bytes in 1 blocks
   indirectly lost: 32 bytes in 1 blocks
     possibly lost: 0 bytes in 0 blocks
   still reachable: 0 bytes in 0 blocks
        suppressed: 0 bytes in 0 blocks
>>> LeakSummary.parse(str(s)) == s
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

__all__ = ["Count", "LeakSummary", "CLASSES", "DEFINITELY", "INDIRECTLY", "POSSIBLY", "REACHABLE", "NO_LEAKS"]

#: memcheck's four classes of a block still allocated at exit, in the order its summary prints them.
DEFINITELY, INDIRECTLY, POSSIBLY, REACHABLE = "definitely lost", "indirectly lost", "possibly lost", "still reachable"
CLASSES = (DEFINITELY, INDIRECTLY, POSSIBLY, REACHABLE)
#: What memcheck prints instead of a summary when no block is left at exit.
NO_LEAKS = "All heap blocks were freed -- no leaks are possible"
_LINE = re.compile(r"(definitely lost|indirectly lost|possibly lost|still reachable|suppressed): "
                   r"([\d,]+) bytes in ([\d,]+) blocks")


@dataclass(frozen=True, slots=True)
class Count:
    """Bytes (requested sizes, summed) and blocks of one class.

    >>> str(Count(1024, 2))
    '1,024 bytes in 2 blocks'
    """

    bytes: int = 0
    blocks: int = 0

    def __str__(self) -> str:
        return f"{self.bytes:,} bytes in {self.blocks:,} blocks"


@dataclass(frozen=True, slots=True)
class LeakSummary:
    """The blocks left at exit, class by class, as memcheck's LEAK SUMMARY counts them.

    `suppressed` is memcheck's own line (blocks its suppression files hide); memlab's
    reports leave it at zero.
    """

    definitely_lost: Count = field(default_factory=Count)
    indirectly_lost: Count = field(default_factory=Count)
    possibly_lost: Count = field(default_factory=Count)
    still_reachable: Count = field(default_factory=Count)
    suppressed: Count = field(default_factory=Count)

    def of(self, name: str) -> Count:
        """The count of a class by memcheck's name for it.

        >>> LeakSummary(possibly_lost=Count(8, 1)).of("possibly lost")
        Count(bytes=8, blocks=1)
        """
        return getattr(self, name.replace(" ", "_"))

    @property
    def blocks(self) -> int:
        """Blocks still allocated at exit, all classes together.

        >>> LeakSummary(Count(1, 1), still_reachable=Count(0, 2)).blocks
        3
        """
        return sum(getattr(self, f.name).blocks for f in fields(self))

    def as_dict(self) -> dict[str, dict[str, int]]:
        """The counts keyed by memcheck's names, for JSON.

        >>> LeakSummary().as_dict()["still reachable"]
        {'bytes': 0, 'blocks': 0}
        """
        return {f.name.replace("_", " "): {"bytes": getattr(self, f.name).bytes, "blocks": getattr(self, f.name).blocks}
                for f in fields(self)}

    def __str__(self) -> str:
        if self.blocks == 0:
            return NO_LEAKS
        lines = ["LEAK SUMMARY:"]
        for f in fields(self):
            name = f.name.replace("_", " ")
            lines.append(f"{name:>18}: {getattr(self, f.name)}")
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> LeakSummary:
        """The summary in Valgrind's output (its `==PID==` prefixes allowed); ValueError if none.

        >>> LeakSummary.parse("==7== " + NO_LEAKS).blocks
        0
        >>> LeakSummary.parse("==7== LEAK SUMMARY:\\n==7==    definitely lost: 1,040 bytes in 3 blocks")
        LeakSummary(definitely_lost=Count(bytes=1040, blocks=3), indirectly_lost=Count(bytes=0, blocks=0), \
possibly_lost=Count(bytes=0, blocks=0), still_reachable=Count(bytes=0, blocks=0), suppressed=Count(bytes=0, blocks=0))
        """
        start = text.rfind("LEAK SUMMARY:")
        if start < 0:
            if NO_LEAKS in text:
                return cls()
            raise ValueError("no LEAK SUMMARY (nor 'All heap blocks were freed') in the leak checker's output")
        found = {}
        for match in _LINE.finditer(text, start):
            name, size, count = match.groups()
            found.setdefault(name.replace(" ", "_"), Count(int(size.replace(",", "")), int(count.replace(",", ""))))
        return cls(**found)
