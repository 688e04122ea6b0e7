"""botocore's exceptions as the SDK's errors, with a message telling the operator what to do.

    NoCredentialsError, PartialCredentialsError      -> InvalidConfig
    ClientError with an authentication code          -> Unauthenticated
    SSLError, ProxyConnectionError,
    ConnectTimeoutError, EndpointConnectionError,
    ConnectionClosedError                            -> Unreachable
    ReadTimeoutError                                 -> ProviderTimeout
    ClientError denied, throttled or other           -> ProviderError

AWS's own messages never hold the secret access key; the access key id may appear
(it is not a secret).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from inventory_providers.errors import (
    InvalidConfig,
    ProviderError,
    ProviderTimeout,
    Unauthenticated,
    Unreachable,
)

AUTH_CODES = frozenset(
    {
        "AuthFailure",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidToken",
        "RequestExpired",
    }
)
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden"}
)
THROTTLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
    }
)


def code_of(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError``, else empty."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: BaseException, *, timeout: int, max_attempts: int) -> ProviderError:
    """The SDK error for ``exc`` (a ``ProviderError`` is returned as it is)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return InvalidConfig(
            "no AWS credentials: set username (the access key id) and password (the secret "
            "access key) in connection_config, or give the service's environment AWS "
            f"credentials ({exc})"
        )
    if isinstance(exc, NoRegionError):
        return InvalidConfig(f"connection_config.region: {exc}")
    if isinstance(exc, ClientError):
        return _client_error(exc, max_attempts)
    if isinstance(exc, BotoCoreError):
        return _transport_error(exc, timeout)
    return ProviderError(f"{type(exc).__name__}: {exc}")


def describe(exc: BaseException, *, timeout: int, max_attempts: int) -> str:
    """One line for a run's message: what failed and what to do."""
    return str(translate(exc, timeout=timeout, max_attempts=max_attempts))


def _client_error(exc: ClientError, max_attempts: int) -> ProviderError:
    code = code_of(exc)
    operation = exc.operation_name
    if code in AUTH_CODES:
        return Unauthenticated(
            f"AWS refused the credentials ({exc}); check username (the access key id), "
            "password (the secret access key) and session_token, and that the key is active"
        )
    if code in DENIED_CODES:
        return ProviderError(
            f"{exc}; grant the permission for {operation} (see docs/providers/aws:aws.md), "
            "or leave that service out of the 'services' parameter"
        )
    if code in THROTTLE_CODES:
        return ProviderError(
            f"AWS throttled {operation} beyond {max_attempts} attempts ({exc}); raise "
            "max_attempts or set retry_mode to 'adaptive'"
        )
    return ProviderError(str(exc))


def _transport_error(exc: BotoCoreError, timeout: int) -> ProviderError:
    url = getattr(exc, "kwargs", {}).get("endpoint_url", "")
    where = f" {url}" if url else ""
    if isinstance(exc, SSLError):
        return Unreachable(
            f"TLS with{where} failed ({exc}); set AWS_CA_BUNDLE in the service's environment "
            "to the CA that signed its certificate, or verify_ssl: false"
        )
    if isinstance(exc, ProxyConnectionError):
        return Unreachable(f"cannot reach the proxy ({exc}); check HTTPS_PROXY / HTTP_PROXY")
    if isinstance(exc, ConnectTimeoutError):
        return Unreachable(
            f"no connection to{where} within {timeout} s; check the endpoint, the region "
            "and the network (or raise timeout)"
        )
    if isinstance(exc, ReadTimeoutError):
        return ProviderTimeout(f"{url or 'AWS'} did not answer within {timeout} s; raise timeout")
    if isinstance(exc, EndpointConnectionError | ConnectionClosedError | BotoConnectionError):
        return Unreachable(f"{exc}; check the endpoint, the region and the network")
    return ProviderError(f"{type(exc).__name__}: {exc}")
