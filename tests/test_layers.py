"""Dependencies point one way, as docs/architecture.md draws them; a wrong-way import fails.

Every ``import`` in ``src/estate`` (at module level or inside a function alike) is read
with ``ast``; each part of the service may import only the parts listed for it below.
The SDK imports nothing from the service, and a built-in plugin only the SDK.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SERVICE = REPO / "src" / "estate"

# The helpers below every layer: settings, storage, text safety, the type taxonomy.
_BASE = {"config", "db", "redaction", "taxonomy", "__init__"}
# What each part of estate may import, besides itself and the standard library.
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "redaction": set(),
    "taxonomy": set(),
    "__init__": set(),
    "db": {"config"},
    "secretbox": {"config", "redaction"},
    "auth": _BASE,
    "runtime": {"config", "redaction"},  # never db, registry or inventory
    "inventory": _BASE,
    "registry": _BASE | {"runtime"},  # never inventory
    "context": _BASE | {"runtime", "secretbox"},
    "calls": _BASE | {"context", "registry", "runtime", "secretbox"},
    # Runs a plugin folder as the service would, without storing anything.
    "conformance": _BASE | {"registry", "inventory", "runtime"},
    "jobs": _BASE
    | {"calls", "conformance", "context", "registry", "inventory", "runtime", "secretbox"},
    "bootstrap": _BASE | {"auth", "context", "inventory", "registry", "runtime"},  # no face
    "demo": _BASE | {"bootstrap", "context", "jobs"},
    "logs": {"config"},
    "request_checks": {"db"},  # the faces' query and path parameter checks
    "request_sessions": {"context"},  # the faces' request sessions
}
FACES = {"api", "cli", "web"}
BELOW_FACES = set(ALLOWED)
for face in FACES:
    # A face may use everything beneath the faces; the CLI also starts the API (serve).
    ALLOWED[face] = BELOW_FACES | ({"api"} if face == "cli" else set())
# The API's app mounts the pages (api/app.py only: see test_only_the_app_mounts_the_pages);
# the pages call the same inventory, auth and jobs functions as the API routes and send
# their state-changing requests to the API itself, so web imports nothing of api.
ALLOWED["api"] = ALLOWED["api"] | {"web"}


def _part(path: Path, root: Path = SERVICE) -> str:
    relative = path.relative_to(root)
    return relative.parts[0].removesuffix(".py")


def _imported(path: Path, root: Path = SERVICE) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in ``path``, relative ones made absolute."""
    package = ["estate", *path.relative_to(root).with_suffix("").parts]
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
                if not node.module:  # from .. import x: x may be a module
                    found += [(node.lineno, f"{module}.{a.name}") for a in node.names]
                    continue
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def _service_files(root: Path = SERVICE) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "migrations" not in p.parts)


def _violations(root: Path = SERVICE) -> list[str]:
    """Every import in the service at ``root`` that its part may not make."""
    wrong = []
    for path in _service_files(root):
        source = _part(path, root)
        for line, module in _imported(path, root):
            names = module.split(".")
            if names[0] != "estate" or len(names) < 2:
                continue
            target = "__init__" if names[1].startswith("__") else names[1]
            if target != source and target not in ALLOWED.get(source, set()):
                wrong.append(f"{path.relative_to(root)}:{line}: {source} imports {module}")
    return wrong


def test_every_part_of_the_service_has_a_rule() -> None:
    parts = {_part(path) for path in _service_files()}

    assert parts - set(ALLOWED) == set(), "add the new part to ALLOWED and docs/architecture.md"


def test_imports_point_one_way() -> None:
    assert _violations() == []


def test_only_the_app_mounts_the_pages() -> None:
    importing_web = [
        str(path.relative_to(SERVICE))
        for path in _service_files()
        if _part(path) == "api"
        and any(module.startswith("estate.web") for _, module in _imported(path))
    ]

    assert importing_web == ["api/app.py"]


@pytest.mark.parametrize(
    "folder", [REPO / "sdk" / "src" / "inventory_providers", *(REPO / "plugins").glob("*/*")]
)
def test_the_sdk_and_plugins_import_nothing_of_the_service(folder: Path) -> None:
    wrong = [
        f"{path.relative_to(REPO)}:{line}: {module}"
        for path in sorted(folder.rglob("*.py"))
        for line, module in _imported_anywhere(path)
        if module == "estate" or module.startswith("estate.")
    ]

    assert wrong == []


def _imported_anywhere(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.append((node.lineno, node.module or ""))
    return found


def test_the_rule_catches_wrong_way_imports(tmp_path: Path) -> None:
    """The checker itself, on a small tree: relative, absolute and lazy imports."""
    (tmp_path / "runtime").mkdir()
    (tmp_path / "registry").mkdir()
    (tmp_path / "runtime" / "host.py").write_text(
        "from ..db.models import Resource\nfrom .errors import PluginExited\n"
    )
    (tmp_path / "registry" / "install.py").write_text(
        "def later():\n    from estate.inventory import ingest\n"
    )
    (tmp_path / "bootstrap.py").write_text("from .api import app\nfrom . import taxonomy\n")

    assert _violations(tmp_path) == [
        "bootstrap.py:1: bootstrap imports estate.api",
        "registry/install.py:2: registry imports estate.inventory",
        "runtime/host.py:1: runtime imports estate.db.models",
    ]
