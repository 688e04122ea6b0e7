"""The ``image`` and ``advanced`` profiles' checks.

Actions whose effect the suite cannot choose safely on someone's platform (migrating to
a target, a plugin's own actions) are not run: their checks say so and skip. An image is
prepared from one the platform lists itself, under a name of the suite's.
"""

from __future__ import annotations

from .checks import Failed, Skipped, check
from .core import template_name
from .session import Session


@check("image.image_list.returns_list", action="image_list")
def image_list_returns_list(session: Session) -> str:
    """``image_list`` (on the provider) answers a list: the platform's images."""
    images = session.act("image_list", None)
    if not isinstance(images, list):
        raise Failed(f"expected a list, image_list answered {type(images).__name__}")
    session.memo["image.images"] = images
    return f"{len(images)} image(s)"


@check("image.image_prepare.creates_image", action="image_prepare")
def image_prepare_creates_image(session: Session) -> str:
    """``image_prepare`` (on the provider) from the first image ``image_list`` answers
    (its name, or id), under a new name, completes, and the next collection holds a new
    ``image`` resource of that name. The suite deletes it afterwards where the plugin's
    ``delete`` applies to images; elsewhere it stays on the platform."""
    images = session.memo.get("image.images")
    if images is None:
        raise Skipped("needs image.image_list.returns_list, which did not pass")
    if not images:
        raise Skipped("image_list answered no image to prepare one from")
    params = {"source": template_name(images[0]), "name": session.name("image")}
    made = session.created_by("image_prepare", params, None, ["image"])
    if made.get("resource_type_slug") != "image" or made.get("name") != params["name"]:
        raise Failed(
            f"expected a new image named {params['name']!r}; the next collection holds "
            f"{made.get('resource_type_slug')} {made.get('name')!r} ({made['ems_ref']})"
        )
    return f"{made['ems_ref']} from {params['source']!r}"


@check("advanced.resize.converges", action="resize")
def resize_converges(session: Session) -> str:
    """``resize`` to one more CPU (or twice the memory) completes, and the next collection
    shows the new size; the suite puts the old size back."""
    resource = session.pick(["resize"], prefer=("stopped", "running"))
    cpus, memory = resource.get("cpu_count"), resource.get("memory_mb")
    if cpus:
        params, expect = {"cpu": cpus + 1}, {"cpu_count": cpus + 1}
    elif memory:
        params, expect = {"memory_mb": memory * 2}, {"memory_mb": memory * 2}
    else:
        raise Skipped(f"{resource['ems_ref']} shows neither cpu_count nor memory_mb to change")
    session.converge("resize", resource, expect, params)
    change = ", ".join(f"{k} {resource.get(k)} → {v}" for k, v in expect.items())
    return f"{resource['ems_ref']}: {change}"


@check("advanced.migrate.completes", action="migrate")
def migrate_completes(session: Session) -> str:
    """``migrate`` is not run: its target is one only the platform's operator can choose."""
    raise Skipped("not run: migrate needs a target only the operator can choose")
