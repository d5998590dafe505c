"""Run a program under the recorder (record.c): paths checked before it runs, its death noted after."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import struct
import subprocess
from pathlib import Path
from typing import Callable, Sequence

from memlab.errors import MemlabError, UsageError
from memlab.native.build import build
from memlab.native.runner import clean_environment

__all__ = ["record", "needs_loader", "death_note"]

_ELF = b"\x7fELF"
_PT_INTERP = 3
_ELF_CLASS64 = 2
_LITTLE = 1
_EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


def needs_loader(program: str | Path) -> bool | None:
    """True if the ELF file asks for a dynamic loader (PT_INTERP), False if it is static; None if not ELF.

    Only a program started by the loader can have the recorder preloaded.

    >>> import sys; needs_loader(sys.executable)
    True
    """
    try:
        with open(program, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != _ELF:
                return None
            cls, data = head[4], head[5]
            order = "<" if data == _LITTLE else ">"
            if cls == _ELF_CLASS64:
                phoff, = struct.unpack_from(order + "Q", head, 32)
                phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
            else:
                phoff, = struct.unpack_from(order + "I", head, 28)
                phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return None
    for k in range(phnum):
        entry = table[k * phentsize:(k + 1) * phentsize]
        if len(entry) >= 4 and struct.unpack_from(order + "I", entry, 0)[0] == _PT_INTERP:
            return True
    return False


def death_note(signo: int) -> str:
    """The comment line that ends the trace of a program killed by signal `signo`.

    >>> death_note(9)
    '# memlab record: the program was killed by SIGKILL (signal 9); every call it made before is above\\n'
    """
    return (f"# memlab record: the program was killed by {_signal_name(signo)} (signal {signo}); "
            "every call it made before is above\n")


def _signal_name(signo: int) -> str:
    try:
        return signal.Signals(signo).name
    except ValueError:
        return f"signal {signo}"


def _program_file(name: str, env: dict[str, str]) -> Path:
    """The file that runs for command name `name` (found on PATH as the shell would)."""
    found = name if "/" in name else shutil.which(name, path=env.get("PATH"))
    if not found or not os.path.isfile(found):
        raise MemlabError(f"cannot run {name!r}: no such program")
    return Path(found).resolve()


def _interpreter(program: Path) -> Path | None:
    """The interpreter a `#!` script names, if any."""
    try:
        with open(program, "rb") as f:
            first = f.readline(256)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].split()
    return Path(os.fsdecode(words[0])).resolve() if words else None


def _check_output(output: str, program: Path) -> Path:
    """The trace file to write, refused if it cannot or must not be written."""
    target = Path(output)
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"no folder {str(folder)!r} for the trace {output!r}")
    if target.is_dir():
        raise UsageError(f"{output!r} is a folder; give a file name for the trace")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write the trace into {str(folder)!r}: permission denied")
    target = folder.resolve() / target.name
    if target.exists() or target.is_symlink():
        real = target.resolve()
        protected = [p for p in (program, _interpreter(program)) if p is not None]
        if any(real == p or (real.exists() and p.exists() and os.path.samefile(real, p)) for p in protected):
            raise UsageError(f"{output!r} is the program being recorded; memlab never overwrites it")
        mode = real.stat().st_mode if real.exists() else 0
        if real.exists() and not stat.S_ISREG(mode):
            raise UsageError(f"{output!r} is not a regular file; give a file name for the trace")
        if mode & _EXECUTABLE:
            raise UsageError(f"{output!r} is an executable file; memlab does not overwrite programs")
    return target


def record(command: Sequence[str], output: str, say: Callable[[str], None]) -> int:
    """Run `command` with the recorder preloaded, writing the trace to `output`; return the exit status.

    The status is the program's own, or 128 + the signal number if a signal ended it
    (then the trace ends with `death_note`). Bad paths and static programs are refused
    before anything runs (UsageError); a program that cannot be started is a MemlabError.
    """
    env = clean_environment()
    program = _program_file(command[0], env)
    target = _check_output(output, program)
    kind = needs_loader(program)
    if kind is False:
        raise UsageError(f"{command[0]!r} is statically linked: it starts without the dynamic loader, "
                         "so the recorder cannot be preloaded into it (link it dynamically to record it)")
    library = build("record")
    if target.exists():
        target.unlink()
    env.update({"LD_PRELOAD": str(library), "MEMLAB_RECORD": str(target)})
    try:
        status = subprocess.run(list(command), env=env).returncode
    except OSError as e:
        raise MemlabError(f"cannot run {command[0]!r}: {e.strerror}") from None
    pattern = re.compile(re.escape(target.name) + r"\.\d+(\.\d+)?")
    others = sorted(p.name for p in target.parent.iterdir() if pattern.fullmatch(p.name))
    if not target.exists():
        raise MemlabError(f"the recorder never started inside {command[0]!r} (a static program, or one "
                          "that clears LD_PRELOAD), so nothing was recorded"
                          + (f"; its children wrote {', '.join(others)}" if others else ""))
    files = ", ".join([target.name] + others)
    if status < 0:
        signo = -status
        with open(target, "a") as f:
            f.write(death_note(signo))
        say(f"{command[0]} was killed by {_signal_name(signo)} (signal {signo}); recorded {files} "
            f"in {target.parent}, every call up to its death")
        return 128 + signo
    say(f"recorded {files} in {target.parent} (program exit status {status})")
    return status
