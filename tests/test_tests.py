"""Meta-tests on the tests: annotated like the code, test plugins as real folders.

/work/annotate_tests.py-style annotations are kept here as a promise: a new test
without them fails this file, not a reviewer's eye.
"""

import ast
from pathlib import Path

import pytest

from estate.registry.manifest import parse_manifest

TESTS = Path(__file__).resolve().parent
FIXTURE_PLUGINS = TESTS / "fixtures" / "plugins"
TEST_MODULES = sorted(
    path for path in TESTS.rglob("*.py") if path.relative_to(TESTS).parts[0] != "fixtures"
)


def is_fixture(node: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(decorator) for decorator in node.decorator_list)


def unannotated(path: Path, root: Path = TESTS) -> list[str]:
    """``file:line name`` of each test function or fixture missing an annotation."""
    missing = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not (node.name.startswith("test_") or is_fixture(node)):
            continue
        arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        bare = [a.arg for a in arguments if a.annotation is None]
        if node.args.vararg and node.args.vararg.annotation is None:
            bare.append(f"*{node.args.vararg.arg}")
        if node.args.kwarg and node.args.kwarg.annotation is None:
            bare.append(f"**{node.args.kwarg.arg}")
        if node.returns is None:
            bare.append("return")
        if bare:
            where = path.relative_to(root)
            missing.append(f"{where}:{node.lineno} {node.name}: {', '.join(bare)}")
    return missing


def test_every_test_and_fixture_is_annotated() -> None:
    missing = [entry for path in TEST_MODULES for entry in unannotated(path)]

    assert missing == [], "annotate these (python3 /work/annotate_tests.py does most):\n" + (
        "\n".join(missing)
    )


def test_the_check_sees_a_missing_annotation(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import pytest\n\n"
        "def test_a(client, tmp_path: object) -> None: ...\n"
        "def test_b(tmp_path: object): ...\n"
        "@pytest.fixture\ndef thing(): ...\n"
        "def helper(x): ...\n"
        "def test_c(x: int) -> None: ...\n"
    )
    found = [entry.split(" ", 1)[1] for entry in unannotated(sample, tmp_path)]

    assert found == ["test_a: client", "test_b: return", "thing: return"]


@pytest.mark.parametrize("folder", sorted(FIXTURE_PLUGINS.iterdir()), ids=lambda p: p.name)
def test_every_fixture_plugin_is_a_plugin_some_test_uses(folder: Path) -> None:
    assert (folder / "provider.py").is_file()
    parse_manifest((folder / "manifest.yml").read_bytes())
    sources = "".join(path.read_text() for path in TEST_MODULES)
    assert f'"{folder.name}"' in sources, f"no test uses the fixture plugin {folder.name}"
