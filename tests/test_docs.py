"""The docs describe the house that is there: every path docs/architecture.md names exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURE = REPO / "docs" / "architecture.md"
# Where a path named in prose may be relative to.
ROOTS = (REPO, REPO / "src" / "estate", REPO / "sdk" / "src", REPO / "docs")
_PATHLIKE = re.compile(r"^[\w.-]+(/[\w.-]*)*$")


def tree_paths(markdown: str) -> list[tuple[str, bool]]:
    """``(path, planned)`` of every entry of the first code block after "## The house".

    An entry is the first word of a line; two spaces of indent per level; a name
    ending in ``/`` is a folder the lines below it are in. ``<name>`` is a wildcard.
    """
    block = markdown.split("## The house", 1)[1].split("```", 2)[1]
    found: list[tuple[str, bool]] = []
    stack: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        stack = [*stack[:depth], name]
        found.append(("".join(stack), line.rstrip().endswith("(planned)")))
    return found


def _exists(path: str) -> bool:
    pattern = re.sub(r"<[^>]+>", "*", path.rstrip("/"))
    return any(REPO.glob(pattern)) if "*" in pattern else (REPO / pattern).exists()


def test_every_path_of_the_tree_exists() -> None:
    entries = tree_paths(ARCHITECTURE.read_text(encoding="utf-8"))

    missing = [path for path, planned in entries if not planned and not _exists(path)]

    assert len(entries) > 40
    assert missing == []


def test_planned_parts_are_really_not_there_yet() -> None:
    """A planned part that exists must lose its mark, so the tree stays true both ways."""
    entries = tree_paths(ARCHITECTURE.read_text(encoding="utf-8"))

    built = [path for path, planned in entries if planned and _exists(path)]

    assert built == []


def test_every_python_module_of_the_service_is_in_the_tree() -> None:
    listed = {path for path, _ in tree_paths(ARCHITECTURE.read_text(encoding="utf-8"))}
    modules = [
        path.relative_to(REPO).as_posix()
        for path in sorted((REPO / "src" / "estate").glob("*/*.py"))
        if path.name != "__init__.py" and path.parent.name not in ("routes", "migrations")
    ] + [
        path.relative_to(REPO).as_posix()
        for path in sorted((REPO / "src" / "estate").glob("*.py"))
        if path.name != "__init__.py"
    ]

    assert [module for module in modules if module not in listed] == []


def test_every_path_named_in_the_prose_exists() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = {
        token
        for token in re.findall(r"`([^`\s]+)`", text)
        if "/" in token and _PATHLIKE.match(token) and not token.startswith("..")
    }

    missing = sorted(token for token in named if not any((root / token).exists() for root in ROOTS))

    assert len(named) > 5
    assert missing == []
