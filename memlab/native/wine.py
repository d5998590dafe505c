"""memlab's Windows probe (winheap.c), built for 32-bit Windows and run under Wine.

Wine runs Windows programs on Linux with its own implementation of the Windows API: its heap is
Wine's, not Microsoft's, so what it measures is held against the model's relations (what grows,
what shrinks, what comes back), never as Microsoft's exact numbers. Needs Debian's ``wine`` and
``wine32`` (with the i386 architecture added) and ``gcc-mingw-w64-i686``; without them every
call raises NativeUnavailable.

>>> sorted(FLAGS)
['2 GiB', '4 GiB']
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from memlab.native.build import NativeUnavailable, cache_dir, compile_c

__all__ = ["CROSS_CC", "FLAGS", "probe", "winheap", "wine_version"]

_SOURCE = Path(__file__).resolve().parent / "winheap.c"
#: The cross compiler for 32-bit Windows programs.
CROSS_CC = "i686-w64-mingw32-gcc"
#: The probe's builds: plain (2 GiB of user space) and large-address-aware (4 GiB under a
#: 64-bit Windows, which Wine on a 64-bit Linux is).
FLAGS = {"2 GiB": ("-O2", "-Wall"), "4 GiB": ("-O2", "-Wall", "-Wl,--large-address-aware")}
_INSTALL = ("dpkg --add-architecture i386 && apt-get update && apt-get install "
            "--no-install-recommends wine wine32 gcc-mingw-w64-i686")
TIMEOUT = 300


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise NativeUnavailable(f"the Windows checks need `{program}` (Debian: {_INSTALL})")
    return path


def winheap(space: str = "2 GiB") -> Path:
    """The probe built for 32-bit Windows (``space``: "2 GiB", or "4 GiB" large-address-aware)."""
    return compile_c(_SOURCE, FLAGS[space], name="winheap", compiler=_need(CROSS_CC), suffix=".exe")


def _environ() -> dict[str, str]:
    prefix = cache_dir() / "wineprefix"
    prefix.mkdir(parents=True, exist_ok=True)
    return dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")


def wine_version() -> str:
    """Wine's version ("wine-8.0 ..."), or NativeUnavailable."""
    done = subprocess.run([_need("wine"), "--version"], capture_output=True, text=True)
    return done.stdout.strip()


def probe(*args: object, space: str = "2 GiB") -> list[dict]:
    """Run ``winheap ARGS`` under Wine; its JSON lines, parsed (see winheap.c for the commands)."""
    wine = _need("wine")
    exe = winheap(space)
    try:
        done = subprocess.run([wine, str(exe), *map(str, args)], capture_output=True, text=True,
                              env=_environ(), timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        raise NativeUnavailable(f"winheap {' '.join(map(str, args))} did not end under Wine "
                                f"within {TIMEOUT} s") from exc
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = " ".join((done.stderr or done.stdout).split())[-300:]
        raise NativeUnavailable(f"winheap {' '.join(map(str, args))} failed under Wine "
                                f"(exit status {done.returncode}): {tail}")
    return [json.loads(line) for line in lines]
