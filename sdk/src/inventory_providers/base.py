"""The plugin contract, as plugins written for seed 000 import it: one import path.

A plugin subclasses :class:`BaseProvider`, sets ``vendor``, ``provider_type`` and
``supported_resource_types``, and implements ``connect()``, ``collect()`` and
``disconnect()``. ``collect()`` yields one :class:`ResourceData` per resource it finds;
it only fetches and maps: comparing, storing and deleting belong to the service.

Each name lives in the module of its concept (``provider``, ``credential``,
``resource``, ``events``, ``vocabulary``); ``inventory_providers.base`` re-exports
them all and stays the path plugins import from.
"""

from __future__ import annotations

from .actions import Param, action
from .credential import ProviderCredential
from .events import (
    MAX_EVENT_DATA_BYTES,
    MAX_EVENT_MESSAGE_CHARS,
    MAX_EVENT_TYPE_CHARS,
    validate_event,
)
from .provider import STATE_DIR_VARIABLE, BaseProvider
from .resource import (
    Relationship,
    ResourceData,
    ResourceValidationError,
    settle_state,
    validate_record,
)
from .vocabulary import (
    EVENT_SEVERITIES,
    MAX_WORD_CHARS,
    RELATIONSHIP_TYPES,
    STATE_SYNONYMS,
    STATES,
    nearest_state,
    unknown_word_note,
)

__all__ = [
    "EVENT_SEVERITIES",
    "MAX_EVENT_DATA_BYTES",
    "MAX_EVENT_MESSAGE_CHARS",
    "MAX_EVENT_TYPE_CHARS",
    "MAX_WORD_CHARS",
    "RELATIONSHIP_TYPES",
    "STATES",
    "STATE_DIR_VARIABLE",
    "STATE_SYNONYMS",
    "BaseProvider",
    "Param",
    "ProviderCredential",
    "Relationship",
    "ResourceData",
    "ResourceValidationError",
    "action",
    "nearest_state",
    "settle_state",
    "unknown_word_note",
    "validate_event",
    "validate_record",
]
