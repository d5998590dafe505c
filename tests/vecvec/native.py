"""Build and run tests/vecvec/vecvec.c (the vecvec experiment on the real glibc)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "vecvec.c"


def build() -> Path | None:
    """The compiled program (cached by source hash), or None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    from memlab.native.build import HEADER, cache_dir

    digest = hashlib.sha256(SOURCE.read_bytes() + HEADER.read_bytes()).hexdigest()[:16]
    target = cache_dir() / f"vecvec-{digest}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        subprocess.run([cc, "-O2", "-Wall", "-Wl,-z,now", "-o", str(tmp), str(SOURCE)], check=True)
        tmp.replace(target)
    return target


def command(n: int, every: int | None = None, after: str = "") -> list[str]:
    program = build()
    if program is None:
        raise RuntimeError("no C compiler")
    return [str(program), str(n)] + ([str(every or 0), after] if after else [str(every)] if every else [])


def run(n: int, every: int | None = None, after: str = "", loader: list[str] = ()) -> list[dict]:
    """The real glibc's snapshots of vecvec(n), as dicts (`loader`: run on another release)."""
    import json

    from memlab.native.runner import clean_environment

    out = subprocess.run(list(loader) + command(n, every, after), env=clean_environment({}), capture_output=True,
                         text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]
