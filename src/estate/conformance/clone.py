"""The ``clone`` profile's checks: clones and instances appear as new resources.

Every resource they make is deleted at the end of the profile, when the plugin declares
``delete``; the suite never deletes one it did not make.
"""

from __future__ import annotations

from .checks import Failed, Skipped, check
from .core import template_name
from .session import Session, mentions


@check("clone.template_list.returns_list", action="template_list")
def template_list_returns_list(session: Session) -> str:
    """``template_list`` (on the provider) answers a list: the templates instances are made
    from."""
    templates = session.act("template_list", None)
    if not isinstance(templates, list):
        raise Failed(f"expected a list, template_list answered {type(templates).__name__}")
    session.memo["clone.templates"] = templates
    return f"{len(templates)} template(s)"


@check("clone.clone.creates_resource", action="clone")
def clone_creates_resource(session: Session) -> str:
    """``clone`` completes, and the next collection holds a new resource of the source's
    type."""
    source = session.pick(["clone"], prefer=("stopped", "running"))
    kind = source["resource_type_slug"]
    made = session.created_by("clone", {"name": session.name("clone")}, source, [kind])
    return f"{source['ems_ref']} cloned into {made['ems_ref']} ({made.get('name')!r})"


@check("clone.instance_create.creates_resource", action="instance_create")
def instance_create_creates_resource(session: Session) -> str:
    """``instance_create`` (on the provider) from the first template of ``template_list``
    completes, and the next collection holds the new instance carrying Chatsubo's
    labels: its realm is among its tags or properties."""
    templates = session.memo.get("clone.templates")
    if templates is None:
        raise Skipped("needs clone.template_list.returns_list, which did not pass")
    if not templates:
        raise Skipped("template_list answered no template to make an instance of")
    realm = session.name("realm")
    params = {
        "template": template_name(templates[0]),
        "name": session.name("instance"),
        "realm": realm,
        "labels": {"estate-conformance": session.token},
    }
    made = session.created_by("instance_create", params, None, None)
    labelled = [made.get("provider_tags"), made.get("properties")]
    if not mentions(labelled, [realm]):
        raise Failed(
            f"expected the new instance {made['ems_ref']} to carry its realm {realm!r}; "
            f"its tags are {made.get('provider_tags')!r}"
        )
    return f"{made['ems_ref']} from template {params['template']!r}, realm {realm!r}"
