"""Errors the plugin registry raises; each knows the HTTP status the API answers with.

::

    RegistryError                 (500 unless a subclass says otherwise)
    ├── InvalidPackage            400  bad archive or manifest; .problems lists each fault
    │   ├── InstallFailed         400  its requirements did not install; .log is the installer's
    │   ├── InvalidIndex          400  a repository index (index.json) that does not read; names the field
    │   └── InvalidBundle         400  an air-gapped bundle that is changed, damaged or asks for what is not there
    ├── PackageTooLarge           413  upload or unpacked content over the size limit
    ├── InvalidPolicy             400  a version policy that cannot be read or that nothing satisfies
    ├── UntrustedPackage          400  its signature is bad, by an unknown or revoked key, or
    │                                  missing where the trust policy refuses unsigned plugins
    ├── InvalidSigningKey         400  a public or private key that cannot be used
    ├── SigningKeyExists          409  that key is in the keyring already
    ├── SigningKeyNotFound        404  no key with that id (that the caller may see)
    ├── SigningKeyRevoked         409  that key is revoked already
    ├── PluginExists              409  that version is installed with other bytes (versions are immutable)
    ├── PluginNotFound            404  no plugin (or version) with that key
    ├── PluginInUse               409  providers still use the plugin (or version) that is to be removed
    ├── NothingToRollBack         409  a provider has no earlier version to return to
    ├── NotOffered                400  no (enabled) repository offers what an install asks for; or no such source
    ├── RepositoryExists          409  a repository with that name is registered already
    ├── RepositoryDisabled        409  a disabled repository is not synced
    ├── SyncRunning               409  a sync of that repository is running already
    ├── AmbiguousSource           409  equally preferred repositories offer the key: name a source
    ├── RemoteFailed              502  a repository could not be reached, refused, or answered badly
    └── Offline                   503  ESTATE_OFFLINE=1: no repository is contacted
"""

from __future__ import annotations

from typing import ClassVar


class RegistryError(Exception):
    """Base of every registry error; ``status_code`` is the HTTP status to answer with."""

    status_code: ClassVar[int] = 500


class InvalidPackage(RegistryError):
    """The archive or its ``manifest.yml`` is wrong; each problem says what and where.

    A problem reads like ``manifest.yml: supported_resource_types[2]: unknown type 'vm'``.
    """

    status_code: ClassVar[int] = 400

    def __init__(self, problems: str | list[str]) -> None:
        self.problems: list[str] = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))

    def __str__(self) -> str:
        return "; ".join(self.problems)


class InstallFailed(InvalidPackage):
    """The version's environment could not be prepared; ``log`` is the installer's output."""

    def __init__(self, problem: str, log: str = "") -> None:
        super().__init__(problem)
        self.log = log


class InvalidIndex(InvalidPackage):
    """A repository index that does not read: ``index.json: plugins[2].versions[0].sha256: …``."""


class InvalidBundle(InvalidPackage):
    """An air-gapped bundle refused before anything is installed, or one that cannot be
    made: ``archives/hot-load-1.1.0.tar.gz: its sha256 … is not the one SHA256SUMS lists``."""


class UntrustedPackage(RegistryError):
    """The package's signature is not one the trust policy accepts (docs/repository.md)."""

    status_code: ClassVar[int] = 400


class InvalidSigningKey(RegistryError):
    """A key that cannot be used: not Ed25519, bad base64, the wrong length."""

    status_code: ClassVar[int] = 400


class SigningKeyExists(RegistryError):
    status_code: ClassVar[int] = 409


class SigningKeyNotFound(RegistryError):
    status_code: ClassVar[int] = 404


class SigningKeyRevoked(RegistryError):
    status_code: ClassVar[int] = 409


class PackageTooLarge(RegistryError):
    """The upload, or what it unpacks to, exceeds the size limit."""

    status_code: ClassVar[int] = 413


class InvalidPolicy(RegistryError):
    """A version policy that cannot be read, or that no installed version satisfies."""

    status_code: ClassVar[int] = 400


class PluginExists(RegistryError):
    """The plugin version is installed with other bytes: a version is never replaced."""

    status_code: ClassVar[int] = 409


class PluginNotFound(RegistryError):
    """No installed plugin (or version of it) matches the key asked for."""

    status_code: ClassVar[int] = 404


class PluginInUse(RegistryError):
    """The plugin cannot be removed because providers still use it."""

    status_code: ClassVar[int] = 409


class NothingToRollBack(RegistryError):
    """A provider has no earlier version to return to (or it was deleted)."""

    status_code: ClassVar[int] = 409


class NotOffered(RegistryError):
    """An install names a source that is not registered, or nothing offers what it asks."""

    status_code: ClassVar[int] = 400


class RepositoryExists(RegistryError):
    status_code: ClassVar[int] = 409


class RepositoryDisabled(RegistryError):
    status_code: ClassVar[int] = 409


class SyncRunning(RegistryError):
    """A sync of the repository is running already (in this service process)."""

    status_code: ClassVar[int] = 409


class AmbiguousSource(RegistryError):
    """Repositories of the same priority offer the key and no source was named."""

    status_code: ClassVar[int] = 409


class RemoteFailed(RegistryError):
    """A remote repository was unreachable, refused, or sent a bad index or archive."""

    status_code: ClassVar[int] = 502


class Offline(RegistryError):
    """``ESTATE_OFFLINE=1``: the service contacts no repository."""

    status_code: ClassVar[int] = 503
