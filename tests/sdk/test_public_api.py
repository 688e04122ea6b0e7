"""Meta-tests: the SDK's public surface is declared and documented, as STYLE.md promises."""

import dataclasses
import importlib
import inspect
import pkgutil
from types import ModuleType

import inventory_providers


def _public_modules() -> list[ModuleType]:
    names = [
        f"inventory_providers.{info.name}"
        for info in pkgutil.iter_modules(inventory_providers.__path__)
        if not info.name.startswith("_")  # __main__ runs the CLI when imported
    ]
    return [inventory_providers, *(importlib.import_module(name) for name in sorted(names))]


def _exported() -> list[tuple[str, str, object]]:
    return [
        (module.__name__, name, getattr(module, name, None))
        for module in _public_modules()
        for name in getattr(module, "__all__", ())
    ]


def test_the_sdk_has_the_modules_the_architecture_draws() -> None:
    names = {module.__name__.rpartition(".")[2] for module in _public_modules()}

    assert {"base", "errors", "loader", "serve", "testing"} <= names


def test_every_module_declares_all() -> None:
    missing = [module.__name__ for module in _public_modules() if not hasattr(module, "__all__")]

    assert missing == []


def test_every_module_has_a_docstring() -> None:
    undocumented = [module.__name__ for module in _public_modules() if not module.__doc__]

    assert undocumented == []


def test_every_exported_name_exists() -> None:
    missing = [
        f"{module}.{name}"
        for module, name, _ in _exported()
        if not hasattr(importlib.import_module(module), name)
    ]

    assert missing == []


def _has_own_docstring(obj: object) -> bool:
    # The object's own __doc__, never one inherited through inspect.getdoc: an error
    # class without a line saying when it is raised is not documented.
    doc = (getattr(obj, "__doc__", None) or "").strip()
    if dataclasses.is_dataclass(obj) and doc.startswith(f"{getattr(obj, '__name__', '')}("):
        return False  # the signature @dataclass writes when the class has no docstring
    return bool(doc)


def test_every_exported_class_and_function_has_its_own_docstring() -> None:
    undocumented = [
        f"{module}.{name}"
        for module, name, obj in _exported()
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not _has_own_docstring(obj)
    ]

    assert undocumented == []


def test_all_lists_no_name_twice() -> None:
    for module in _public_modules():
        exported = list(getattr(module, "__all__", ()))
        assert len(exported) == len(set(exported)), module.__name__


def test_the_package_reexports_what_plugins_import() -> None:
    # Plugins written for seed 000 import these names from the package and from base.
    for name in ("BaseProvider", "ProviderCredential", "ResourceData"):
        assert getattr(inventory_providers, name) is getattr(inventory_providers.base, name)


def test_base_reexports_every_name_of_the_contract_modules() -> None:
    # base.py was one module; plugins and the service still import all of it from there.
    for name in ("credential", "events", "provider", "resource", "vocabulary"):
        module = importlib.import_module(f"inventory_providers.{name}")
        for exported in module.__all__:
            if exported == "FIELD_KINDS":
                continue  # the service's schema test reads it where it is made
            assert exported in inventory_providers.base.__all__, f"{name}.{exported}"
            assert getattr(inventory_providers.base, exported) is getattr(module, exported)
