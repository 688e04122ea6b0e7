"""Estate: one inventory and control plane for a whole infrastructure estate."""

__version__ = "0.1.0"
