"""The plugin's connection parameters, read once from ``connection_config`` and checked.

Every problem is an ``InvalidConfig`` naming the parameter, so an operator fixes the
provider without reading code. What boto3 reads from the service's environment
(``AWS_ENDPOINT_URL``, ``HTTPS_PROXY``, ``AWS_CA_BUNDLE``, the default credential chain)
is left to boto3: a parameter that is not set never overrides it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from inventory_providers.base import ProviderCredential
from inventory_providers.errors import InvalidConfig

SERVICES = ("autoscaling", "ec2", "ebs", "vpc", "elbv2", "rds", "lambda", "eks", "s3")
"""What ``services`` may name; all of them by default."""

RETRY_MODES = ("standard", "adaptive", "legacy")
DEFAULT_REGION = "us-east-1"
DEFAULT_TIMEOUT = 15
DEFAULT_MAX_ATTEMPTS = 5
MAX_PAGE_SIZE = 1000
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_AWS_HOSTS = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


@dataclass(frozen=True, slots=True)
class Options:
    """What the plugin was configured with; ``regions`` is None for every enabled region."""

    access_key: str | None
    secret_key: str | None
    session_token: str | None
    region: str
    regions: tuple[str, ...] | None
    endpoint_url: str | None
    verify: bool | None
    timeout: int
    max_attempts: int
    retry_mode: str
    role_arn: str | None
    external_id: str | None
    role_session_name: str
    services: frozenset[str]
    page_size: int

    @classmethod
    def from_credential(cls, credential: ProviderCredential) -> Options:
        """Read the credential the service built from ``endpoint`` and ``connection_config``."""
        extra = credential.extra
        access_key = _text(credential.username, "username")
        secret_key = _text(credential.password, "password")
        if bool(access_key) != bool(secret_key):
            raise InvalidConfig(
                "connection_config: give both username (the access key id) and password "
                "(the secret access key), or neither to use the service's AWS credentials"
            )
        region = _region(extra.get("region") or DEFAULT_REGION, "region")
        return cls(
            access_key=access_key,
            secret_key=secret_key,
            session_token=_text(extra.get("session_token"), "session_token"),
            region=region,
            regions=_regions(extra.get("regions"), region),
            endpoint_url=_endpoint_url(credential.hostname, extra.get("endpoint_url")),
            verify=_verify(extra.get("verify_ssl")),
            timeout=_integer(extra, "timeout", DEFAULT_TIMEOUT, 1, 300),
            max_attempts=_integer(extra, "max_attempts", DEFAULT_MAX_ATTEMPTS, 1, 20),
            retry_mode=_choice(extra, "retry_mode", "standard", RETRY_MODES),
            role_arn=_role_arn(extra.get("role_arn")),
            external_id=_text(extra.get("external_id"), "external_id"),
            role_session_name=_text(extra.get("role_session_name"), "role_session_name")
            or "estate-inventory",
            services=_services(extra.get("services")),
            page_size=_integer(extra, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        )


def _text(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidConfig(f"connection_config.{name}: must be a string")
    return value.strip() or None


def _region(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _REGION.match(value.strip()):
        raise InvalidConfig(
            f"connection_config.{name}: {value!r} is not an AWS region name like 'us-east-1'"
        )
    return value.strip()


def _regions(value: Any, home: str) -> tuple[str, ...] | None:
    """``None`` (every enabled region) for ``"all"`` or ``["all"]``; the home region if unset."""
    if value is None or value == "" or value == []:
        return (home,)
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise InvalidConfig("connection_config.regions: must be a list of region names or 'all'")
    if [str(item).strip().lower() for item in value] == ["all"]:
        return None
    found = [_region(item, f"regions[{index}]") for index, item in enumerate(value)]
    return tuple(dict.fromkeys(found))


def _endpoint_url(endpoint: str | None, explicit: Any) -> str | None:
    """``endpoint_url`` if set; else the provider's ``endpoint`` when it is not AWS's own.

    Seed 000 writes AWS's EC2 address as the endpoint; AWS has one address per service
    and region, so an ``*.amazonaws.com`` endpoint is informational and boto3 finds
    each one (or ``AWS_ENDPOINT_URL`` from the environment). Any other URL is an
    AWS-compatible endpoint (a private gateway, LocalStack, moto) used for every service.
    """
    if explicit not in (None, ""):
        return _url(explicit, "endpoint_url")
    if not endpoint or not endpoint.strip():
        return None
    host = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}").hostname or ""
    if host.endswith(_AWS_HOSTS) or host in {h.lstrip(".") for h in _AWS_HOSTS}:
        return None
    return _url(endpoint, "endpoint")


def _url(value: Any, name: str) -> str:
    where = "endpoint" if name == "endpoint" else f"connection_config.{name}"
    parts = urlsplit(value.strip()) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidConfig(
            f"{where}: {value!r} is not an http(s) URL like 'https://aws-gateway.example:4566' "
            "(leave it empty, or an *.amazonaws.com address, to use AWS's own endpoints)"
        )
    return str(value).strip().rstrip("/")


def _verify(value: Any) -> bool | None:
    """False turns TLS verification off; otherwise boto3 decides (``AWS_CA_BUNDLE``)."""
    if value is None or value == "":
        return None
    if not isinstance(value, bool):
        raise InvalidConfig("connection_config.verify_ssl: must be true or false")
    return None if value else False


def _integer(extra: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = extra.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidConfig(f"connection_config.{name}: must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidConfig(f"connection_config.{name}: must be {low} to {high}, got {value}")
    return value


def _choice(extra: Mapping[str, Any], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = extra.get(name) or default
    if value not in choices:
        raise InvalidConfig(
            f"connection_config.{name}: must be one of {', '.join(choices)}, got {value!r}"
        )
    return str(value)


def _role_arn(value: Any) -> str | None:
    text = _text(value, "role_arn")
    if text is not None and not re.match(r"^arn:aws[\w-]*:iam::\d{12}:role/.+", text):
        raise InvalidConfig(
            f"connection_config.role_arn: {text!r} is not a role ARN like "
            "'arn:aws:iam::123456789012:role/EstateReadOnly'"
        )
    return text


def _services(value: Any) -> frozenset[str]:
    if value is None or value == [] or value == "":
        return frozenset(SERVICES)
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise InvalidConfig("connection_config.services: must be a list of service names")
    unknown = [item for item in value if item not in SERVICES]
    if unknown:
        raise InvalidConfig(
            f"connection_config.services: unknown service {unknown[0]!r}; "
            f"known: {', '.join(SERVICES)}"
        )
    return frozenset(value)
