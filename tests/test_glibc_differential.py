"""The model against the real glibc of this machine: every snapshot field after every operation.

Expected numbers come from replaying the same trace on the real glibc (memlab.native); the
tests need the real glibc 2.36 (tests/conftest.py: glibc_236).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from memlab.glibc import Malloc
from memlab.replay import replay
from memlab.trace import parse_trace

from strategies import random_trace, traces

from memlab import native

pytestmark = pytest.mark.usefixtures("glibc_236")

FIELDS = ("op", "brk", "arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks", "uordblks",
          "fordblks", "keepcost", "rss")


def first_difference(text: str) -> str | None:
    """Replay on both; describe the first snapshot that differs, or None."""
    ops = parse_trace(text)
    real = native.replay_native(ops, every=1)
    model = replay(ops, Malloc, every=1)
    assert len(real) == len(model)
    for r, s in zip(real, model):
        mine = s.as_dict()
        bad = [k for k in FIELDS if r[k] != mine[k]]
        if bad:
            op = [o for o in ops if o.kind != "snapshot"][r["op"] - 1] if r["op"] else None
            return f"after op {r['op']} ({op}): " + ", ".join(
                f"{k}: glibc {r[k]}, model {mine[k]}" for k in bad)
    return None


PATHS = {
    "tcache and fastbins": "".join(f"a {i} {16 * (i % 8)}\n" for i in range(40))
    + "".join(f"f {i}\n" for i in range(40)) + "".join(f"a {i} {16 * (i % 8)}\n" for i in range(40)),
    "small bins and stashing": "".join(f"a {2 * i} 200\na {2 * i + 1} 20\n" for i in range(12))
    + "".join(f"f {2 * i}\n" for i in range(12)) + "a 100 5000\n" + "".join(f"a {200 + i} 200\n" for i in range(12)),
    "large bins": "".join(f"a {2 * i} {1100 + 64 * i}\na {2 * i + 1} 20\n" for i in range(20))
    + "".join(f"f {2 * i}\n" for i in range(20)) + "a 100 9000\na 101 1500\na 102 1100\na 103 2000\n",
    "last remainder": "a 0 3000\na 1 10\nf 0\na 2 100\na 3 100\na 4 100\nw 2\n",
    "mmap and threshold": "a 0 200000\nw 0\nf 0\na 1 150000\na 2 200000\na 3 200700\nf 1\nf 2\nf 3\n",
    "realloc": "a 0 1000\na 1 10\nr 0 100\na 2 880\nr 1 5000\nr 2 4000\nr 2 0\nr 5 300\nr 5 200000\n"
    "r 5 10\nr 5 400000\nw 5\nr 5 1000\n",
    "calloc": "a 0 100000\nf 0\nc 1 10 1000\nc 2 1 30000\nc 3 1 300000\nw 3\nc 4 3 5\n",
    "memalign": "a 0 10\nm 1 4096 100\nm 2 64 100\nm 3 32 5000\nm 4 1024 300000\nw 4\nf 4\nm 5 48 7\n"
    "f 1\nf 2\nf 3\n",
    "trim": "".join(f"a {i} 4000\n" for i in range(60)) + "".join(f"f {i}\n" for i in range(0, 60, 2))
    + "t 0\nt 4096\n" + "".join(f"f {i}\n" for i in range(1, 60, 2)) + "t 0\n",
    "mallopt": "o M_MXFAST 0\na 0 20\nf 0\no M_TOP_PAD 0\na 1 100\no M_MMAP_MAX 0\na 2 400000\n"
    "f 2\no M_TRIM_THRESHOLD 0\na 3 70000\nf 3\no M_MMAP_THRESHOLD 4096\na 4 5000\nf 4\n",
    "top of 32 bytes": "a 0 1\na 1 134440\nt 0\na 2 1\nt 4096\n",
}


@pytest.mark.parametrize("name", sorted(PATHS))
def test_each_path_matches_glibc(name):
    assert first_difference(PATHS[name]) is None


@pytest.mark.parametrize("seed", range(4))
def test_random_traces_match_glibc(seed):
    assert first_difference(random_trace(3000, seed=seed, n_ids=80)) is None


@pytest.mark.parametrize("pad", [-1000, -4096, -100000, -131072])
def test_sbrk_refused_mmap_fallback_matches_glibc(pad):
    # A negative M_TOP_PAD makes sysmalloc's brk request wrap to <= 0: glibc skips sbrk and
    # takes the mmap fallback (non-contiguous heap, fenceposts, later sbrk regions).
    assert first_difference(f"o M_TOP_PAD {pad}\n" + random_trace(1500, seed=99, n_ids=40)) is None


@settings(max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(traces(max_ops=150))
def test_hypothesis_traces_match_glibc(text):
    assert first_difference(text) is None


@pytest.mark.slow
def test_unsorted_scan_stops_after_max_iters():
    n = 10050   # more unsorted chunks than MAX_ITERS (10000)
    text = ("".join(f"a {2 * i} 2000\na {2 * i + 1} 10\n" for i in range(n))
            + "".join(f"f {2 * i}\n" for i in range(n)) + "a 99999 300\na 99998 300\na 99997 3000\n")
    assert first_difference(text) is None
