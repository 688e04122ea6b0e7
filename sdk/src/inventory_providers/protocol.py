"""The wire protocol's constants, shared by both of its sides.

The plugin side is :mod:`inventory_providers.serve`; the host side is the service's
``estate.runtime.protocol``, which imports these names rather than repeating them.
``docs/protocol.md`` describes the protocol.
"""

from __future__ import annotations

__all__ = [
    "BATCH_METHOD",
    "CANCEL_METHOD",
    "DEFAULT_BATCH_SIZE",
    "PROTOCOL_VERSIONS",
    "REQUEST_CANCELLED",
]

PROTOCOL_VERSIONS = (1,)
"""The versions this SDK speaks; the handshake settles on the highest both sides know."""

DEFAULT_BATCH_SIZE = 1000
"""Resources per ``collect.batch`` notification when the host names no batch size."""

BATCH_METHOD = "collect.batch"
"""The notification that carries a batch of collected resources to the host."""

CANCEL_METHOD = "$/cancel"
"""The notification by which the host cancels a request in flight (LSP's convention)."""

REQUEST_CANCELLED = -32800
"""The error code of a canceled request (the Language Server Protocol's)."""
