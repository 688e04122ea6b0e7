"""inventory_providers: the SDK for Estate provider plugins (standard library only)."""

from .base import (
    RELATIONSHIP_TYPES,
    STATES,
    BaseProvider,
    ProviderCredential,
    Relationship,
    ResourceData,
    ResourceValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "RELATIONSHIP_TYPES",
    "STATES",
    "BaseProvider",
    "ProviderCredential",
    "Relationship",
    "ResourceData",
    "ResourceValidationError",
    "__version__",
]
