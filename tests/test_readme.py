"""The README's quickstart runs, and what it prints is what the real glibc reports."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from memlab.native import replay_native
from memlab.trace import parse_trace

README = Path(__file__).resolve().parents[1] / "README.md"

# the quickstart's calls, as a trace (ids: 0-9 the small blocks, 10 the big one)
QUICKSTART_TRACE = "".join(f"a {i} 100\n" for i in range(10)) + "a 10 200000\n" + \
    "".join(f"f {i}\n" for i in range(8)) + "f 10\ns end\n"


def quickstart_code() -> str:
    text = README.read_text()
    section = text.split("## Quickstart", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_quickstart_runs_and_matches_the_real_glibc():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(quickstart_code(), "README quickstart", "exec"), {})
    first = out.getvalue().splitlines()[0]
    printed = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", first))
    real = replay_native(parse_trace(QUICKSTART_TRACE))[-1]
    for key in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks", "uordblks",
                "fordblks", "keepcost"):
        assert printed[key] == real[key], key
    # the numbers quoted in the comment are the real ones too
    for key, value in re.findall(r"(\w+)=(\d+)", quickstart_code()):
        assert real[key] == int(value), key
