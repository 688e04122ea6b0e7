"""The ``core`` profile's checks: power, describe, create and delete converge.

They act on one resource the collection holds (running, where one is), observe each
action's effect in the next collection, and leave the resource as they found it. The
suite deletes only resources it created itself.
"""

from __future__ import annotations

from typing import Any

from .checks import Failed, Skipped, check
from .session import Session, changed_fields, mentions


def _subject(session: Session) -> dict[str, Any]:
    """The resource the core checks act on, as last seen."""
    resource: dict[str, Any] | None = session.memo.get("core.subject")
    if resource is None:
        first = next(
            (n for n in ("power_off", "power_on", "describe") if session.declared(n)), None
        )
        if first is None:
            raise Skipped("the plugin declares none of power_off, power_on, describe")
        resource = session.pick([first])
        session.remember(resource)
        session.memo["core.subject"] = resource
    return resource


def _power(session: Session, name: str, start: str, end: str) -> str:
    resource = session.ensure(_subject(session), start)
    seen = session.converge(name, resource, {"state": end})
    session.memo["core.subject"] = seen
    session.memo[f"core.{name}"] = seen
    return f"{resource['ems_ref']}: {start} → {end}"


def _idempotent(session: Session, name: str) -> str:
    before: dict[str, Any] | None = session.memo.pop(f"core.{name}", None)
    if before is None:
        raise Skipped(f"needs core.{name}.converges, which did not pass")
    session.act(name, before)
    after = session.observe(before, f"a second {name}")
    session.memo["core.subject"] = after
    changed = changed_fields(before, after)
    if changed:
        raise Failed(
            f"expected a second {name} to change nothing; {before['ems_ref']} changed: "
            + "; ".join(changed[:5])
        )
    return f"a second {name} left {before['ems_ref']} unchanged"


@check("core.describe.returns_resource", action="describe")
def describe_returns_resource(session: Session) -> str:
    """``describe`` answers a dict about the resource: it names the resource's ems_ref or
    name."""
    resource = _subject(session)
    result = session.act("describe", resource)
    ref, name = resource["ems_ref"], resource.get("name")
    if not isinstance(result, dict) or not result:
        raise Failed(f"expected a dict about {ref}, describe answered {type(result).__name__}")
    if not mentions(result, [ref, name]):
        raise Failed(
            f"expected describe to name {ref} or {name!r}; it answered {sorted(result)[:10]}"
        )
    return f"{len(result)} field(s) about {ref}"


@check("core.power_off.converges", action="power_off")
def power_off_converges(session: Session) -> str:
    """``power_off`` of a running resource completes, and the next collection shows it
    ``stopped``."""
    return _power(session, "power_off", "running", "stopped")


@check("core.power_off.idempotent", action="power_off")
def power_off_idempotent(session: Session) -> str:
    """A second ``power_off`` succeeds and changes nothing: the resource's record in the
    next collection is the same (metrics aside)."""
    return _idempotent(session, "power_off")


@check("core.power_on.converges", action="power_on")
def power_on_converges(session: Session) -> str:
    """``power_on`` of a stopped resource completes, and the next collection shows it
    ``running``."""
    return _power(session, "power_on", "stopped", "running")


@check("core.power_on.idempotent", action="power_on")
def power_on_idempotent(session: Session) -> str:
    """A second ``power_on`` succeeds and changes nothing: the resource's record in the
    next collection is the same (metrics aside)."""
    return _idempotent(session, "power_on")


@check("core.shutdown.converges", action="shutdown")
def shutdown_converges(session: Session) -> str:
    """``shutdown`` (graceful, its default timeout) of a running resource completes, and the
    next collection shows it ``stopped``."""
    return _power(session, "shutdown", "running", "stopped")


@check("core.shutdown.idempotent", action="shutdown")
def shutdown_idempotent(session: Session) -> str:
    """A second ``shutdown`` succeeds and changes nothing: the resource's record in the next
    collection is the same (metrics aside)."""
    return _idempotent(session, "shutdown")


@check("core.reboot.converges", action="reboot")
def reboot_converges(session: Session) -> str:
    """``reboot`` of a running resource completes, and the next collection shows it
    ``running``."""
    return _power(session, "reboot", "running", "running")


@check("core.create.converges", action="create")
def create_converges(session: Session) -> str:
    """``create`` (on the provider) completes, and the next collection holds the new
    resource; the suite deletes it afterwards."""
    made = session.created_by("create", {"name": session.name("create")}, None, None)
    session.memo["core.made"] = made["ems_ref"]
    return f"created {made['ems_ref']} ({made['resource_type_slug']})"


@check("core.delete.converges", action="delete")
def delete_converges(session: Session) -> str:
    """``delete`` of a resource the suite created (with ``create``, ``clone`` or
    ``instance_create``) completes, and the next collection no longer holds it, or holds
    it ``terminated`` (a platform that keeps deleted machines visible a while, as EC2
    does). The suite never deletes a resource it did not create."""
    ref = session.memo.pop("core.made", None) or _make(session)
    kind = session.created[ref]
    resource = session.collect([kind]).resource(ref)
    if resource is None:
        raise Failed(f"the resource {ref} the suite created is gone before delete")
    session.act("delete", resource)
    del session.created[ref]
    after = session.collect([kind]).resource(ref)
    if after is not None and after.get("state") == "terminated":
        return f"deleted {ref}, which the suite created (the platform shows it terminated)"
    if after is not None:
        raise Failed(
            f"expected {ref} gone after delete; the next collection still holds it "
            f"(state {after.get('state')!r})"
        )
    return f"deleted {ref}, which the suite created"


def _make(session: Session) -> str:
    """A resource for ``delete`` to remove, made with ``clone`` or ``instance_create``."""
    if session.declared("clone"):
        source = session.pick(["clone"], prefer=("stopped", "running"))
        made = session.created_by(
            "clone", {"name": session.name("doomed")}, source, [source["resource_type_slug"]]
        )
        return str(made["ems_ref"])
    if session.declared("instance_create") and session.declared("template_list"):
        templates = session.act("template_list", None)
        if isinstance(templates, list) and templates:
            params = {"template": template_name(templates[0]), "name": session.name("doomed")}
            return str(session.created_by("instance_create", params, None, None)["ems_ref"])
    raise Skipped(
        "the suite deletes only resources it created, and the plugin declares neither "
        "create, clone nor instance_create with templates"
    )


def template_name(item: Any) -> str:
    """What ``instance_create`` takes for an item of ``template_list``: its name (or id)."""
    if isinstance(item, dict):
        for key in ("name", "id", "template"):
            if isinstance(item.get(key), str | int):
                return str(item[key])
    return str(item)
