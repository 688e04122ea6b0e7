"""The pages' Jinja2 environment and the one way a page is answered.

Every HTML answer carries a Content-Security-Policy that allows only the service's
own origin: no script, style, image or request can reach another host, and no inline
script runs (htmx is configured by a meta tag, our glue is a file).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from .assets import asset_url

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
_LEVEL = re.compile(r"\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\]")


def ago(moment: datetime | None) -> str:
    """``3 min ago``: how long before now ``moment`` was ("" for none)."""
    if moment is None:
        return ""
    seconds = int((datetime.now(UTC) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{max(seconds, 0)} s ago"


def stamp(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def log_level(line: str) -> str:
    """The level of a run's log line, as a CSS class (``info`` when it says none)."""
    found = _LEVEL.search(line[:40])
    return found.group(1).lower() if found else "info"


def _number(value: int | None) -> str:
    return "" if value is None else f"{value:,}"


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.globals["asset"] = asset_url
environment.filters.update(ago=ago, stamp=stamp, number=_number, log_level=log_level)


def fragment(name: str, **values: Any) -> str:
    """A template rendered to text (a page's part, for a live update)."""
    return environment.get_template(name).render(**values)


def page(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A whole page, with the security headers."""
    values.setdefault("visitor", getattr(request.state, "visitor", None))
    values.setdefault("path", request.url.path)
    return HTMLResponse(fragment(name, **values), status_code=status_code, headers=SECURITY_HEADERS)
