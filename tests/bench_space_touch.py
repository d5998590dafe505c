"""Measure AddressSpace.touch() throughput: `python tests/bench_space_touch.py` (not a test)."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memlab.space import AddressSpace  # noqa: E402
from memlab.units import PAGE  # noqa: E402

__all__ = ["rate"]


def rate(fn, args_list):
    """Calls per second of fn over args_list (best of three runs)."""
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for args in args_list:
            fn(*args)
        best = max(best, len(args_list) / (time.perf_counter() - start))
    return best


def main(n=500_000):
    heap_bytes = 3_200_000_000 // PAGE * PAGE
    space = AddressSpace()
    space.sbrk(heap_bytes)
    space.touch(space.heap_start, heap_bytes)
    h = space.heap_start
    headers = [(h + (i * 4104) % 3_000_000_000, 16) for i in range(n)]
    print(f"resident page, cached run:    {rate(space.touch, headers):>12,.0f} touch/s")
    print(f"empty Python function, same: {rate(lambda a, b: None, headers):>12,.0f} calls/s")
    a, b = space.mmap(1 << 20), space.mmap(1 << 20)
    space.touch(a, 1 << 20)
    space.touch(b, 1 << 20)
    alternating = [((a, b)[i & 1], 8) for i in range(n // 4)]
    print(f"alternating two mappings:     {rate(space.touch, alternating):>12,.0f} touch/s")
    best = 0.0
    for _ in range(3):
        s = AddressSpace()
        s.sbrk(1 << 30)
        start = time.perf_counter()
        for i in range(n // 4):
            s.touch(s.heap_start + i * PAGE, 16)
        best = max(best, (n // 4) / (time.perf_counter() - start))
    print(f"first write of each page:     {best:>12,.0f} touch/s")


if __name__ == "__main__":
    main()
