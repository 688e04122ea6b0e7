"""The clone profile on PVE: clones, templates, and Chatsubo's instances of a template.

A clone gets the next free VMID (``/cluster/nextid``) on the source's node, and its
name (``hostname`` for a container). ``full`` copies every disk; ``linked`` shares the
template's base disks, which only a template has (PVE refuses it for other guests).

Templates are the guests marked ``template: 1``. ``instance_create`` clones one into
a new guest whose notes carry Chatsubo's labels (seed 003), as Chatsubo reads them
and the collection parses them (``labels.py``): the template's notes, with
``chatsubo.template=<the template's Chatsubo name, or its PVE name>``,
``chatsubo.realm=<realm>`` and one ``chatsubo.<key>=<value>`` line per label.
"""

from __future__ import annotations

from typing import Any

from proxmoxer import ProxmoxAPI

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, ProviderError

from . import guests, labels
from .guests import ActionSession, Guest
from .settings import Settings

GUESTS = ["virtual_machine", "template"]
MODE = Param("mode", default="full", choices=("full", "linked"), description="full or linked")
NAMES = {"name": "name", "hostname": "name"}  # PVE's parameter names → the action's
NEWID_TRIES = 3  # another client may take the id nextid gave before the clone asks for it
_TAKEN = ("already exists", "config file already exists")


