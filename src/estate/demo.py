"""``make run``'s demo: a provider on the simulated datacenter, collected at start."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from .bootstrap import AdminLogin
from .context import Context
from .db.models import CollectionRun, Provider
from .jobs.collect import run_collection
from .jobs.executor import LocalExecutor

logger = logging.getLogger(__name__)

DEMO_NAME = "Demo datacenter"
DEMO_CONFIG = {"clusters": 2, "hosts_per_cluster": 4, "vms_per_host": 12, "churn_percent": 5}


def start_demo(context: Context, executor: LocalExecutor) -> int | None:
    """Create the demo provider when there is no provider yet, and collect it."""
    with context.sessions() as session:
        if session.scalar(select(func.count(Provider.id))):
            return None
        provider = Provider(
            name=DEMO_NAME,
            infrastructure="private_cloud",
            vendor="simulated",
            provider_type="datacenter",
            endpoint="dc-1.simulated.local",
            organization_id=1,
            connection_config=DEMO_CONFIG,
        )
        session.add(provider)
        session.flush()
        run = CollectionRun(provider_id=provider.id, plugin_key=provider.key)
        session.add(run)
        session.commit()
        run_id = run.id
    executor.submit(run_collection, run_id)
    print(f"Demo provider {DEMO_NAME!r} created; collection run {run_id} started.", flush=True)
    return run_id


def announce(login: AdminLogin, url: str) -> None:
    """Print where the service is and how to log in.

    A generated password is printed once, by the start that generated it; later starts
    say where it is kept.
    """
    print(f"\nEstate is serving on {url}  (API docs: {url}/docs)", flush=True)
    if login.is_generated:
        print(f"Admin login: {login.username} / {login.password}  ({login.source})", flush=True)
    else:
        print(f"Admin login: {login.username} / password {login.source}", flush=True)
    print(f"Try: curl -u {login.username}:PASSWORD {url}/api/inventory/v1/resources/\n", flush=True)
