"""Conformance badges: a small flat SVG per plugin and profile, as shields draw them.

The text is escaped and the widths estimated from the characters (Verdana 11px, the
font badges use), so a badge needs no font at render time and nothing from elsewhere.
"""

from __future__ import annotations

from html import escape

COLORS = {
    "pass": "#4c1",
    "partial": "#dfb317",
    "fail": "#e05d44",
    "not_tested": "#9f9f9f",
}
WORDS = {"pass": "pass", "partial": "partial", "fail": "fail", "not_tested": "not tested"}

_NARROW = set("fijlrtI.,:;|!'() ")
_WIDE = set("mwMW@%")


def _width(text: str) -> int:
    """Pixels ``text`` takes in Verdana 11px, near enough for a badge."""
    width = 0.0
    for char in text:
        width += 3.5 if char in _NARROW else 10.0 if char in _WIDE else 7.0
    return int(width) + 10


def badge_svg(label: str, status: str) -> str:
    """The badge ``label | status`` coloured by the status (``pass``, ``fail``, …)."""
    message = WORDS.get(status, status)
    color = COLORS.get(status, COLORS["not_tested"])
    left, right = _width(label), _width(message)
    total = left + right
    label_text, message_text = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
        f'aria-label="{label_text}: {message_text}">'
        f"<title>{label_text}: {message_text}</title>"
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{color}"/>'
        '<g fill="#fff" text-anchor="middle" '
        'font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{left / 2:.1f}" y="14">{label_text}</text>'
        f'<text x="{left + right / 2:.1f}" y="14">{message_text}</text>'
        "</g></svg>"
    )
