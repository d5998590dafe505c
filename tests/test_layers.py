"""The layer table: each memlab module imports only from its own layer and the layers above it.

Layers, from the top (imported by everything below) to the bottom:

    units, errors, progress byte arithmetic, exceptions, progress displays
    space                   the simulated kernel
    glibc, allocators,      allocator models (windows: the Windows heap, as documented)
    windows
    trace, snapshot         the trace format, snapshots
    replay, steps           replaying traces on a model
    leaks                   memcheck's leak classes from the pointers a trace stores
    native                  the real glibc and other allocators (C replayer, probes, timings)
    scenarios               the lessons' named traces and what they compute
    charts                  matplotlib pictures
    widgets                 ipywidgets dashboards (a lesson's dashboard runs its scenario)
    lessons                 the lesson index (lesson 00's list, the links to the next lesson)
    homework                graded assignments: per-student problems, goals, Otter commands
    cli, __main__, memlab   the command line; the package's re-exports

Imports are read from the source (ast), those inside functions included. The core (down to
replay and steps) may import neither matplotlib, numpy nor ipywidgets.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "memlab"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("memlab.units", "memlab.errors", "memlab.progress"),
    ("memlab.space",),
    ("memlab.glibc", "memlab.allocators", "memlab.windows"),
    ("memlab.trace", "memlab.snapshot"),
    ("memlab.replay", "memlab.steps", "memlab.score"),
    ("memlab.leaks",),
    ("memlab.native",),
    ("memlab.scenarios",),
    ("memlab.charts",),
    ("memlab.widgets", "memlab.lessons"),
    ("memlab.homework",),
    ("memlab.cli", "memlab.__main__", "memlab"),
)
CORE_DEPTH = 4                     # layers 0..4: units .. replay, steps
FORBIDDEN_IN_CORE = ("matplotlib", "numpy", "ipywidgets", "IPython", "PIL")


def layer_of(module: str) -> int:
    """The row of the layer table a memlab module (or package) belongs to.

    >>> layer_of("memlab.glibc.arena"), layer_of("memlab"), layer_of("memlab.space")
    (2, 11, 1)
    """
    for depth, names in enumerate(LAYERS):
        for name in names:
            if name == "memlab" and module == "memlab":
                return depth
            if name != "memlab" and (module == name or module.startswith(name + ".")):
                return depth
    raise KeyError(f"{module} is in no row of the layer table (add it to LAYERS)")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a file (or in `text`, as that file)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    source = path.read_text() if text is None else text
    found = []
    for node in ast.walk(ast.parse(source, str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = node.module or ""
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            # `from memlab.x import y` may name a submodule y: count it as memlab.x.y
            subs = [f"{target}.{alias.name}" for alias in node.names]
            found += [(node.lineno, s) for s in subs if _is_module(s)] or [(node.lineno, target)]
    return found


def _is_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0] != "memlab":
        return False
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def violations(path: Path, text: str | None = None) -> list[str]:
    """Imports of `path` that break the layer table (one line each)."""
    name = module_name(path)
    depth = layer_of(name)
    out = []
    for line, target in imports_of(path, text):
        top = target.split(".")[0]
        where = f"{path.relative_to(ROOT)}:{line}"
        if top == "memlab":
            if layer_of(target) > depth:
                out.append(f"{where}: {name} (layer {depth}) imports {target} "
                           f"(layer {layer_of(target)}, below it)")
        elif depth <= CORE_DEPTH and top in FORBIDDEN_IN_CORE:
            out.append(f"{where}: {name} is in the core and imports {target}")
    return out


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    assert MODULES, "no modules found"
    for path in MODULES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layer_table(path):
    assert violations(path) == []


def test_a_violation_is_caught():
    """The check itself can fail: a space module importing the model (even inside a
    function, even relatively) or numpy is reported; the same imports in a chart are not."""
    text = "import numpy\n\ndef f():\n    from ..glibc import Malloc\n    return Malloc\n"
    found = violations(PACKAGE / "space" / "probe.py", text)
    assert len(found) == 2, found
    assert "imports numpy" in found[0] and "imports memlab.glibc" in found[1]
    assert violations(PACKAGE / "charts" / "probe.py", text) == []
    with pytest.raises(KeyError, match="no row of the layer table"):
        violations(PACKAGE / "newthing.py", "")


def test_importing_the_core_loads_no_plotting_or_widgets():
    """At run time too: `import memlab` (the model, traces, replay) pulls in none of them."""
    code = ("import sys, memlab, memlab.steps, memlab.glibc, memlab.space; "
            f"print(sorted(m for m in {FORBIDDEN_IN_CORE!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
