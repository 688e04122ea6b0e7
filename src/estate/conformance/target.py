"""What a conformance run tests: a plugin folder, the connection to its platform, the profiles.

The connection parameters are a provider's, as the service would hold them: ``endpoint``
(also spelt ``hostname`` or ``host``, unless the manifest declares a parameter of that
name) is the provider's endpoint, every other key is its ``connection_config``. Secret
values (``password`` and every parameter the manifest marks ``secret``) are what the
suite looks for in everything the plugin says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inventory_providers.base import ProviderCredential
from inventory_providers.profiles import PROFILE_NAMES

from ..registry.errors import InvalidPackage
from ..registry.manifest import MANIFEST_NAME, Manifest, parse_manifest, secret_names

ENDPOINT_KEYS = ("endpoint", "hostname", "host")
WRONG_SUFFIX = "-wrong"


@dataclass(frozen=True)
class Connection:
    """One provider's connection: its endpoint and ``connection_config`` (secrets included)."""

    endpoint: str | None
    config: dict[str, Any]

    def credential(self) -> dict[str, Any]:
        """The ``configure`` call's credential, built as the service builds it."""
        credential = ProviderCredential.from_config(self.endpoint, self.config)
        return {
            "username": credential.username,
            "password": credential.password,
            "hostname": credential.hostname,
            "port": credential.port,
            "extra": credential.extra,
        }

    def provider_model(self, manifest: Manifest, secrets: set[str]) -> dict[str, Any]:
        """What the plugin sees as ``provider_model``: the record without secrets."""
        return {
            "id": 0,
            "name": "conformance",
            "infrastructure": manifest.infrastructure,
            "vendor": manifest.vendor,
            "provider_type": manifest.provider_type,
            "endpoint": self.endpoint,
            "organization": None,
            "connection_config": {k: v for k, v in self.config.items() if k not in secrets},
        }


@dataclass
class Target:
    """The plugin under test and how to reach its platform."""

    plugin_dir: Path
    manifest: Manifest | None
    manifest_problems: list[str]
    good: Connection
    bad: Connection | None
    bad_reason: str
    """Why there is no ``bad`` connection (when there is none)."""
    secret_keys: set[str]
    secret_values: list[str]
    """The secret values looked for in what the plugin says, and masked in the report."""
    public_secrets: int
    """How many secret values were left out of ``secret_values``: words of the manifest."""
    profiles: list[str]
    """The profiles to run, in the standard order."""
    python: str | None = None
    claimed: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        if self.manifest is not None:
            return self.manifest.key
        return self.plugin_dir.name

    @property
    def version(self) -> str:
        return self.manifest.version if self.manifest is not None else ""


def load_target(
    plugin_dir: Path,
    config: Mapping[str, Any],
    *,
    profiles: Sequence[str] | None,
    python: Path | None,
    bad_config: Mapping[str, Any] | None,
) -> Target:
    """The target of a run. Raises ``ValueError`` naming what is wrong: a folder without
    a manifest, a profile the plugin does not claim, a configuration that is no mapping."""
    path = plugin_dir / MANIFEST_NAME
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the plugin's manifest ({exc.strerror})") from None
    if not isinstance(config, Mapping):
        raise ValueError(
            f"the connection parameters must be a mapping, not {type(config).__name__}"
        )
    manifest: Manifest | None
    try:
        manifest, problems = parse_manifest(text), []
    except InvalidPackage as exc:
        manifest, problems = None, list(exc.problems)
    claimed = list(manifest.profiles) if manifest is not None else []
    keys = secret_names(manifest)
    good = _connection(config, manifest)
    bad, reason = _bad_connection(good, keys, bad_config, manifest)
    values = [str(v) for c in (good, bad) if c for k, v in c.config.items() if k in keys and v]
    # A secret the plugin's own manifest spells (the simulated datacenter's password is
    # its vendor's name) cannot be told apart from the plugin's own words.
    public = [v for v in values if v in text.decode("utf-8", "replace")]
    return Target(
        plugin_dir=plugin_dir,
        manifest=manifest,
        manifest_problems=problems,
        good=good,
        bad=bad,
        bad_reason=reason,
        secret_keys=keys,
        secret_values=[v for v in dict.fromkeys(values) if v not in public],
        public_secrets=len(set(public)),
        profiles=_profiles(profiles, claimed, manifest),
        python=str(python) if python is not None else None,
        claimed=claimed,
    )


def _profiles(
    asked: Sequence[str] | None, claimed: list[str], manifest: Manifest | None
) -> list[str]:
    if asked is None:
        return [name for name in PROFILE_NAMES if name in claimed]
    if isinstance(asked, str):
        raise ValueError(f"profiles must be a list of profile names, not the string {asked!r}")
    for name in asked:
        if name not in PROFILE_NAMES:
            raise ValueError(
                f"profile {name!r}: no such profile (the profiles: {', '.join(PROFILE_NAMES)})"
            )
        if manifest is not None and name not in claimed:
            listed = ", ".join(claimed) or "none"
            raise ValueError(
                f"profile {name!r}: not claimed by {manifest.key} (its manifest claims: {listed})"
            )
    return [name for name in PROFILE_NAMES if name in asked]


def _connection(config: Mapping[str, Any], manifest: Manifest | None) -> Connection:
    declared = {p.name for p in manifest.connection_parameters} if manifest else set()
    endpoint: str | None = None
    rest: dict[str, Any] = {}
    for key, value in config.items():
        if key in ENDPOINT_KEYS and key not in declared and endpoint is None:
            endpoint = None if value is None else str(value)
        else:
            rest[key] = value
    return Connection(endpoint, rest)


def _bad_connection(
    good: Connection,
    keys: set[str],
    bad_config: Mapping[str, Any] | None,
    manifest: Manifest | None,
) -> tuple[Connection | None, str]:
    """Wrong credentials: ``bad_config`` over the good ones, or each secret made wrong."""
    if bad_config is not None:
        overrides = _connection(bad_config, manifest)
        endpoint = overrides.endpoint if overrides.endpoint is not None else good.endpoint
        return Connection(endpoint, {**good.config, **overrides.config}), ""
    wrong = {
        key: f"{value}{WRONG_SUFFIX}"
        for key, value in good.config.items()
        if key in keys and isinstance(value, str) and value
    }
    if not wrong:
        return None, (
            "the connection parameters hold no secret to get wrong; give wrong credentials "
            "(bad_config, or bad_credentials: in the --provider-config file)"
        )
    return Connection(good.endpoint, {**good.config, **wrong}), ""
