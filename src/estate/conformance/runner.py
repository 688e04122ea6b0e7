"""``run_suite``: the base checks, then each profile's, then the checks of the whole run.

Each check is timed and reported through ``progress`` as soon as it ends. After each
profile the session puts back what its checks changed. Every message (and the
platform's description) is masked of the connection's secrets before it is reported:
the report is stored and shown, and must never carry one.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import Settings
from ..redaction import mask, maskable
from ..runtime.errors import PluginRuntimeError
from . import base, clone, core, extras, snapshot  # noqa: F401 - they register the checks
from .checks import Blocked, Check, Failed, Skipped, checks_of
from .report import BASE, CheckResult, CheckStatus, SuiteReport
from .session import Session
from .target import load_target

logger = logging.getLogger(__name__)

Progress = Callable[[CheckResult], None]


def run_suite(
    plugin_dir: Path,
    config: Mapping[str, Any],
    *,
    profiles: Sequence[str] | None = None,
    python: Path | None = None,
    progress: Progress | None = None,
    bad_config: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> SuiteReport:
    """Run the conformance suite on the plugin folder ``plugin_dir`` against the platform
    ``config`` reaches (docs/conformance.md).

    ``profiles``: None runs every profile the plugin claims; a profile it does not claim
    raises ``ValueError`` naming it, before anything runs (as does a folder without a
    manifest). ``python``: the interpreter of the plugin's environment (None: this one).
    ``progress`` is called with each check's result as it ends. ``bad_config``: wrong
    credentials, over ``config`` (None: each secret value with ``-wrong`` appended).
    ``settings``: the timeouts and confinement plugin processes get (None: from the
    environment, as ``estate`` reads it; the service passes its own).
    """
    target = load_target(
        Path(plugin_dir), config, profiles=profiles, python=python, bad_config=bad_config
    )
    settings = settings if settings is not None else Settings()
    forms = maskable(target.secret_values)
    results: list[CheckResult] = []
    started = datetime.now(UTC)

    def record(check: Check, session: Session) -> None:
        result = _run(check, session, forms)
        results.append(result)
        if progress is not None:
            progress(result)

    with tempfile.TemporaryDirectory(prefix="estate-conformance-") as state:
        session = Session(target, settings, Path(state) / "state")
        base_checks = checks_of(BASE)
        try:
            for check in (c for c in base_checks if not c.last):
                record(check, session)
            for profile in target.profiles:
                for check in checks_of(profile):
                    if _applies(check, session):
                        record(check, session)
                _restore(session, profile)
            for check in (c for c in base_checks if c.last):
                record(check, session)
        finally:
            if session.harness is not None:
                session.harness.close()
    return SuiteReport(
        plugin_key=target.key,
        plugin_version=target.version,
        platform=mask(session.platform, forms),
        started_at=started,
        finished_at=datetime.now(UTC),
        profiles=list(target.profiles),
        checks=results,
        claimed=list(target.claimed),
    )


def _applies(check: Check, session: Session) -> bool:
    """Checks of an optional action the plugin does not declare are left out."""
    return check.action is None or check.required or session.declared(check.action)


def _run(check: Check, session: Session, forms: tuple[str, ...]) -> CheckResult:
    began = time.monotonic()
    status: CheckStatus = "pass"
    try:
        if check.action and session.defined and not session.declared(check.action):
            raise Failed(f"the profile requires {check.action}; the plugin does not declare it")
        message = check.function(session)
    except Failed as exc:
        status, message = "fail", str(exc)
    except Skipped as exc:
        status, message = "skip", str(exc)
    except Blocked as exc:
        status, message = "error", str(exc)
    except PluginRuntimeError as exc:
        status, message = "error", f"the plugin failed: {exc.kind}: {exc}"
    except Exception as exc:  # one check's fault (or a plugin's nonsense answer) costs it alone
        logger.exception("conformance check %s raised", check.name)
        status, message = "error", f"{type(exc).__name__}: {exc}"
    return CheckResult(
        name=check.name,
        profile=check.profile,
        status=status,
        message=mask(message, forms),
        duration_s=time.monotonic() - began,
        required=check.required,
    )


def _restore(session: Session, profile: str) -> None:
    if session.harness is None:
        return
    try:
        left = session.restore()
    except (Failed, PluginRuntimeError) as exc:
        left = [f"({exc})"]
    if left:
        logger.warning(
            "conformance: after the %s checks, could not put back %s", profile, ", ".join(left)
        )
