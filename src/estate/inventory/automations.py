"""The automations run on a resource: the source of ``resources/{id}/automations/``.

The UIS lists *automation records* (jobs that touched a resource). In Estate these
will be the action runs of a resource (issue 12: ``ActionRun``). Until that table
exists the source is empty, but the route already pages it through
:func:`automations_page`, so when action runs arrive only this function learns to
read them; the route, its shape and its tests stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class AutomationRecord:
    """One automation run on a resource, in the UIS's fields."""

    id: int
    resource: int
    resource_name: str | None
    resource_canonical_id: str | None
    source_name: str
    correlation_type: str  # direct: run on the resource itself
    correlation_key: str
    correlation_confidence: str  # exact: Estate ran it, no guessing
    aap_host_id: int | None
    aap_host_name: str
    aap_job_id: int | None
    aap_job_name: str
    aap_job_status: str
    aap_job_started_at: datetime | None
    aap_job_finished_at: datetime | None
    aap_inventory_name: str
    automation_details: dict[str, Any]
    synced_at: datetime | None
    organization: int


def automations_page(
    session: Session, resource_id: int, *, offset: int, limit: int
) -> tuple[int, list[AutomationRecord]]:
    """``(count, records)`` of the resource's automations, newest first.

    No source exists yet (action runs come with issue 12): nothing to count or read.
    """
    del session, resource_id, offset, limit
    return 0, []
