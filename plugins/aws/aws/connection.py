"""One boto3 session per collection, the clients made from it, and who it is.

boto3 itself reads what the service's environment holds (``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>``, ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``,
``AWS_CA_BUNDLE``, the default credential chain): nothing here overrides a setting
the provider left unset. Sessions are not thread-safe, so clients are made under a
lock and cached per (service, region); clients themselves are safe to share.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials

from .options import Options

USER_AGENT = "estate-inventory"
ROLE_SECONDS = 3600
CONNECT_ATTEMPTS = 2
"""Attempts of the first call: an unreachable endpoint fails the run within about
``2 x timeout`` seconds, one retry allowing for a blip."""

_loader: Any = None
_loader_lock = threading.Lock()


def _core_session() -> botocore.session.Session:
    """A botocore session sharing the process's service models with earlier ones.

    Reading the models is most of what making a client costs (EC2's alone is
    megabytes of JSON); a long-lived plugin process tests connections again and again.
    """
    global _loader
    core = botocore.session.get_session()
    with _loader_lock:
        if _loader is None:
            _loader = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _loader)
    return core


@dataclass(frozen=True, slots=True)
class Identity:
    """The account and principal the credentials stand for (STS GetCallerIdentity)."""

    account: str
    arn: str

    @property
    def partition(self) -> str:
        return self.arn.split(":")[1] if self.arn.count(":") >= 2 else "aws"


class Connection:
    """A boto3 session with the provider's credentials (or the assumed role's)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.config = Config(
            connect_timeout=options.timeout,
            read_timeout=options.timeout,
            retries={"total_max_attempts": options.max_attempts, "mode": options.retry_mode},
            user_agent_extra=USER_AGENT,
            max_pool_connections=4,
        )
        # STS is asked first (who we are, the role): fewer attempts, see CONNECT_ATTEMPTS.
        self.probe = self.config.merge(
            Config(retries={"total_max_attempts": min(CONNECT_ATTEMPTS, options.max_attempts)})
        )
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}
        self.session = boto3.Session(
            botocore_session=_core_session(),
            aws_access_key_id=options.access_key,
            aws_secret_access_key=options.secret_key,
            aws_session_token=options.session_token,
            region_name=options.region,
        )
        if options.role_arn:
            self.session = self._assume_role(self.session)

    def client(self, service: str, region: str | None = None) -> Any:
        """The client of ``service`` in ``region`` (the home region if None), made once."""
        key = (service, region or self.options.region)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._make(self.session, service, key[1], self.config)
            return self._clients[key]

    def identity(self) -> Identity:
        """Who the credentials are (STS GetCallerIdentity, which needs no permission)."""
        with self._lock:
            sts = self._make(self.session, "sts", self.options.region, self.probe)
        answer = sts.get_caller_identity()
        return Identity(account=str(answer["Account"]), arn=str(answer["Arn"]))

    def available(self, service: str, region: str) -> bool:
        """False only when botocore knows ``region`` and knows ``service`` is not offered there."""
        with self._lock:
            partition = self.session.get_available_regions("ec2")
            offered = self.session.get_available_regions(service)
        return region not in partition or region in offered or self.options.endpoint_url is not None

    def _make(self, session: boto3.Session, service: str, region: str, config: Config) -> Any:
        return session.client(
            service,
            region_name=region,
            endpoint_url=self.options.endpoint_url,
            verify=self.options.verify,
            config=config,
        )

    def _assume_role(self, base: boto3.Session) -> boto3.Session:
        """A session whose credentials come from STS AssumeRole and renew before they expire."""
        options = self.options
        sts = self._make(base, "sts", options.region, self.probe)
        params: dict[str, Any] = {
            "RoleArn": options.role_arn,
            "RoleSessionName": options.role_session_name,
            "DurationSeconds": ROLE_SECONDS,
        }
        if options.external_id:
            params["ExternalId"] = options.external_id

        def fetch() -> dict[str, str]:
            answer = sts.assume_role(**params)["Credentials"]
            expiry = answer["Expiration"]
            return {
                "access_key": answer["AccessKeyId"],
                "secret_key": answer["SecretAccessKey"],
                "token": answer["SessionToken"],
                "expiry_time": expiry.isoformat() if isinstance(expiry, datetime) else expiry,
            }

        credentials = RefreshableCredentials.create_from_metadata(
            metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
        )
        core = _core_session()
        # botocore has no public setter for credentials that renew themselves; boto3's
        # own documentation of RefreshableCredentials sets this attribute.
        core._credentials = credentials
        return boto3.Session(botocore_session=core, region_name=options.region)
