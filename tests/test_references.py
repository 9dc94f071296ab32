"""Every reference a reader meets in the code can be followed inside the repository.

Comments and docstrings of the integration, the app, the fakes, the tests, the
benchmarks and the scripts say *why*, and when they lean on a device fact or an
earlier interface they point to the page that holds it (``docs/protocols/…``).
These tests fail when one cites material that is not in the repository — the
research notes' sections ("research §2.10"), their short source names ("NICK",
"ANICOLL", "SEN #21": the pages name projects in full instead), another
project's issue number ("#49") or a seed ("seed 001") without a path to a page —
and when a ``docs/….md`` path or ``#anchor`` named in the code does not exist.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
import io
from pathlib import Path
import re
import tokenize

import pytest

from .test_docs import LINK, _anchors, _prose

ROOT = Path(__file__).parent.parent
CODE_ROOTS = ("custom_components", "addon", "sunstream_fakes", "tests", "bench", "scripts")
#: Text files other than Python read line by line (comments and data descriptions).
TEXT_SUFFIXES = (".js", ".json", ".yaml", ".yml", ".sh", ".toml")
SKIP_PARTS = {"node_modules", "__pycache__", "snapshots", ".develop", ".venv"}
#: Manual pages outside docs/protocols (those name their sources, sections included).
PAGES = (
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "README.md",
    ROOT / "bench" / "README.md",
    *sorted((ROOT / "addon" / "sunstream").glob("*.md")),
)
PROTOCOL_PAGES = sorted((ROOT / "docs" / "protocols").glob("*.md"))

#: The research notes' keys for their sources; the protocol pages use project names.
SHORT_NAMES = re.compile(
    r"\b(?:NICK|MARV|WINET2|W2M|ANICOLL|BJ|OPT|KLAREN|SMWC|SUNGATHER|SGLIB|NITRO|STEFAN|EYEM4"
    r"|DOC123|DOC128|REG2024|A2M(?:-C)?|POSHY|SEN|THO|AXEL|UMR|SORX|TF|EVCC|OWB|RUDY|DAL|SOLAX"
    r"|CG)\b"
)
OUTSIDE = re.compile(r"§|shared/research|\bresearch notes?\b|\bthe research\b|\bresearch/")
ISSUE = re.compile(r"(?:^|[\s(,;])#\d+\b")
SEED = re.compile(r"\bseeds? \d{3}\b", re.IGNORECASE)
REPO_PATH = re.compile(
    r"(?<![\w./-])((?:docs|addon|bench|custom_components|sunstream_fakes|tests|scripts)"
    r"/[\w./-]*?\.md)(?:#([\w-]+))?"
)


@dataclass(frozen=True, slots=True)
class Note:
    """One comment block, docstring or text line, and where it is."""

    path: Path
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.text.strip()[:120]}"


def _files() -> Iterator[Path]:
    for root in CODE_ROOTS:
        for path in sorted((ROOT / root).rglob("*")):
            if path.is_file() and not SKIP_PARTS.intersection(path.parts):
                yield path


def _python_notes(path: Path) -> Iterator[Note]:
    source = path.read_text("utf-8")
    block: list[str] = []
    start = 0
    last = -1
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row = token.start[0]
            if block and row != last + 1:
                yield Note(path, start, "\n".join(block))
                block = []
            if not block:
                start = row
            block.append(token.string.lstrip("#!: "))
            last = row
    if block:
        yield Note(path, start, "\n".join(block))
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            yield Note(path, node.lineno, node.value.value)


def _notes() -> Iterator[Note]:
    for path in _files():
        if path.name == Path(__file__).name:
            continue  # this file names what it forbids
        if path.suffix == ".py":
            yield from _python_notes(path)
        elif path.suffix in TEXT_SUFFIXES:
            for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                yield Note(path, number, line)


NOTES = list(_notes())


def _has_repo_path(text: str) -> bool:
    return any((ROOT / match[1]).is_file() for match in REPO_PATH.finditer(text))


def test_the_scan_sees_the_code() -> None:
    """The scan must find comments and docstrings, or every test below passes vacuously."""
    paths = {note.path.relative_to(ROOT).as_posix() for note in NOTES}
    assert "custom_components/sunstream/pysunstream/winet/session.py" in paths
    assert "bench/reference/server.js" in paths
    assert any("docs/protocols/winet.md#" in note.text for note in NOTES)
    assert len(NOTES) > 1000


def test_no_citation_of_material_outside_the_repository() -> None:
    offenders = [
        f"{note}  ← {match[0]!r}"
        for note in NOTES
        for pattern in (SHORT_NAMES, OUTSIDE)
        if (match := pattern.search(note.text))
    ]
    offenders += [
        f"{note}  ← {match[0].strip()!r}"
        for note in NOTES
        if note.path.suffix == ".py" and (match := ISSUE.search(note.text))
    ]
    assert not offenders, "cite a page in docs/ instead:\n" + "\n".join(offenders)


def test_seeds_are_cited_with_their_page() -> None:
    offenders = [
        str(note) for note in NOTES if SEED.search(note.text) and not _has_repo_path(note.text)
    ]
    assert not offenders, "add docs/protocols/app-seeds.md#seed-NNN:\n" + "\n".join(offenders)


def _references() -> Iterator[tuple[str, str, str]]:
    for note in NOTES:
        for match in REPO_PATH.finditer(note.text):
            yield f"{note.path.relative_to(ROOT)}:{note.line}", match[1], match[2] or ""


REFERENCES = sorted(set(_references()))


def test_code_names_protocol_pages() -> None:
    """The protocol pages are what the code cites; the list below must not be empty."""
    assert {path for _, path, _ in REFERENCES} >= {
        "docs/protocols/winet.md",
        "docs/protocols/alphaess.md",
        "docs/protocols/app-seeds.md",
    }


@pytest.mark.parametrize(
    ("note", "path", "anchor"), REFERENCES, ids=[f"{n}->{p}#{a}" for n, p, a in REFERENCES]
)
def test_referenced_page_and_anchor_exist(note: str, path: str, anchor: str) -> None:
    target = ROOT / path
    assert target.is_file(), f"{note}: {path} does not exist"
    if anchor:
        assert anchor in _anchors(target), f"{note}: no heading for #{anchor} in {path}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_manual_pages_cite_nothing_outside_the_repository(page: Path) -> None:
    text = _prose(page.read_text("utf-8"))
    found = [match[0] for match in OUTSIDE.finditer(text)]
    assert not found, f"{page.name}: {found}"
    for line in text.splitlines():
        if SEED.search(line):
            assert "app-seeds.md#seed-" in line, f"{page.name}: link the seed: {line.strip()}"


def test_performance_links_stay_in_the_repository() -> None:
    page = ROOT / "docs" / "performance.md"
    text = page.read_text("utf-8")
    assert not re.search(r"https?://", text), "name the project and version instead of a URL"
    for target in LINK.findall(_prose(text)):
        resolved = (page.parent / target.partition("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"performance.md links outside: {target}"


@pytest.mark.parametrize("page", PROTOCOL_PAGES, ids=lambda page: page.name)
def test_protocol_page_links_resolve(page: Path) -> None:
    for target in LINK.findall(_prose(page.read_text("utf-8"))):
        path_part, _, anchor = target.partition("#")
        path = (page.parent / path_part).resolve() if path_part else page
        assert path.is_relative_to(ROOT), f"{page.name}: {target} leaves the repository"
        assert path.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert anchor in _anchors(path), f"{page.name}: no heading for #{anchor}"
