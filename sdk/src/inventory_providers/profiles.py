"""The standard capability profiles (VirtRigaud's): the names and parameters of their actions.

    core      power_on, power_off (hard), shutdown (graceful, timeout), reboot, describe;
              create and delete where the platform allows
    snapshot  snapshot_create, snapshot_list, snapshot_revert, snapshot_delete, rollback
    clone     clone (full | linked); template_list, instance_create (Chatsubo's realms)
    image     image_list; image_prepare
    advanced  resize (cpu, memory_mb), migrate; any action of the plugin's own

An action named as a profile's must belong to that profile, apply to resources (or
the provider, for the provider-level ones) and have its parameters: the same names,
types and required-ness; it may add optional parameters of its own. A plugin claims
a profile (``manifest.yml``: ``profiles:``) only when it has the profile's
``required`` actions. :func:`check_action` and :func:`missing_actions` say what is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .actions import ActionDefinitionError, ActionSpec, Param

__all__ = [
    "PROFILES",
    "PROFILE_NAMES",
    "Profile",
    "StandardAction",
    "check_action",
    "missing_actions",
    "standard_action",
]


@dataclass(frozen=True, slots=True)
class StandardAction:
    """A profile's action: its parameters, and whether it acts on the provider itself."""

    name: str
    params: tuple[Param, ...] = ()
    provider_level: bool = False
    idempotent: bool = False


@dataclass(frozen=True, slots=True)
class Profile:
    """A capability profile: its actions, and those a plugin claiming it must have."""

    name: str
    actions: tuple[StandardAction, ...]
    required: frozenset[str]


def _p(name: str, kind: str = "string", *, required: bool = False, **more: object) -> Param:
    return Param(name, kind, required=required, **more)  # type: ignore[arg-type]


PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            "core",
            (
                StandardAction("power_on", idempotent=True),
                StandardAction("power_off", idempotent=True),
                StandardAction(
                    "shutdown", (_p("timeout", "integer", default=300),), idempotent=True
                ),
                StandardAction("reboot"),
                StandardAction("describe", idempotent=True),
                StandardAction("create", (_p("name", required=True),), provider_level=True),
                StandardAction("delete"),
            ),
            frozenset({"power_on", "power_off", "shutdown", "reboot", "describe"}),
        ),
        Profile(
            "snapshot",
            (
                StandardAction("snapshot_create", (_p("name", required=True), _p("description"))),
                StandardAction("snapshot_list", idempotent=True),
                StandardAction("snapshot_revert", (_p("snapshot", required=True),)),
                StandardAction("snapshot_delete", (_p("snapshot", required=True),)),
                StandardAction("rollback"),
            ),
            frozenset(
                {
                    "snapshot_create",
                    "snapshot_list",
                    "snapshot_revert",
                    "snapshot_delete",
                    "rollback",
                }
            ),
        ),
        Profile(
            "clone",
            (
                StandardAction(
                    "clone",
                    (
                        _p("name", required=True),
                        _p("mode", default="full", choices=("full", "linked")),
                    ),
                ),
                StandardAction("template_list", provider_level=True, idempotent=True),
                StandardAction(
                    "instance_create",
                    (
                        _p("template", required=True),
                        _p("name", required=True),
                        _p("realm"),
                        _p("labels", "dict"),
                    ),
                    provider_level=True,
                ),
            ),
            frozenset({"clone"}),
        ),
        Profile(
            "image",
            (
                StandardAction("image_list", provider_level=True, idempotent=True),
                StandardAction(
                    "image_prepare", (_p("source", required=True), _p("name")), provider_level=True
                ),
            ),
            frozenset({"image_list"}),
        ),
        Profile(
            "advanced",
            (
                StandardAction("resize", (_p("cpu", "integer"), _p("memory_mb", "integer"))),
                StandardAction("migrate", (_p("target", required=True),)),
            ),
            frozenset(),
        ),
    )
}
PROFILE_NAMES = tuple(PROFILES)


def standard_action(name: str) -> tuple[str, StandardAction] | None:
    """``(profile, action)`` of a standard action name, or None for a plugin's own."""
    for profile in PROFILES.values():
        for standard in profile.actions:
            if standard.name == name:
                return profile.name, standard
    return None


def check_action(owner: str, spec: ActionSpec) -> None:
    """Raise ``ActionDefinitionError`` when ``spec`` breaks its profile's definition."""
    where = f"{owner}.{spec.method} (action {spec.name!r})"
    if spec.profile not in PROFILES:
        raise ActionDefinitionError(
            f"{where}: unknown profile {spec.profile!r} (one of {', '.join(PROFILE_NAMES)})"
        )
    found = standard_action(spec.name)
    if found is None:
        if spec.profile != "advanced":
            raise ActionDefinitionError(
                f"{where}: profile {spec.profile!r} has no action {spec.name!r}; a plugin's "
                "own actions belong to 'advanced'"
            )
        return
    profile, standard = found
    if spec.profile != profile:
        raise ActionDefinitionError(f"{where}: {spec.name!r} belongs to profile {profile!r}")
    if standard.provider_level != spec.is_provider_level:
        scope = "the provider (applies_to='provider')" if standard.provider_level else "resources"
        raise ActionDefinitionError(f"{where}: {spec.name!r} must apply to {scope}")
    _check_params(where, standard, spec.params)


def _check_params(where: str, standard: StandardAction, params: tuple[Param, ...]) -> None:
    declared = {param.name: param for param in params}
    for expected in standard.params:
        got = declared.get(expected.name)
        if got is None:
            raise ActionDefinitionError(f"{where}: missing parameter {expected.name!r}")
        if got.type != expected.type:
            raise ActionDefinitionError(
                f"{where}: parameter {expected.name!r} must be {expected.type}, not {got.type}"
            )
        if got.required != expected.required:
            need = "required" if expected.required else "optional"
            raise ActionDefinitionError(f"{where}: parameter {expected.name!r} must be {need}")
    standard_names = {param.name for param in standard.params}
    for param in params:
        if param.name not in standard_names and param.required:
            raise ActionDefinitionError(
                f"{where}: extra parameter {param.name!r} must be optional "
                f"(the profile's callers do not send it)"
            )


def missing_actions(profile: str, names: Iterable[str]) -> list[str]:
    """The required actions of ``profile`` missing from ``names``."""
    return sorted(PROFILES[profile].required - set(names))
