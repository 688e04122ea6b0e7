"""Chatsubo's label metadata, read from a guest's notes (seed 003).

Chatsubo marks the machines it manages with lines ``chatsubo.<key>=<value>`` in the
guest's notes (PVE's ``description``): ``chatsubo.template`` (the template an
instance comes from, or that a template is), ``chatsubo.realm`` (the realm holding
the instance), ``chatsubo.address`` (its IP address), flags and foothold
credentials. Chatsubo finds a label anywhere on a line and compares its keys in
lower case; so does this module. It splits at the first ``=`` (Chatsubo's greedy
pattern splits at the last; no label value seen in practice holds one).

Flags are ``chatsubo.flag=<value>`` or ``chatsubo.flag.<name>=<value>`` (also
``flags.``); credentials ``chatsubo.creds.<name>=<value>``. A value whose key names
a password, secret or token is kept as ``***``: an inventory is read by more people
than the notes of a challenge machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PREFIX = "chatsubo."
MASK = "***"
_LABEL = re.compile(r"(chatsubo\.[^=\s]+)\s*=(.*)$", re.IGNORECASE)
_SECRET_WORDS = ("pass", "secret", "token")
_FLAG_KEYS = ("flag", "flags")
_CRED_KEYS = ("creds", "cred", "credentials")


@dataclass(frozen=True, slots=True)
class Labels:
    """The labels of one guest: every ``chatsubo.*`` key (lower case) and its value."""

    values: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values)

    def get(self, name: str) -> str | None:
        return self.values.get(PREFIX + name)

    def as_property(self) -> dict[str, object]:
        """``properties["chatsubo"]``: the three labels Chatsubo reads, flags, credentials."""
        out: dict[str, object] = {
            name: value
            for name in ("template", "realm", "address")
            if (value := self.get(name)) is not None
        }
        flags = self._group(_FLAG_KEYS)
        if flags:
            out["flags"] = flags
        creds = self._group(_CRED_KEYS)
        if creds:
            out["creds"] = creds
        return out

    def _group(self, heads: tuple[str, ...]) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, value in self.values.items():
            head, _, name = key[len(PREFIX) :].partition(".")
            if head in heads:
                found[name or head] = value
        return found


def parse(notes: str | None) -> Labels:
    """The labels found in ``notes`` (none when it holds no ``chatsubo.`` line)."""
    if not notes or PREFIX not in notes.lower():
        return Labels()
    values: dict[str, str] = {}
    for line in notes.splitlines():
        start = line.lower().find(PREFIX)
        if start < 0:
            continue
        match = _LABEL.match(line, start)
        if match is None:
            continue
        key = match.group(1).lower()
        values[key] = MASK if is_secret(key) else match.group(2).strip()
    return Labels(values)


def is_secret(key: str) -> bool:
    """Whether a label's key names a secret (its value is masked everywhere)."""
    return any(word in key.lower() for word in _SECRET_WORDS)


def masked_notes(notes: str) -> str:
    """``notes`` with the value of every secret label replaced by ``***``."""
    if PREFIX not in notes.lower():
        return notes
    lines = []
    for line in notes.splitlines(keepends=True):
        start = line.lower().find(PREFIX)
        match = _LABEL.match(line.rstrip("\r\n"), start) if start >= 0 else None
        if match is not None and is_secret(match.group(1)):
            ending = line[len(line.rstrip("\r\n")) :]
            line = line[: match.start(2)] + MASK + ending
        lines.append(line)
    return "".join(lines)


def label_key(name: str) -> str:
    """``name`` as a label's key (``realm`` → ``chatsubo.realm``), or ValueError saying why
    it cannot be one (a label is one ``key=value`` line: no ``=``, blank or line break)."""
    key = name.strip().lower()
    if not key.startswith(PREFIX):
        key = PREFIX + key
    if key == PREFIX or any(char in key for char in "=\r\n\t ") or ".." in key:
        raise ValueError(f"{name!r} cannot be a label name (no '=', blanks or line breaks)")
    return key


def with_labels(notes: str, values: dict[str, str]) -> str:
    """``notes`` with each ``chatsubo.<key>=<value>`` of ``values`` set: a line holding the
    label is replaced (the first one; later ones dropped), a new label is appended.

    Keys are full label keys (:func:`label_key`); a value must fit on its line.
    """
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise ValueError(f"the value of {key} holds a line break")
    pending = dict(values)
    lines = []
    for line in notes.splitlines():
        start = line.lower().find(PREFIX)
        match = _LABEL.match(line, start) if start >= 0 else None
        key = match.group(1).lower() if match else None
        if key in values:
            if key in pending:
                lines.append(f"{line[:start]}{key}={pending.pop(key)}")
            continue
        lines.append(line)
    lines += [f"{key}={value}" for key, value in pending.items()]
    return "\n".join(lines)
