"""The words plugins and the service share: resource states, relationship types, severities.

A plugin written for another service may send words outside these vocabularies (an
AWS plugin's ``stopping``, a ``manages`` relationship). One such word costs neither
the record nor the run: a state becomes :func:`nearest_state` of it, the plugin's
word kept beside it (see ``resource.settle_state``); a relationship type is kept as
given; and the run's log warns once per distinct word (:func:`unknown_word_note`).
Estate's own plugins send vocabulary words only.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "EVENT_SEVERITIES",
    "MAX_WORD_CHARS",
    "RELATIONSHIP_TYPES",
    "STATES",
    "STATE_SYNONYMS",
    "nearest_state",
    "unknown_word_note",
]

STATES = frozenset(
    {
        "active",
        "inactive",
        "running",
        "stopped",
        "suspended",
        "provisioning",
        "terminated",
        "decommissioned",
        "error",
        "unknown",
    }
)
"""The states a resource may be in (``ResourceData.state``)."""

RELATIONSHIP_TYPES = frozenset(
    {
        "runs_on",
        "part_of",
        "member_of",
        "attached_to",
        "connected_to",
        "managed_by",
        "contains",
        "depends_on",
        "load_balances",
        "routes_to",
        "backs_up",
        "replicates_to",
    }
)
"""The kinds of edge a resource may have to another (``Relationship.relationship_type``)."""

EVENT_SEVERITIES = ("debug", "info", "warning", "error", "critical")
"""The severities an event may have, least severe first."""

MAX_WORD_CHARS = 100
"""The longest word outside the vocabularies a record may carry (a state or a
relationship type): a word, not a paragraph. The service keeps ``power_state`` in a
column of this width."""

# Platform words (EC2, RDS, EBS, ELB, Lambda, EKS, vSphere, libvirt, Proxmox, OpenStack,
# Redfish, IPMI), keyed without case and separators: "shutting-down", "ShuttingDown" and
# "SHUTTING_DOWN" are one word. A transition counts as the state it leads to (stopping
# → stopped, shutting-down → terminated), but for creation, which is provisioning.
_SYNONYMS = {
    "running": "poweredon on started starting booting reboot rebooting hardreboot "
    "restarting resuming unpausing migrating blocked poweringon up",
    "stopped": "poweredoff off stopping shutoff shutdown poweringoff halted halting exited "
    "down shelved shelvedoffloaded",
    "suspended": "paused pausing suspending pmsuspended hibernated hibernating saved",
    "provisioning": "pending creating building build rebuild initializing initialising "
    "launching deploying scheduling cloning importing prelaunch",
    "active": "available enabled online connected normal ok healthy ready inuse attached "
    "modifying updating upgrading backingup configuring",
    "inactive": "maintenance inmaintenance maintenancemode enteringmaintenance disabled "
    "disconnected offline standby standbyoffline standbyspare unavailable "
    "unavailableoffline quiesced detached notready",
    "terminated": "shuttingdown terminating deleting deleted softdeleted destroying "
    "destroyed removing removed",
    "decommissioned": "decommissioning retired retiring archived",
    "error": "failed failure crashed faulted fault broken notresponding unreachable "
    "inaccessible invalid orphaned impaired activeimpaired unhealthy degraded critical "
    "storagefull",
    "unknown": "nostate",
}
_SEPARATORS = str.maketrans("", "", " -_./")


def _key(word: str) -> str:
    return word.translate(_SEPARATORS).lower()


STATE_SYNONYMS: Mapping[str, str] = MappingProxyType(
    {
        **{_key(state): state for state in STATES},
        **{word: state for state, words in _SYNONYMS.items() for word in words.split()},
    }
)
"""Platform words and the state each is stored as, keyed in lower case without
separators (``" -_./"``); :func:`nearest_state` looks words up here. A word not
listed is stored as ``unknown``."""


def nearest_state(word: str) -> str:
    """The state of :data:`STATES` nearest to a platform's ``word``.

    A state is itself; ``Running``, ``poweredOff``, ``shutting-down``, ``maintenance``
    are looked up in :data:`STATE_SYNONYMS` whatever their case and separators; any
    other word is ``unknown``.
    """
    if word in STATES:
        return word
    return STATE_SYNONYMS.get(_key(word), "unknown")


def unknown_word_note(field: str, word: str, stored_as: str) -> str:
    """The warning a run's log shows once per distinct word outside a vocabulary.

    ``field`` is ``state`` or ``relationship_type``; ``stored_as`` what was stored.
    """
    if field == "state":
        return (
            f"state {word!r} is not one of Estate's states: stored as {stored_as!r}, the "
            "plugin's word kept in power_state (or properties.source_state when "
            "power_state is set); shown once per run"
        )
    return (
        f"{field} {word!r} is not one of Estate's {field.replace('_', ' ')}s: kept as "
        "given; shown once per run"
    )
