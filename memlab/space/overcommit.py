"""Linux's overcommit policy (vm.overcommit_memory 0, 1, 2): may a new commit charge be made?"""

from __future__ import annotations

from dataclasses import dataclass

from ..units import KiB, PAGE, fmt_bytes

__all__ = ["OVERCOMMIT_GUESS", "OVERCOMMIT_ALWAYS", "OVERCOMMIT_NEVER", "Overcommit"]

OVERCOMMIT_GUESS = 0
OVERCOMMIT_ALWAYS = 1
OVERCOMMIT_NEVER = 2


@dataclass(frozen=True, slots=True)
class Overcommit:
    """The sysctls vm.overcommit_memory, _ratio and _kbytes, and the kernel's test.

    Rules (Documentation/mm/overcommit-accounting.rst and __vm_enough_memory in
    mm/util.c): mode 1 never refuses; mode 0 refuses one request larger than
    RAM + swap; mode 2 refuses when the charge after the request would not stay
    below the limit swap + RAM * ratio / 100 (or swap + kbytes KiB when kbytes is
    set), less the admin reserve and min(total_vm / 32, user reserve).
    Sizes are bytes; the kernel counts whole pages, and so does this test.

    >>> strict = Overcommit(mode=2, ratio=50)
    >>> strict.limit(ram=16 * PAGE, swap=2 * PAGE) // PAGE
    10
    >>> strict.refusal(request=PAGE, charge=8 * PAGE, total_vm=0, ram=16 * PAGE, swap=2 * PAGE)
    >>> strict.refusal(request=2 * PAGE, charge=8 * PAGE, total_vm=0, ram=16 * PAGE, swap=2 * PAGE)
    'commit charge 40,960 B would reach the limit 40,960 B (mode 2)'
    """

    mode: int = OVERCOMMIT_GUESS
    ratio: int = 50
    kbytes: int | None = None
    admin_reserve: int = 0
    user_reserve: int = 0

    def __post_init__(self) -> None:
        if self.mode not in (OVERCOMMIT_GUESS, OVERCOMMIT_ALWAYS, OVERCOMMIT_NEVER):
            raise ValueError(f"overcommit must be 0, 1 or 2, got {self.mode!r}")
        if not isinstance(self.ratio, int) or self.ratio < 0:
            raise ValueError(f"overcommit_ratio must be an int >= 0, got {self.ratio!r}")
        if self.kbytes is not None and (not isinstance(self.kbytes, int) or self.kbytes < 0):
            raise ValueError(f"overcommit_kbytes must be None or an int >= 0, got {self.kbytes!r}")
        for name in ("admin_reserve", "user_reserve"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0 (bytes), got {value!r}")

    def limit(self, ram: int | None, swap: int | None) -> int | None:
        """CommitLimit in bytes (as /proc/meminfo shows it); None when RAM or swap is unlimited.

        >>> Overcommit(ratio=50).limit(ram=8 * PAGE, swap=PAGE) // PAGE
        5
        >>> Overcommit(kbytes=8).limit(ram=8 * PAGE, swap=0) // PAGE
        2
        """
        if ram is None or swap is None:
            return None
        if self.kbytes:
            allowed = self.kbytes * KiB // PAGE
        else:
            allowed = (ram // PAGE) * self.ratio // 100
        return (allowed + swap // PAGE) * PAGE

    def refusal(self, request: int, charge: int, total_vm: int,
                ram: int | None, swap: int | None) -> str | None:
        """Why the kernel would refuse to commit `request` more bytes, or None if it agrees.

        `charge` is the commit charge before the request, `total_vm` the mapped bytes.

        >>> Overcommit(mode=0).refusal(9 * PAGE, 0, 0, ram=8 * PAGE, swap=0)
        'request of 36,864 B is more than RAM + swap = 32,768 B (mode 0)'
        >>> Overcommit(mode=1).refusal(9 * PAGE, 0, 0, ram=8 * PAGE, swap=0)
        """
        pages = request // PAGE
        if self.mode == OVERCOMMIT_ALWAYS or request <= 0:
            return None
        if self.mode == OVERCOMMIT_GUESS:
            if ram is None or swap is None:
                return None
            if pages > ram // PAGE + swap // PAGE:
                return (f"request of {fmt_bytes(request)} is more than RAM + swap = "
                        f"{fmt_bytes(ram + swap)} (mode 0)")
            return None
        limit = self.limit(ram, swap)
        if limit is None:
            return None
        allowed = limit // PAGE - self.admin_reserve // PAGE
        allowed -= min((total_vm // PAGE) // 32, self.user_reserve // PAGE)
        after = charge // PAGE + pages
        if after < allowed:
            return None
        return (f"commit charge {fmt_bytes(after * PAGE)} would reach the limit "
                f"{fmt_bytes(allowed * PAGE)} (mode 2)")
