"""Build and run tests/vecvec/vecvec.c (the vecvec experiment on the real glibc)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from memlab.native.build import compile_c
from memlab.native.runner import clean_environment

SOURCE = Path(__file__).resolve().parent / "vecvec.c"


def build() -> Path:
    """The compiled program (cached by source hash); NativeUnavailable without a working compiler."""
    return compile_c(SOURCE, ("-O2", "-Wall", "-Wl,-z,now"))


def command(n: int, every: int | None = None, after: str = "") -> list[str]:
    return [str(build()), str(n)] + ([str(every or 0), after] if after else [str(every)] if every else [])


def run(n: int, every: int | None = None, after: str = "", loader: list[str] = ()) -> list[dict]:
    """The real glibc's snapshots of vecvec(n), as dicts (`loader`: run on another release)."""
    out = subprocess.run(list(loader) + command(n, every, after), env=clean_environment({}), capture_output=True,
                         text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]
