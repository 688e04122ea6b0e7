"""``manifest.yml``: a plugin's identity, version, resource types and parameters.

The file is galaxy.yml style, as the plugins of seed 000 write it. Keys Estate
does not know (``ansible_collection``, …) are kept and shown, never refused; a
known key with a bad value is refused with a message naming the key path, such
as ``manifest.yml: supported_resource_types[2]: unknown type 'vm'``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from inventory_providers.profiles import PROFILE_NAMES

from .. import taxonomy
from .errors import InvalidPackage
from .policy import PolicyError, parse_policy

MANIFEST_NAME = "manifest.yml"
MAX_MANIFEST_BYTES = 1024 * 1024
_MAX_NODES = 100_000  # bounds YAML alias expansion ("billion laughs") once it is walked

Infrastructure = Literal[
    "private_cloud",
    "public_cloud",
    "on_premise",
    "bare_metal",
    "hybrid",
    "network",
    "networking",
    "storage",
    "other",
]
INFRASTRUCTURES: tuple[str, ...] = get_args(Infrastructure)
ParameterType = Literal["string", "integer", "boolean", "list", "dict"]
ALWAYS_SECRET = frozenset({"password"})
# Accepted whatever a manifest declares: the fields of the SDK's ProviderCredential that
# come from connection_config, and ``verify_ssl``, which seed 000's own provider payload
# sends to a plugin whose manifest it does not show.
ALWAYS_ACCEPTED = ("username", "password", "port", "verify_ssl")

_SLUG = re.compile(r"[a-z][a-z0-9_-]*")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
)
_EXPECTED = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "list": "a list",
    "dict": "a mapping",
}
_TYPE_ERRORS = {
    "string_type": "a string",
    "int_type": "an integer",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
}


class _Problem(ValueError):
    """A validation fault that also says where it is, below the field that found it."""

    def __init__(self, where: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.where = where


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a lowercase slug (a-z, 0-9, '_' or '-', starting with a letter)"
        )
    return value


def _semver(value: str) -> str:
    if not _SEMVER.fullmatch(value):
        raise ValueError(f"{value!r} is not a SemVer version such as 1.2.3 or 1.2.3-rc.1")
    return value


def _estate_range(value: str) -> str:
    try:
        parse_policy(value)
    except PolicyError as exc:
        raise ValueError(f"{exc} (a range over Estate's version, such as '>=0.1,<1')") from None
    return value


def _protocol_version(value: int) -> int:
    if value < 1:
        raise ValueError(f"{value} is not a protocol version (1, 2, ...)")
    return value


def _known_type(value: str) -> str:
    if not taxonomy.is_known(value):
        raise ValueError(f"unknown type {value!r}")
    return value


def one_of(kind: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``; else ``ValueError`` naming the nearest."""
    if value not in allowed:
        close = difflib.get_close_matches(value, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown {kind} {value!r}{hint} (one of {', '.join(allowed)})")
    return value


def profile_name(value: str) -> str:
    """A standard capability profile's name; ``ValueError`` for another word."""
    return one_of("profile", value, PROFILE_NAMES)


MATURITIES = ("experimental", "alpha", "beta", "stable")


def _maturity(value: str) -> str:
    return one_of("maturity", value, MATURITIES)


def _param_name(value: str) -> str:
    if not _PARAM_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a valid parameter name")
    return value


def _relative_path(value: str) -> str:
    path = PurePosixPath(value)
    if not value or "\\" in value or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{value!r} must be a relative path inside the plugin folder")
    return value


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Slug = Annotated[str, AfterValidator(_slug)]
RelativePath = Annotated[str, AfterValidator(_relative_path)]
KnownType = Annotated[str, AfterValidator(_known_type)]


def value_matches(kind: str, value: Any) -> bool:
    """Tell whether ``value`` is of the connection-parameter type ``kind``."""
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    expected = {"string": str, "boolean": bool, "list": list, "dict": dict}.get(kind)
    return expected is not None and isinstance(value, expected)


class ConnectionParameter(BaseModel):
    """One key a provider's ``connection_config`` may (or must) carry."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: Annotated[str, AfterValidator(_param_name)]
    description: str | None = None
    type: ParameterType = "string"
    required: bool = False
    default: Any = None
    secret: bool = False

    @field_validator("default")
    @classmethod
    def _default_matches_type(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if value is not None and kind is not None and not value_matches(kind, value):
            raise ValueError(f"must be {_EXPECTED[kind]}, as the type {kind!r} says")
        return value


class Dependencies(BaseModel):
    """Dependency files, relative to the plugin folder (collection conventions)."""

    model_config = ConfigDict(extra="allow", strict=True)

    python: RelativePath | None = None
    collections: RelativePath | None = None
    system: RelativePath | None = None


class Runtime(BaseModel):
    """How to start a plugin that is not a Python ``provider.py``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    command: Annotated[list[str], Field(min_length=1)]


class Manifest(BaseModel):
    """The validated content of a plugin's ``manifest.yml``; unknown keys are kept."""

    model_config = ConfigDict(extra="allow", strict=True)

    namespace: str | None = None
    name: str | None = None
    version: Annotated[str, AfterValidator(_semver)]
    display_name: str | None = None
    description: str | None = None
    vendor: Slug
    provider_type: Slug
    infrastructure: Infrastructure | None = None
    authors: list[str] = []
    license: Annotated[list[str], BeforeValidator(_one_or_many)] = []
    repository: str | None = None
    documentation: str | None = None
    requires_python: str | None = None
    supported_resource_types: Annotated[list[KnownType], Field(min_length=1)]
    # The platform's native type names and the resource type each is, such as
    # ``{VirtualMachine: virtual_machine}``: served by ``vendor-type-mappings/``.
    vendor_type_mappings: dict[str, KnownType] = {}
    connection_parameters: list[ConnectionParameter] = []
    dependencies: Dependencies = Field(default_factory=Dependencies)
    runtime: Runtime | None = None
    # The capability profiles the plugin claims (inventory_providers.profiles); install
    # checks that its define answer implements each one.
    profiles: list[Annotated[str, AfterValidator(profile_name)]] = []
    # For the catalog: how far along the plugin is, and words to find it by.
    maturity: Annotated[str, AfterValidator(_maturity)] | None = None
    tags: list[Annotated[str, AfterValidator(_slug)]] = []
    # Compatibility (registry/compatibility.py): the Estate versions it runs on and the
    # wire-protocol versions it speaks.
    requires_estate: Annotated[str, AfterValidator(_estate_range)] | None = None
    protocol_versions: (
        Annotated[list[Annotated[int, AfterValidator(_protocol_version)]], Field(min_length=1)]
        | None
    ) = None

    @field_validator("connection_parameters")
    @classmethod
    def _names_are_unique(cls, params: list[ConnectionParameter]) -> list[ConnectionParameter]:
        seen: set[str] = set()
        for index, param in enumerate(params):
            if param.name in seen:
                raise _Problem((index, "name"), f"duplicate name {param.name!r}")
            seen.add(param.name)
        return params

    @property
    def key(self) -> str:
        """The registry key, ``"vendor:provider_type"``."""
        return f"{self.vendor}:{self.provider_type}"

    def unknown_keys(self) -> dict[str, Any]:
        """Return the top-level keys Estate does not know, with their values."""
        return dict(self.model_extra or {})


def parse_manifest(text: str | bytes) -> Manifest:
    """Parse and validate ``manifest.yml`` content, or raise ``InvalidPackage``.

    Every problem found is reported at once, each prefixed ``manifest.yml:``
    and naming the key path (``connection_parameters[1].type: …``).
    """
    data = _load(text)
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        raise InvalidPackage([_describe(error) for error in exc.errors()]) from None


def check_connection_config(
    params: Sequence[ConnectionParameter], config: Mapping[str, Any]
) -> list[str]:
    """Check a provider's ``connection_config`` against the declared parameters.

    Returns the problems (``connection_config.port: must be an integer``), or an
    empty list. A required parameter that has a default may be left out; keys
    no parameter declares are allowed.
    """
    problems: list[str] = []
    for param in params:
        value = config.get(param.name)
        if value is None or value == "":
            if param.required and param.default is None:
                problems.append(f"connection_config.{param.name}: is required")
        elif not value_matches(param.type, value):
            problems.append(f"connection_config.{param.name}: must be {_EXPECTED[param.type]}")
    return problems


def check_connection_keys(manifest: Manifest, config: Mapping[str, Any]) -> list[str]:
    """Name every ``connection_config`` key the manifest does not declare, with the
    closest declared name (``connection_config.vms_per_hots: unknown parameter for
    simulated:datacenter; did you mean 'vms_per_host'? (known: …)``).

    A manifest that declares no parameter says nothing of its keys: all are accepted.
    """
    declared = [p.name for p in manifest.connection_parameters]
    if not declared:
        return []
    accepted = set(declared) | set(ALWAYS_ACCEPTED)
    candidates = list(dict.fromkeys([*declared, *ALWAYS_ACCEPTED]))
    known = ", ".join(name for name in declared if name not in ALWAYS_ACCEPTED) or "none"
    problems = []
    for key in config:
        if key in accepted:
            continue
        close = difflib.get_close_matches(key, candidates, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        problems.append(
            f"connection_config.{key}: unknown parameter for {manifest.key}{hint} (known: {known})"
        )
    return problems


def secret_names(manifest: Manifest | None) -> set[str]:
    """Return the ``connection_config`` keys to keep secret.

    ``password`` always is; so is every parameter the manifest marks ``secret: true``.
    """
    names = set(ALWAYS_SECRET)
    if manifest is not None:
        names.update(p.name for p in manifest.connection_parameters if p.secret)
    return names


def _load(text: str | bytes) -> dict[str, Any]:
    if len(text) > MAX_MANIFEST_BYTES:
        raise InvalidPackage(f"{MANIFEST_NAME}: larger than {MAX_MANIFEST_BYTES} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidPackage(f"{MANIFEST_NAME}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        raise InvalidPackage(_yaml_problem(exc)) from None
    except yaml.YAMLError as exc:
        raise InvalidPackage(f"{MANIFEST_NAME}: invalid YAML: {exc}") from None
    except RecursionError:
        raise InvalidPackage(f"{MANIFEST_NAME}: nested too deeply") from None
    if data is None:
        raise InvalidPackage(f"{MANIFEST_NAME}: the file is empty")
    if not isinstance(data, dict):
        raise InvalidPackage(
            f"{MANIFEST_NAME}: must be a mapping of keys to values, not {_kind(data)}"
        )
    for key in data:
        if not isinstance(key, str):
            raise InvalidPackage(f"{MANIFEST_NAME}: key {key!r} is not a string")
    _check_size(data)
    return data


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}: " if mark is not None else ""
    what = exc.problem or exc.context or "cannot be parsed"
    return f"{MANIFEST_NAME}: {where}invalid YAML: {what}"


def _check_size(data: Any) -> None:
    stack, count = [data], 0
    while stack:
        node = stack.pop()
        count += 1
        if count > _MAX_NODES:
            raise InvalidPackage(f"{MANIFEST_NAME}: too many values (over {_MAX_NODES})")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _describe(error: ErrorDetails) -> str:
    loc = tuple(error["loc"])
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, _Problem):
        loc += cause.where
    kind = error["type"]
    if kind == "value_error":
        text = str(cause)
    elif kind == "missing":
        text = "is required"
    elif kind in _TYPE_ERRORS:
        text = f"must be {_TYPE_ERRORS[kind]}, not {_kind(error['input'])}"
    elif kind == "literal_error":
        text = f"must be one of {ctx['expected']}, not {error['input']!r}"
    elif kind == "too_short":
        text = "must not be empty"
    elif kind == "extra_forbidden":
        text = "unknown key"
    else:
        text = error["msg"]
    return f"{MANIFEST_NAME}: {_path(loc)}: {text}" if loc else f"{MANIFEST_NAME}: {text}"


def _path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _kind(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"a string ({value!r})"
    return f"a {type(value).__name__}"
