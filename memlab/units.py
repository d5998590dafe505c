"""Byte sizes and page arithmetic for a 4 KiB-page x86-64 process."""

from __future__ import annotations

__all__ = [
    "PAGE",
    "KiB",
    "MiB",
    "GiB",
    "align_up",
    "align_down",
    "is_aligned",
    "fmt_bytes",
]

PAGE = 4096
"""Size of one page on x86-64 Linux, in bytes."""

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


def _check_alignment(alignment: int) -> None:
    if alignment <= 0 or alignment & (alignment - 1):
        raise ValueError(f"alignment must be a positive power of two, got {alignment}")


def align_up(n: int, alignment: int = PAGE) -> int:
    """Round n up to the next multiple of alignment (a power of two).

    >>> align_up(1), align_up(4096), align_up(4097), align_up(200_016)
    (4096, 4096, 8192, 200704)
    >>> align_up(17, 16)
    32
    """
    _check_alignment(alignment)
    return (n + alignment - 1) & ~(alignment - 1)


def align_down(n: int, alignment: int = PAGE) -> int:
    """Round n down to a multiple of alignment (a power of two).

    >>> align_down(4095), align_down(4096), align_down(8191)
    (0, 4096, 4096)
    """
    _check_alignment(alignment)
    return n & ~(alignment - 1)


def is_aligned(n: int, alignment: int = PAGE) -> bool:
    """True when n is a multiple of alignment (a power of two).

    >>> is_aligned(8192), is_aligned(100), is_aligned(48, 16)
    (True, False, True)
    """
    _check_alignment(alignment)
    return n & (alignment - 1) == 0


def fmt_bytes(n: int) -> str:
    """Format a byte count for people: exact below 1 MiB, else in binary units.

    >>> fmt_bytes(200_704), fmt_bytes(0), fmt_bytes(-4096)
    ('200,704 B', '0 B', '-4,096 B')
    >>> fmt_bytes(MiB), fmt_bytes(3 * GiB // 2), fmt_bytes(2 * 1024 * GiB)
    ('1.0 MiB', '1.5 GiB', '2.0 TiB')
    """
    if abs(n) < MiB:
        return f"{n:,} B"
    for unit, size in (("TiB", 1024 * GiB), ("GiB", GiB), ("MiB", MiB)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover
