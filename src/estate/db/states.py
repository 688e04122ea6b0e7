"""The words stored in status columns: a run's status, a plugin version's state and source.

Each is a ``StrEnum``: its members are the very strings the database holds and the API
answers (``RunStatus.RUNNING == "running"``), so the columns stay plain strings.
"""

from __future__ import annotations

import enum


class RunStatus(enum.StrEnum):
    """A collection run: pending → running → completed | partial | failed | canceled."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    PARTIAL = "partial"  # finished, but some resources were rejected
    FAILED = "failed"
    CANCELED = "canceled"


class VersionState(enum.StrEnum):
    """A plugin version: preparing (its environment) → ready | failed."""

    PREPARING = "preparing"
    READY = "ready"
    FAILED = "failed"


class VersionSource(enum.StrEnum):
    """Where a plugin version came from: built in (``plugins/``), uploaded, installed
    from a remote repository (``PluginVersion.repository`` names it), or imported from
    an air-gapped bundle (``estate plugin bundle import``)."""

    MANAGED = "managed"
    LOCAL = "local"
    REMOTE = "remote"
    BUNDLE = "bundle"


class RepositoryKind(enum.StrEnum):
    """A remote plugin repository: another Estate's API, or a static index."""

    ESTATE = "estate"
    STATIC = "static"


class SignatureStatus(enum.StrEnum):
    """What the last check of a version's files and signature found (docs/repository.md)."""

    VALID = "valid"  # files match their list, signed by a known key that is not revoked
    INVALID = "invalid"  # a bad signature, or one by an unknown or revoked key
    MODIFIED = "modified"  # a file changed, was added or removed since the list was made
    UNSIGNED = "unsigned"  # files match their list; no signature


class Trust(enum.StrEnum):
    """Who vouches for a version (Grafana's signature levels)."""

    MANAGED = "managed"  # signed with this installation's own key: a built-in
    TRUSTED = "trusted"  # signed with a key an administrator imported
    UNSIGNED = "unsigned"  # no valid signature


class Role(enum.StrEnum):
    """A user's role in one organization, lowest first: each role may do what the
    roles before it may (``Role.OPERATOR.covers(Role.VIEWER)``)."""

    VIEWER = "viewer"  # reads the organization's providers, runs, resources, events
    OPERATOR = "operator"  # and collects, cancels runs, tests connections
    ADMIN = "admin"  # and creates, edits, deletes providers; manages members

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def covers(self, need: Role) -> bool:
        """Whether this role may do what ``need`` may."""
        return self.rank >= need.rank


_RANKS = {role: rank for rank, role in enumerate(Role)}
