"""What every action on a guest needs: find it, run a PVE task on it, read PVE's refusals.

A guest's ``ems_ref`` (``qemu/<vmid>``, ``lxc/<vmid>``) does not name its node, so that
the record survives a migration: an action first finds the node in
``/cluster/resources``. A change is a PVE task: the request answers a UPID at once and
the work goes on in a worker on the node; :func:`wait` polls
``/nodes/N/tasks/UPID/status`` until the task stopped. Its exit status ``OK`` (or
``WARNINGS: n``) is success; anything else is PVE's own reason for the failure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from proxmoxer import ProxmoxAPI, ResourceException

from inventory_providers.errors import (
    InvalidParameter,
    NotFound,
    ProviderError,
    ProviderTimeout,
    Unauthenticated,
)

from . import client
from .settings import Settings

TASK_TIMEOUT = 600  # seconds a task may run before the action stops waiting for it
FIRST_POLL = 0.05
LAST_POLL = 1.0
_REF = re.compile(r"(qemu|lxc)/([1-9][0-9]{2,8})")
_MISSING = re.compile(r"Configuration file '[^']+' does not exist")


@dataclass(frozen=True, slots=True)
class Guest:
    """A guest as ``/cluster/resources`` lists it: where it is, what it is now."""

    ems_ref: str
    kind: str
    vmid: int
    node: str
    entry: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.entry.get("status") or "unknown")

    @property
    def is_template(self) -> bool:
        return bool(self.entry.get("template"))

    def path(self, api: ProxmoxAPI) -> Any:
        """The proxmoxer path of the guest (``/nodes/N/qemu/ID``)."""
        return api.nodes(self.node)(self.kind)(self.vmid)


class TaskFailed(ProviderError):
    """A PVE task ended with another exit status than OK; ``reason`` is PVE's."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def listing(api: ProxmoxAPI, settings: Settings) -> list[dict[str, Any]]:
    """Every guest of the cluster (``/cluster/resources?type=vm``)."""
    guests: list[dict[str, Any]] = client.get(api.cluster.resources, settings, type="vm")
    return guests


def find(api: ProxmoxAPI, settings: Settings, ems_ref: str) -> Guest:
    """The guest ``ems_ref`` names; ``NotFound`` when the cluster has none."""
    matched = _REF.fullmatch(ems_ref or "")
    if matched is None:
        raise NotFound(f"{ems_ref!r} names no guest (qemu/<vmid> or lxc/<vmid>)")
    for entry in listing(api, settings):
        if entry.get("id") == ems_ref:
            return Guest(ems_ref, matched.group(1), int(matched.group(2)), entry["node"], entry)
    raise NotFound(f"no guest {ems_ref} in the cluster at {settings.url}")


def guest_of(entry: Mapping[str, Any]) -> Guest:
    """A ``/cluster/resources`` entry as a :class:`Guest`."""
    return Guest(entry["id"], entry["type"], int(entry["vmid"]), entry["node"], dict(entry))


def wait(
    api: ProxmoxAPI, settings: Settings, upid: Any, what: str, timeout: float = TASK_TIMEOUT
) -> str:
    """Wait until the task ``upid`` stopped; its exit status, or ``TaskFailed``."""
    if not isinstance(upid, str) or not upid.startswith("UPID:"):
        return "OK"  # PVE did the work in the request itself (no worker was started)
    node = upid.split(":")[1]
    status = api.nodes(node).tasks(upid).status
    deadline = time.monotonic() + timeout
    pause = FIRST_POLL
    while True:
        task = client.get(status, settings)
        if task.get("status") == "stopped":
            break
        if time.monotonic() >= deadline:
            raise ProviderTimeout(
                f"{what}: PVE's task {upid} still runs after {timeout:.0f} s; it goes on "
                "on the node (see its task log)"
            )
        time.sleep(pause)
        pause = min(pause * 2, LAST_POLL)
    exit_status = str(task.get("exitstatus") or "")
    if exit_status == "OK" or exit_status.startswith("WARNINGS"):
        return exit_status
    raise TaskFailed(f"{what}: {exit_status or 'PVE task failed'}", exit_status)


def refused(
    exc: BaseException, settings: Settings, what: str, names: Mapping[str, str] | None = None
) -> ProviderError:
    """``exc`` from an action's request as the SDK error: PVE's parameter errors name the
    action's parameter (``names`` maps PVE's names to the action's), a guest gone is
    ``NotFound``, a privilege missing says which."""
    if isinstance(exc, ProviderError):
        return exc
    if not isinstance(exc, ResourceException):
        return client.translate(exc, settings)
    message = str(exc.content or exc.status_message or "").strip()
    errors = getattr(exc, "errors", None) or {}
    if exc.status_code == 400 and errors:
        pve_name, problem = next(iter(sorted(errors.items())))
        ours = (names or {}).get(pve_name, pve_name)
        return InvalidParameter(f"{what}: params.{ours}: {str(problem).strip()}")
    if exc.status_code == 403:
        return Unauthenticated(
            f"{what}: {settings.url} refused it to {settings.user} ({message}); give the user "
            "a role holding that privilege on the guest (PVEVMAdmin on /vms, or its pool)"
        )
    if exc.status_code == 500 and _MISSING.search(message):
        return NotFound(f"{what}: {message}")
    if exc.status_code == 500:
        return ProviderError(f"{what}: {message}")
    return client.translate(exc, settings)


def request(
    settings: Settings,
    what: str,
    call: Callable[[], Any],
    names: Mapping[str, str] | None = None,
) -> Any:
    """``call()`` (one request that changes something: never retried), its failure
    translated by :func:`refused`."""
    try:
        return call()
    except Exception as exc:  # proxmoxer and requests raise many kinds; each is translated
        raise refused(exc, settings, what, names) from exc


class ActionSession:
    """Mixed into the provider: the session an action opens for itself (in the
    provider's long-lived process ``connect()`` has not run), and the checks of the
    stored record that say whether an action can run now."""

    settings: Settings | None
    api: ProxmoxAPI | None

    @contextmanager
    def session(self) -> Iterator[tuple[Settings, ProxmoxAPI]]:
        """The open session (a test's, or one logged in for this action and left after)."""
        if self.settings is not None and self.api is not None:
            yield self.settings, self.api
            return
        self.connect()  # type: ignore[attr-defined]  # the provider's
        try:
            if self.settings is None or self.api is None:
                raise ProviderError("connect() opened no session")
            yield self.settings, self.api
        finally:
            self.disconnect()  # type: ignore[attr-defined]

    def _is_running(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        state = (resource or {}).get("state")
        return state == "running", "" if state == "running" else f"it is {state}, not running"

    def _has_snapshots(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        properties = (resource or {}).get("properties") or {}
        if properties.get("snapshot_count"):
            return True, ""
        return False, "the guest has no snapshots (as of the last collection)"
