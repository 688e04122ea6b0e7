"""The ``image`` and ``advanced`` profiles' checks.

Actions whose effect the suite cannot choose safely on someone's platform (preparing an
image from a source, migrating to a target, a plugin's own actions) are not run: their
checks say so and skip.
"""

from __future__ import annotations

from .checks import Failed, Skipped, check
from .session import Session


@check("image.image_list.returns_list", action="image_list")
def image_list_returns_list(session: Session) -> str:
    """``image_list`` (on the provider) answers a list: the platform's images."""
    images = session.act("image_list", None)
    if not isinstance(images, list):
        raise Failed(f"expected a list, image_list answered {type(images).__name__}")
    return f"{len(images)} image(s)"


@check("image.image_prepare.completes", action="image_prepare")
def image_prepare_completes(session: Session) -> str:
    """``image_prepare`` is not run: its source is one only the platform's operator can
    name."""
    raise Skipped("not run: image_prepare needs a source image only the operator can name")


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
