"""The vendor type mappings that installed plugins declare in their manifests."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import taxonomy
from ..db.models import PluginVersion
from ..db.states import VersionState
from ..taxonomy.vendor_types import VendorTypeMapping
from .versions import latest_compatible


def declared_mappings(session: Session) -> list[VendorTypeMapping]:
    """Every ``vendor_type_mappings`` entry of each plugin's active version.

    Only the active version counts: an older upload's mappings are not what the
    plugin reports now. An entry naming a type this Estate no longer knows (a
    manifest stored by another release) is left out rather than served broken.
    """
    keys = session.scalars(
        select(PluginVersion.key).where(PluginVersion.state == VersionState.READY).distinct()
    ).all()
    found: list[VendorTypeMapping] = []
    for key in sorted(keys):
        version = latest_compatible(session, key)
        if version is None:
            continue
        declared = (version.manifest or {}).get("vendor_type_mappings") or {}
        found += [
            VendorTypeMapping(version.vendor, str(native), str(slug), source=key)
            for native, slug in declared.items()
            if isinstance(slug, str) and taxonomy.is_known(slug)
        ]
    return found
