"""This installation as a plugin repository (its index and archives), and installing from
remote ones (docs/repository.md, "Remote repositories").

Any authenticated user may read the index and the archives, as they may read the
version list: plugin code is no secret within an installation, and another Estate syncs
with an ordinary API token. Installing is for system administrators, and audited.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from ...db.models import PluginVersion
from ...db.states import VersionState
from ...registry import index, lifecycle
from ...registry.archive import sha256_of
from ...registry.available import Available, AvailableFilter, available
from ...registry.errors import PluginNotFound
from ...registry.install import Outcome
from ...registry.remote_install import install_remote
from ..deps import AdminUser, ContextDep, CurrentUser, SessionDep
from ..openapi import conflict
from ..pagination import Page, PageNumber, PageSize, page_list
from ..schemas_repositories import AvailablePublic, InstallPublic, InstallRequest

router = APIRouter(prefix="/provider-plugins", tags=["plugin repositories"])

GZIP = "application/gzip"


@router.get(
    "/index/",
    description="The repository index of this installation's ready versions (schema 1, "
    "docs/repository.md): what another Estate syncs from. Archive URLs are absolute.",
)
def plugin_index(
    request: Request, context: ContextDep, session: SessionDep, user: CurrentUser
) -> dict[str, object]:
    def archive_url(version: PluginVersion) -> str:
        return str(request.url_for("version_archive", key=version.key, version=version.version))

    return index.index_document(session, context.settings, archive_url=archive_url)


@router.get(
    "/available/",
    description="Every version known from any source, merged: installed ones (managed, "
    "local, bundle, remote) and what each enabled repository offered at its last sync, one "
    "row per (key, version, source, repository). Each row says what `install` of its key "
    "with no source would choose and why (`chosen_source`, `reason`), or that equally "
    "preferred repositories make it `ambiguous`. Pre-releases are hidden unless asked for.",
)
def available_plugins(
    request: Request,
    session: SessionDep,
    user: AdminUser,
    key: Annotated[str | None, Query(max_length=200, description="Only this key")] = None,
    source: Annotated[
        Literal["managed", "local", "bundle", "remote"] | None,
        Query(description="Only this source"),
    ] = None,
    repository: Annotated[
        str | None, Query(max_length=100, description="Only rows of this repository")
    ] = None,
    prerelease: Annotated[bool, Query(description="Also list pre-releases")] = False,
    installed: Annotated[bool | None, Query(description="Only installed (or not) ones")] = None,
    page: PageNumber = 1,
    page_size: PageSize = 100,
) -> Page[AvailablePublic]:
    wanted = AvailableFilter(key, source, repository, prerelease, installed)
    rows = [_available(row) for row in available(session, wanted)]
    return page_list(request, rows, page, page_size)


def _available(row: Available) -> AvailablePublic:
    verdict = row.verdict
    return AvailablePublic(
        key=row.key, version=row.version, source=row.source, repository=row.repository,
        priority=row.priority, prerelease=row.prerelease, yanked=row.yanked, sha256=row.sha256,
        created_at=row.created_at, installed=row.installed, state=row.state, chosen=row.chosen,
        chosen_source=verdict.source, chosen_version=verdict.version, reason=verdict.reason,
        ambiguous=verdict.ambiguous,
    )  # fmt: skip


@router.get(
    "/{key}/versions/{version}/archive/",
    name="version_archive",
    response_class=Response,
    responses={200: {"content": {GZIP: {}}, "description": "The version's exact archive"}},
    description="The exact archive of a ready version, as the index describes it; "
    "`X-Checksum-Sha256` is its sha256.",
)
def version_archive(key: str, version: str, session: SessionDep, user: CurrentUser) -> Response:
    found = lifecycle.stored_version(session, key, version)
    if found.state != VersionState.READY:
        raise PluginNotFound(f"{key} {version} is {found.state}: only ready versions are served")
    data = index.archive_bytes(found)
    sha = sha256_of(data)
    name = index.archive_file_name(key, version)
    return Response(
        content=data,
        media_type=GZIP,
        headers={
            "X-Checksum-Sha256": sha,
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@router.post(
    "/install/",
    status_code=status.HTTP_201_CREATED,
    responses={
        **conflict(
            "Repositories of equal priority offer the key (name a source), or the version is "
            "installed with other bytes (versions are immutable)"
        ),
        502: {"description": "The repository failed, or the archive is not what its index says"},
        503: {"description": "The service is offline (ESTATE_OFFLINE=1)"},
    },
    description="Install a plugin version from a synced remote repository: the archive is "
    "downloaded, checked against the index's sha256, and installed as a `remote` version "
    "(unsigned packages refused; the signer's key must be in the keyring). The same version "
    "installed with the same bytes answers 200 and changes nothing.",
)
def install_plugin(
    body: InstallRequest,
    context: ContextDep,
    session: SessionDep,
    user: AdminUser,
    response: Response,
) -> InstallPublic:
    version, outcome, choice = install_remote(
        session, context.settings, context.box, body.key, body.version, body.source
    )
    if outcome == Outcome.EXISTING:
        response.status_code = status.HTTP_200_OK
    return InstallPublic(
        key=version.key,
        version=version.version,
        sha256=version.sha256,
        state=version.state,
        outcome=outcome,
        source=version.source,
        repository=version.repository,
        chosen_source=choice.repository.name,
        reason=choice.reason,
        signature_status=version.signature_status,
        trust=version.trust,
    )
