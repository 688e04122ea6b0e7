"""Organizations own providers; the default one has id 1. Each user sees those it
holds a role in (system administrators all of them)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from sqlalchemy import select

from ...db.models import Organization
from ..deps import AdminUser, CurrentUser, SessionDep, Visible, get_in_scope_or_404
from ..pagination import Page, PageNumber, PageSize, page_of
from ..schemas import OrganizationCreate, OrganizationPublic

router = APIRouter(prefix="/organizations", tags=["organizations"])


@router.get("/")
def list_organizations(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    visible: Visible,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[OrganizationPublic]:
    query = select(Organization).order_by(Organization.id)
    if visible is not None:
        query = query.where(Organization.id.in_(visible))
    count, rows, next_url, previous = page_of(session, request, query, page, page_size)
    results = [OrganizationPublic.model_validate(row) for row in rows]
    return Page(count=count, next=next_url, previous=previous, results=results)


@router.post("/", status_code=status.HTTP_201_CREATED)
def create_organization(
    body: OrganizationCreate, session: SessionDep, user: AdminUser
) -> OrganizationPublic:
    if session.scalar(select(Organization).where(Organization.name == body.name)):
        raise HTTPException(400, detail=f"name: an organization named {body.name!r} exists")
    organization = Organization(name=body.name, description=body.description)
    session.add(organization)
    session.commit()
    return OrganizationPublic.model_validate(organization)


@router.get("/{organization_id}/")
def get_organization(
    organization_id: int, session: SessionDep, user: CurrentUser
) -> OrganizationPublic:
    organization = get_in_scope_or_404(session, user, Organization, organization_id, "organization")
    return OrganizationPublic.model_validate(organization)
