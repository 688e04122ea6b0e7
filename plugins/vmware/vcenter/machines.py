"""What the lifecycle actions share: a session per action, one VM read, tasks waited for.

An action runs in the provider's long-lived process, where ``connect()`` was never
called: :meth:`Acting._acting` logs in for the action and out after it. A VM is read
with one PropertyCollector call (never pyVmomi's lazy attributes, one round trip each),
and a task is waited for by polling its ``info.state`` the same way: pyVmomi's
``WaitForTask`` reads the whole ``info``, whose ``entity`` a task about a snapshot
names as a snapshot, and pyVmomi refuses that with a TypeError (vcsim answers so).
vCenter's faults become the SDK's errors an operator acts on (:func:`translated`).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pyVmomi import vim, vmodl

from inventory_providers.errors import (
    InvalidParameter,
    NotFound,
    ProviderError,
    ProviderTimeout,
    Unsupported,
)

from .reader import Collector, Found, Reader
from .session import PlatformFault, Session, close_session, open_session
from .settings import Settings

TASK_TIMEOUT_S = 3600.0  # a clone of a large disk takes long; the run's timeout bounds it
FIRST_POLL_S, LAST_POLL_S = 0.05, 1.0
REFUSED_STATE = {"InvalidPowerState", "InvalidState", "TaskInProgress", "FileLocked"}
UNSUPPORTED = {"ToolsUnavailable", "NotSupported", "MethodNotFound", "MethodDisabled"}


def translated(exc: ProviderError, ems_ref: str | None = None) -> ProviderError:
    """The SDK error for a fault vCenter answered: an unknown VM is ``NotFound``, a VM
    in the wrong state ``InvalidParameter``, what the server or guest cannot do
    ``Unsupported``; anything else as it came."""
    fault = getattr(exc, "fault", "")
    if fault == "ManagedObjectNotFound" and ems_ref is not None:
        return NotFound(f"no virtual machine {ems_ref!r} on the vCenter (deleted?)")
    if fault in REFUSED_STATE:
        return InvalidParameter(str(exc))
    if fault in UNSUPPORTED:
        return Unsupported(str(exc))
    return exc


def read(session: Session, obj: Any, kind: type, paths: Sequence[str], what: str) -> Found:
    """The properties ``paths`` of one managed object, in one round trip."""
    spec = Collector.FilterSpec(
        objectSet=[Collector.ObjectSpec(obj=obj)],
        propSet=[Collector.PropertySpec(type=kind, pathSet=list(paths))],
    )
    for page in Reader(session, 1).pages(spec):
        for found in page:
            return found
    raise NotFound(f"{what}: vCenter answered nothing for {obj._moId}")


def machine(session: Session, ems_ref: str, paths: Sequence[str]) -> tuple[Any, Found]:
    """The VM ``ems_ref`` (a pyVmomi reference) and its properties; ``NotFound``."""
    vm = vim.VirtualMachine(ems_ref, session.stub)
    try:
        return vm, read(session, vm, vim.VirtualMachine, paths, f"reading {ems_ref}")
    except PlatformFault as exc:
        raise translated(exc, ems_ref) from None


def custom_fields(session: Session) -> dict[int, str]:
    """vCenter's custom attribute names by key (none on an ESXi host)."""
    manager = session.content.customFieldsManager
    if manager is None:
        return {}
    found = read(session, manager, vim.CustomFieldsManager, ["field"], "custom attributes")
    return {int(f.key): str(f.name) for f in found.props.get("field") or ()}


def call(session: Session, what: str, method: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """One method call on vCenter, its fault translated."""
    try:
        return session.call(what, lambda: method(*args, **kw))
    except PlatformFault as exc:
        raise translated(exc) from None


def wait(session: Session, task: Any, what: str, timeout: float = TASK_TIMEOUT_S) -> Any:
    """The result of ``task`` once it ended (a managed object as its id); the task's
    fault translated when it failed."""
    deadline = time.monotonic() + timeout
    delay = FIRST_POLL_S
    paths = ("info.state", "info.error", "info.result")
    while True:
        try:
            found = read(session, task, vim.Task, paths, what)
        except PlatformFault as exc:
            raise translated(exc) from None
        state = str(found.props.get("info.state"))
        if state == "success":
            return found.props.get("info.result")
        if state == "error":
            fault = found.props.get("info.error") or vmodl.MethodFault(msg="no reason given")
            raise translated(session.error(fault, what))
        if time.monotonic() > deadline:
            raise ProviderTimeout(f"{what} did not end within {timeout:g} s (task {task._moId})")
        time.sleep(delay)
        delay = min(delay * 2, LAST_POLL_S)


class Acting:
    """Mixed into the provider: the session one action uses."""

    credential: Any
    logger: logging.Logger

    @contextlib.contextmanager
    def _acting(self) -> Iterator[Session]:
        """Log in for one action, and out after it."""
        session = open_session(Settings.from_credential(self.credential), self.logger)
        try:
            yield session
        finally:
            close_session(session)

    def _has_snapshots(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        count = ((resource or {}).get("properties") or {}).get("snapshot_count") or 0
        return (True, "") if count else (False, "the virtual machine has no snapshots")

    def _running(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        state = (resource or {}).get("state")
        return (True, "") if state == "running" else (False, f"it is {state}, not running")

    def _powered_off(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        state = (resource or {}).get("state")
        if state in ("running", "suspended"):
            return False, f"it is {state}: power it off first (power_off or shutdown)"
        return True, ""
