"""The automations run on a resource: the source of ``resources/{id}/automations/``.

The UIS lists *automation records* (jobs that touched a resource). In Estate these
are the action runs of the resource (``ActionRun``): one record per run, its job the
action, its status the run's, ``automation_details`` the parameters (secrets masked),
result, error and the collection run that refreshed the resource afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db.models import ActionRun, Provider, Resource


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
    """``(count, records)`` of the resource's automations (its action runs), newest first."""
    count = session.scalar(
        select(func.count()).select_from(ActionRun).where(ActionRun.resource_id == resource_id)
    )
    rows = session.execute(
        select(ActionRun, Resource, Provider.organization_id)
        .join(Resource, Resource.id == ActionRun.resource_id)
        .join(Provider, Provider.id == ActionRun.provider_id)
        .where(ActionRun.resource_id == resource_id)
        .order_by(ActionRun.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return int(count or 0), [_record(run, resource, org) for run, resource, org in rows]


def _record(run: ActionRun, resource: Resource, organization: int) -> AutomationRecord:
    return AutomationRecord(
        id=run.id,
        resource=resource.id,
        resource_name=resource.name,
        resource_canonical_id=resource.canonical_id,
        source_name="estate",
        correlation_type="direct",
        correlation_key=f"action-run:{run.id}",
        correlation_confidence="exact",
        aap_host_id=None,
        aap_host_name=resource.name or resource.ems_ref,
        aap_job_id=run.id,
        aap_job_name=run.action,
        aap_job_status=run.status,
        aap_job_started_at=run.started_at,
        aap_job_finished_at=run.finished_at,
        aap_inventory_name="",
        automation_details={
            "action": run.action,
            "parameters": run.parameters or {},
            "result": run.result,
            "error": run.error,
            "requested_by": run.requested_by,
            "refresh_run": run.refresh_run_id,
        },
        synced_at=run.finished_at,
        organization=organization,
    )
