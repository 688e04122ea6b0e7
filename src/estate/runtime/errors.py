"""Errors of running a plugin.

PluginRuntimeError            kind from the wire (see inventory_providers.errors.KINDS)
├── PluginStartError          the process could not start or did not complete the handshake
│   ├── PluginModified        a stored plugin's file changed since its file list was made
│   └── PluginUntrusted       its signature is invalid (a revoked or unknown key, a bad one)
├── PluginEnvironmentError    its environment could not be prepared (``log``: the installer's output)
├── PluginCallError           the plugin answered a call with an error
├── PluginProtocolError       garbage, an oversized line or an unexpected message on the socket
├── PluginTimeout             no answer in time; the process is killed
└── PluginExited              the process died while a call was in flight
"""

from __future__ import annotations


class PluginRuntimeError(Exception):
    """A plugin process failed; ``kind`` says how, the message says what to do."""

    kind = "internal"

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind


class PluginStartError(PluginRuntimeError):
    kind = "invalid_plugin"


class PluginModified(PluginStartError):
    """A stored plugin's files differ from its file list; ``path`` names the first one."""

    kind = "modified"

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class PluginUntrusted(PluginStartError):
    """The version's signature is invalid: the trust policy refuses to start it."""

    kind = "untrusted"


class PluginCallError(PluginRuntimeError):
    """The plugin answered a call with an error; ``traceback`` holds its own frames (or "")."""

    def __init__(self, message: str, kind: str | None = None, traceback: str = "") -> None:
        super().__init__(message, kind)
        self.traceback = traceback


class PluginProtocolError(PluginRuntimeError):
    kind = "protocol"


class PluginTimeout(PluginRuntimeError):
    kind = "timeout"


class PluginExited(PluginRuntimeError):
    kind = "crashed"


class PluginEnvironmentError(PluginRuntimeError):
    """The version's environment could not be prepared; ``log`` is the installer's output."""

    kind = "invalid_plugin"

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log
