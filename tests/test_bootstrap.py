"""What a start finds and mends: versions and runs a stopped service left half done."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.bootstrap import prepare, recover_runs
from estate.config import Settings
from estate.context import Context
from estate.db.engine import make_engine
from estate.db.models import (
    CollectionRun,
    Organization,
    PluginVersion,
    Provider,
    ResourceRelationship,
)
from estate.demo import announce
from estate.inventory.ingest import Ingestor
from factories import API


def test_a_version_left_preparing_is_failed_at_the_next_start(settings: Settings) -> None:
    engine = make_engine(settings.database)
    with Session(engine) as session, session.begin():
        session.add(
            PluginVersion(
                key="half:done",
                vendor="half",
                provider_type="done",
                version="1.0.0",
                sha256="0" * 64,
                class_path="",
                manifest={"vendor": "half", "provider_type": "done", "version": "1.0.0"},
                source="local",
                state="preparing",
                path="/nonexistent",
            )
        )
    engine.dispose()

    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", ADMIN_PASSWORD)
        detail = client.get(f"{API}/provider-plugins/half:done/").json()

    assert detail["state"] == "failed"
    assert "stopped while this version was being prepared" in detail["error"]


def test_a_run_the_service_stopped_during_gets_its_relationship_index(settings: Settings) -> None:
    context = Context.from_settings(settings)
    try:
        prepare(context)
        with context.sessions() as session, session.begin():
            organization = session.scalars(select(Organization)).first()
            provider = Provider(
                name="p",
                vendor="simulated",
                provider_type="datacenter",
                organization_id=organization.id,
            )
            session.add(provider)
            session.flush()
            run = CollectionRun(provider_id=provider.id, status="running")
            session.add(run)
            session.flush()
            provider_id, run_id = provider.id, run.id
        ingestor = Ingestor(context.engine, provider_id=provider_id, run_id=run_id)
        ingestor.add_batch(
            [
                {"ems_ref": "h", "resource_type_slug": "hypervisor_host"},
                {
                    "ems_ref": "a",
                    "resource_type_slug": "virtual_machine",
                    "relationships": [{"target_ems_ref": "h", "relationship_type": "runs_on"}],
                },
            ]
        )
        ingestor.flush()  # stored; the service "stops" before the run ends

        assert recover_runs(context) == []

        with context.sessions() as session:
            pairs = session.execute(
                select(ResourceRelationship.target_ems_ref, ResourceRelationship.source_ems_ref)
            ).all()
            status = session.get(CollectionRun, run_id).status
        assert [tuple(p) for p in pairs] == [("h", "a")]
        assert status == "failed"
        recover_runs(context)  # twice does no harm
        with context.sessions() as session:
            assert len(session.execute(select(ResourceRelationship.source_ems_ref)).all()) == 1
    finally:
        context.close()


def test_a_generated_admin_password_is_printed_at_the_first_start_only(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings.model_copy(update={"admin_password": None})
    url = "http://127.0.0.1:8000"
    logins = []
    for _ in range(2):
        context = Context.from_settings(settings)
        try:
            logins.append(prepare(context))
        finally:
            context.close()
        announce(logins[-1], url)
    first, second = capsys.readouterr().out.split("Estate is serving")[1:]

    saved = (settings.resolved_data_dir / "admin_password").read_text().strip()
    assert logins[0].is_generated and logins[0].password == saved
    assert f"Admin login: admin / {saved}  (generated, saved in " in first
    assert not logins[1].is_generated and logins[1].password is None
    assert saved not in second
    assert f"Admin login: admin / password in {settings.resolved_data_dir / 'admin_password'}" in (
        second
    )
    with TestClient(create_app(settings)) as client:
        client.auth = ("admin", saved)
        assert client.get(f"{API}/users/me/").status_code == 200


def test_a_password_from_the_environment_is_never_printed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    context = Context.from_settings(settings)
    try:
        announce(prepare(context), "http://127.0.0.1:8000")
    finally:
        context.close()
    out = capsys.readouterr().out
    assert ADMIN_PASSWORD not in out
    assert "Admin login: admin / password from ESTATE_ADMIN_PASSWORD" in out
