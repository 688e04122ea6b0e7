"""The long-lived plugin processes the supervisor keeps, with their health and crashes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...jobs.process_board import every_process, slot_of
from ..deps import AdminUser, ContextDep
from ..pagination import Page, PageNumber, PageSize, page_list
from ..schemas import PluginProcessPublic

router = APIRouter(prefix="/plugin-processes", tags=["plugin processes"])


@router.get("/")
def list_processes(
    request: Request,
    context: ContextDep,
    user: AdminUser,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[PluginProcessPublic]:
    """Every supervised process: provider processes (connection tests, health, what
    actions are offered; slot ``provider:<id>``), the processes providers' actions run in
    (``provider-actions:<id>``) and plugin-version processes (API routes). Collection runs have processes of their
    own, shown on the run. System administrators only: it shows every organization's
    providers."""
    entries = every_process(context.supervisor, request.app.state.process_board)
    results = [
        PluginProcessPublic.model_validate({**entry, "slot": slot_of(entry)}) for entry in entries
    ]
    return page_list(request, results, page, page_size)
