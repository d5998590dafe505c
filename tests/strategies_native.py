"""Random allocation traces for tests that hold replays against the real glibc."""

from __future__ import annotations

import random

__all__ = ["random_trace"]


def random_trace(rng: random.Random, n: int) -> str:
    """`n` random operations on 64 IDs: every kind, sizes around the tcache, fastbin, smallbin,
    largebin and mmap boundaries, some trims and mallopts, and `s` lines; ends with `s`."""
    lines = []
    sizes = [0, 1, 24, 25, 40, 100, 500, 1000, 1100, 5000, 70000, 140000, 300000]
    for _ in range(n):
        i = rng.randrange(64)
        size = rng.choice(sizes) + rng.randrange(16)
        r = rng.random()
        if r < 0.35:
            lines.append(f"a {i} {size}")
        elif r < 0.65:
            lines.append(f"f {i}")
        elif r < 0.75:
            lines.append(f"r {i} {size}")
        elif r < 0.8:
            lines.append(f"c {i} {rng.randrange(1, 5)} {size}")
        elif r < 0.85:
            lines.append(f"m {i} {rng.choice([16, 64, 256, 4096])} {size}")
        elif r < 0.87:
            lines.append(f"t {rng.choice([0, 4096, 100000])}")
        elif r < 0.88:
            lines.append(f"o {rng.choice(['M_TOP_PAD', 'M_MMAP_THRESHOLD', 'M_TRIM_THRESHOLD'])} "
                         f"{rng.choice([0, 4096, 65536, 262144])}")
        elif r < 0.89:
            lines.append(f"o MXFAST {rng.choice([0, 64, 160])}")
        else:
            lines.append("s")
    return "\n".join(lines) + "\ns\n"
