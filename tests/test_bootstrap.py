"""What a start finds and mends: versions and runs a stopped service left half done."""

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from conftest import ADMIN_PASSWORD
from estate.api.app import create_app
from estate.db.engine import make_engine
from estate.db.models import PluginVersion
from factories import API


def test_a_version_left_preparing_is_failed_at_the_next_start(settings):
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