class CloneActions(ActionSession):
    """Mixed into the provider (``provider.py``)."""

    @action("clone", applies_to=GUESTS, profile="clone", long_running=True,
            params=[Param("name", required=True), MODE])  # fmt: skip
    def clone(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Copy the guest into a new, stopped one on the same node."""
        with self.session() as (settings, api):
            source = guests.find(api, settings, ems_ref)
            return _clone(api, settings, source, params["name"], params["mode"], "clone")

    @action("template_list", applies_to="provider", profile="clone", idempotent=True)
    def template_list(self, ems_ref: None, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The cluster's templates, with the Chatsubo name instances refer to them by."""
        with self.session() as (settings, api):
            return [_shown(entry, notes) for entry, notes in _templates(api, settings)]

    @action(
        "instance_create",
        applies_to="provider",
        profile="clone",
        long_running=True,
        params=[
            Param("template", required=True, description="Chatsubo name, PVE name, VMID or ref"),
            Param("name", required=True),
            Param("realm"),
            Param("labels", "dict", description="more chatsubo.<key>=<value> labels"),
            MODE,
        ],
    )
    def instance_create(self, ems_ref: None, params: dict[str, Any]) -> dict[str, Any]:
        """A new instance of a template, labelled with its template and realm (Chatsubo)."""
        with self.session() as (settings, api):
            entry, notes = _template(api, settings, params["template"])
            values = _labels(params, _chatsubo_name(entry, notes))
            try:
                described = labels.with_labels(notes, values)
            except ValueError as exc:
                raise InvalidParameter(f"instance_create: params.labels: {exc}") from None
            source = guests.guest_of(entry)
            made = _clone(api, settings, source, params["name"], params["mode"],
                          "instance_create", description=described)  # fmt: skip
        shown = {
            key: labels.MASK if labels.is_secret(key) else value for key, value in values.items()
        }
        return {**made, "template": source.ems_ref, "labels": shown}


def _clone(
    api: ProxmoxAPI,
    settings: Settings,
    source: Guest,
    name: str,
    mode: str,
    what: str,
    **extra: Any,
) -> dict[str, Any]:
    if mode == "linked" and not source.is_template:
        raise InvalidParameter(
            f"{what}: params.mode: a linked clone needs a template; {source.ems_ref} is not one "
            "(clone it with mode full)"
        )
    name_key = "hostname" if source.kind == "lxc" else "name"
    for attempt in range(1, NEWID_TRIES + 1):
        newid = int(guests.request(settings, what, api.cluster.nextid.get))
        body = {"newid": newid, name_key: name, "full": 1 if mode == "full" else 0, **extra}
        try:
            upid = _post_clone(settings, source.path(api).clone, body, what)
            break
        except InvalidParameter:
            raise
        except ProviderError as exc:
            if attempt == NEWID_TRIES or not any(word in str(exc) for word in _TAKEN):
                raise
    guests.wait(api, settings, upid, f"{what} of {source.ems_ref}")
    return {"changed": True, "ems_ref": f"{source.kind}/{newid}", "vmid": newid,
            "name": name, "node": source.node, "mode": mode}  # fmt: skip


def _post_clone(settings: Settings, clone: Any, body: dict[str, Any], what: str) -> Any:
    """POST the clone; PVE's refusal of a linked clone names ``params.mode``."""
    try:
        return guests.request(settings, what, lambda: clone.post(**body), NAMES)
    except ProviderError as exc:
        if "Linked clone" in str(exc):
            raise InvalidParameter(f"{what}: params.mode: {exc}") from exc
        raise


def _templates(api: ProxmoxAPI, settings: Settings) -> list[tuple[dict[str, Any], str]]:
    """Every template with its notes (Chatsubo's labels are in them)."""
    found = []
    for entry in guests.listing(api, settings):
        if entry.get("template") and entry.get("type") in ("qemu", "lxc"):
            config = guests.request(
                settings, "template_list", guests.guest_of(entry).path(api).config.get
            )
            found.append((entry, str(config.get("description") or "")))
    return sorted(found, key=lambda item: (str(item[0].get("name")), int(item[0]["vmid"])))


def _template(api: ProxmoxAPI, settings: Settings, wanted: str) -> tuple[dict[str, Any], str]:
    """The template ``wanted`` names: its ref, VMID, Chatsubo name or PVE name."""
    templates = _templates(api, settings)
    key = wanted.strip().lower()
    for rule in (
        lambda e, n: e["id"] == key or str(e["vmid"]) == key,
        lambda e, n: (labels.parse(n).get("template") or "").lower() == key,
        lambda e, n: str(e.get("name") or "").lower() == key,
    ):
        matched = [(entry, notes) for entry, notes in templates if rule(entry, notes)]
        if len(matched) == 1:
            return matched[0]
        if matched:
            refs = ", ".join(entry["id"] for entry, _ in matched)
            raise InvalidParameter(
                f"instance_create: params.template: {wanted!r} names several templates ({refs}); "
                "give its ref or VMID"
            )
    known = ", ".join(_chatsubo_name(e, n) for e, n in templates) or "none"
    raise InvalidParameter(
        f"instance_create: params.template: no template {wanted!r} (the templates: {known})"
    )


def _chatsubo_name(entry: dict[str, Any], notes: str) -> str:
    return labels.parse(notes).get("template") or str(entry.get("name") or entry["id"])


def _labels(params: dict[str, Any], template_name: str) -> dict[str, str]:
    """The labels the instance's notes get; ``template`` and ``realm`` win over ``labels``."""
    values: dict[str, str] = {}
    for key, value in (params.get("labels") or {}).items():
        if isinstance(value, dict | list) or value is None:
            raise InvalidParameter(f"instance_create: params.labels.{key}: must be a string")
        try:
            values[labels.label_key(str(key))] = str(value)
        except ValueError as exc:
            raise InvalidParameter(f"instance_create: params.labels: {exc}") from None
    values[labels.PREFIX + "template"] = template_name
    realm = params.get("realm")
    if realm and any(char in realm for char in "\r\n"):
        raise InvalidParameter("instance_create: params.realm: must fit on one line")
    if realm:
        values[labels.PREFIX + "realm"] = realm
    return values


def _shown(entry: dict[str, Any], notes: str) -> dict[str, Any]:
    found = labels.parse(notes)
    return {"ems_ref": entry["id"], "vmid": entry["vmid"], "name": entry.get("name"),
            "node": entry["node"], "type": entry["type"], "template": _chatsubo_name(entry, notes),
            "labels": found.values}  # fmt: skip
