"""The documentation a newcomer reads: links resolve, DESIGN.md stays short, the trace reference
states what the code does."""

import json
import re
from pathlib import Path

import pytest

from memlab.errors import TraceError
from memlab.glibc import Malloc
from memlab.native import replay_native
from memlab.replay import replay
from memlab.trace import parse_trace

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "DESIGN.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for the headings of a Markdown file."""
    found = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    """Every relative link names an existing file, and an anchor names one of its headings."""
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        assert path.exists(), f"{doc.name}: {target}"
        if anchor:
            assert anchor in anchors(path), f"{doc.name}: no heading for {target}"


def test_design_is_short_and_links_the_docs():
    text = (ROOT / "DESIGN.md").read_text()
    assert len(text.splitlines()) <= 320
    for name in ("trace-format.md", "validation.md", "releases.md", "bulk-steps.md"):
        assert f"(docs/{name}" in text, name


def test_the_tree_in_design_names_every_subpackage():
    text = (ROOT / "DESIGN.md").read_text()
    for package in sorted(p.parent.name for p in (ROOT / "memlab").glob("*/__init__.py")):
        assert f"{package}/" in text, package


def reference() -> str:
    return (ROOT / "docs" / "trace-format.md").read_text()


def test_the_example_snapshot_is_the_model_and_the_real_glibc(glibc_236):
    """The JSON line the reference shows for `a 0 1`, `s first` is what both sides print."""
    line = re.search(r"^    (\{\"op\": 1, \"label\": \"first\".*\})$", reference(), re.M)[1]
    expected = json.loads(line)
    assert replay("a 0 1\ns first\n", Malloc)[0].as_dict() == expected
    assert replay_native(parse_trace("a 0 1\ns first\n"))[0] == expected


@pytest.mark.parametrize("bad", [
    "q 3", "a 0", "a 0 -1", "o M_TOP_PAD x", "o M_X 3", "f 4294967296", "o 1 2147483648",
    "a 0 18446744073709551616", "a 0 \u00b2", "a\x1c0 1", "1 2 3\na 0 1",
    "p", "p x 0", "p g 4", "p g 32768 1", "p 4294967296 0", "p 1 0 4294967296", "p 1 8 2 0x1x",
])
def test_each_error_reason_is_in_the_reference(bad):
    """The reason parse_trace gives for each kind of bad line is quoted in the reference."""
    with pytest.raises(TraceError) as info:
        parse_trace(bad)
    reason = info.value.reason
    words = re.sub(r"'[^']*'", "'…'", reason).split("'…'")[0].strip()
    assert words and words in reference(), reason
