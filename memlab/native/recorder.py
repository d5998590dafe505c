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
from memlab.glibc.arch import DEFAULT_ARCH
from memlab.native.build import build
from memlab.native.runner import clean_environment

__all__ = ["record", "needs_loader", "elf_arch", "check_preloadable", "program_arch", "death_note"]

_ELF = b"\x7fELF"
_PT_INTERP = 3
_ELF_CLASS32, _ELF_CLASS64 = 1, 2
_LITTLE = 1
#: (ELF class, e_machine) of the programs the recorder can be built for, by memlab's name of
#: the architecture (memlab.glibc.arch.ARCHES).
_ELF_ARCHES = {(_ELF_CLASS64, 62): "x86-64", (_ELF_CLASS32, 3): "i386"}
_EXECUTABLE = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
#: Scripts whose interpreter is itself a script: as deep as the kernel follows them.
_NESTING = 4


def _elf(program: str | Path) -> tuple[int, int, bool] | None:
    """(ELF class, e_machine, whether it asks for a dynamic loader) of an ELF file; None if not ELF."""
    try:
        with open(program, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != _ELF:
                return None
            cls, data = head[4], head[5]
            order = "<" if data == _LITTLE else ">"
            machine, = struct.unpack_from(order + "H", head, 18)
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
    interp = any(struct.unpack_from(order + "I", entry, 0)[0] == _PT_INTERP
                 for entry in (table[k * phentsize:(k + 1) * phentsize] for k in range(phnum)) if len(entry) >= 4)
    return cls, machine, interp


def needs_loader(program: str | Path) -> bool | None:
    """True if the ELF file asks for a dynamic loader (PT_INTERP), False if it is static; None if not ELF.

    Only a program started by the loader can have the recorder preloaded.

    >>> import sys; needs_loader(sys.executable)
    True
    """
    elf = _elf(program)
    return None if elf is None else elf[2]


def elf_arch(program: str | Path) -> str | None:
    """The architecture an ELF program is built for, as memlab names it ("x86-64", "i386"); "" for
    any other (an x32 or ARM program); None if the file is not ELF.

    >>> import sys; elf_arch(sys.executable)
    'x86-64'
    """
    elf = _elf(program)
    return None if elf is None else _ELF_ARCHES.get(elf[:2], "")


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


def _shebang_words(program: Path) -> list[str]:
    """The words of a `#!` line (interpreter first), or [] if the file is not such a script."""
    try:
        with open(program, "rb") as f:
            first = f.readline(256)
    except OSError:
        return []
    if not first.startswith(b"#!"):
        return []
    return [os.fsdecode(w) for w in first[2:].split()]


def _interpreter(program: Path) -> Path | None:
    """The interpreter a `#!` script names, if any."""
    words = _shebang_words(program)
    return Path(words[0]).resolve() if words else None


def _started_by(program: Path, env: dict[str, str]) -> list[Path]:
    """The files the kernel runs for `program`: a `#!` script's interpreter (through `env NAME`
    too), and that interpreter's, up to the kernel's nesting limit; the program itself first."""
    chain = [program]
    for _ in range(_NESTING):
        interpreter = _interpreter(chain[-1])
        if interpreter is None:
            break
        if interpreter.name == "env":     # `#!/usr/bin/env NAME`: NAME as found on PATH
            words = [w for w in _shebang_words(chain[-1])[1:] if not w.startswith("-") and "=" not in w]
            found = shutil.which(words[0], path=env.get("PATH")) if words else None
            chain.append(interpreter)
            if found is None:
                break
            interpreter = Path(found).resolve()
        chain.append(interpreter)
    return chain


def _describe(program: Path, name: str, runs: Path) -> str:
    """How refusals name the program: `name`, or `name` and the interpreter that runs it."""
    return f"{name!r}" if runs == program else f"{name!r} (a script run by {str(runs)!r})"


def program_arch(program: Path, name: str, env: dict[str, str]) -> str:
    """The architecture of the program that finally runs (a script's interpreter): the recorder is
    built for it. A program built for another than x86-64 or i386 is refused (UsageError); a file
    that is not ELF is taken as x86-64 (starting it fails as it would without the recorder).

    >>> import sys; program_arch(Path(sys.executable), "python", {})
    'x86-64'
    """
    runs = _started_by(program, env)[-1]
    arch = elf_arch(runs)
    if arch == "":
        cls, machine, _ = _elf(runs)
        bits = {_ELF_CLASS32: "32-bit", _ELF_CLASS64: "64-bit"}.get(cls, "ELF")
        raise UsageError(f"{_describe(program, name, runs)} is a {bits} program for ELF machine {machine}: "
                         f"the recorder is built for {' and '.join(sorted(set(_ELF_ARCHES.values())))} "
                         "programs only")
    return arch or DEFAULT_ARCH


def check_preloadable(program: Path, name: str, env: dict[str, str]) -> None:
    """Refuse (UsageError) a program the recorder cannot be preloaded into, before it runs.

    The program that finally runs (a script's interpreter) must start through the dynamic
    loader (PT_INTERP) and must not be set-user-ID or set-group-ID to another user or group:
    the loader ignores LD_PRELOAD in such a program (secure-execution mode).

    >>> import sys; check_preloadable(Path(sys.executable), "python", {})
    """
    runs = _started_by(program, env)[-1]
    by = _describe(program, name, runs)
    if needs_loader(runs) is False:
        raise UsageError(f"{by} is statically linked: it starts without the dynamic loader, so the "
                         "recorder cannot be preloaded into it (link it dynamically to record it)")
    try:
        st, nosuid = runs.stat(), os.statvfs(runs).f_flag & os.ST_NOSUID
    except OSError:
        return
    if nosuid:
        return
    if st.st_mode & stat.S_ISUID and st.st_uid != os.getuid():
        bit = f"set-user-ID (owner uid {st.st_uid})"
    elif st.st_mode & stat.S_ISGID and st.st_gid != os.getgid():
        bit = f"set-group-ID (group gid {st.st_gid})"
    else:
        return
    raise UsageError(f"{by} is {bit}: the dynamic loader ignores preloaded libraries in such a program, "
                     "so the recorder cannot see into it (record a copy without that bit, or run as its owner)")


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


#: What the recorder's closing comments count that a replay cannot reproduce: (pattern of the
#: count in those comments, what to call it).
_GAPS = (
    (r"skipped (\d+) calls before the recorder was ready", "calls before the recorder was ready"),
    (r"(\d+) nested calls", "calls nested in the recorder"),
    (r"(\d+) frees and", "frees of unknown pointers"),
    (r"(\d+) reallocs of unknown pointers", "reallocs of unknown pointers"),
    (r"(\d+) calls came from threads not started", "calls of threads not followed (or after their exit)"),
    (r"(\d+) threads not followed", "threads not followed"),
    (r"(\d+) created with another number of modules", "threads created after a dlopen of thread-local storage"),
    (r"(\d+) exits not awaited", "thread exits not awaited"),
)
_TAIL = 4096     # bytes at the end of a trace that hold the closing comments


def gaps(trace: Path) -> list[str]:
    """What the closing comments of a recorded trace say was made but not written, e.g.
    ["2 frees of unknown pointers"]; [] when the recording is complete.

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "t.trace"
    >>> _ = f.write_text("a 0 1\\n# memlab record: skipped 0 calls before the recorder was ready, 3 nested calls\\n")
    >>> gaps(f)
    ['3 calls nested in the recorder']
    """
    with open(trace, "rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - _TAIL))
        tail = f.read().decode(errors="replace")
    comments = "\n".join(line for line in tail.splitlines() if line.startswith("# memlab record:"))
    found = []
    for pattern, what in _GAPS:
        m = re.search(pattern, comments)
        if m and int(m.group(1)):
            found.append(f"{m.group(1)} {what}")
    return found


def record(command: Sequence[str], output: str, say: Callable[[str], None]) -> int:
    """Run `command` with the recorder preloaded, writing the trace to `output`; return the exit status.

    The status is the program's own, or 128 + the signal number if a signal ended it
    (then the trace ends with `death_note`). The recorder is built for the program's
    architecture (`program_arch`: an i386 program gets it built with -m32), which the trace's
    `# arch` line names. Bad paths, and programs the recorder cannot be
    preloaded into (`check_preloadable`), are refused before anything runs (UsageError); a
    program that cannot be started is a MemlabError.
    """
    env = clean_environment()
    program = _program_file(command[0], env)
    target = _check_output(output, program)
    check_preloadable(program, command[0], env)
    library = build("record", program_arch(program, command[0], env))
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
    missing = gaps(target)
    if missing:
        say(f"not in the trace, so a replay may differ: {', '.join(missing)} (its closing comments)")
    return status
