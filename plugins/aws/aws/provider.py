"""Amazon Web Services: EC2, EBS, VPC, ELBv2, RDS, Lambda, EKS, Auto Scaling and S3.

The connection is seed 000's AWS payload: ``username`` is the access key id,
``password`` the secret access key, ``region`` the home region; the optional
parameters are in ``manifest.yml`` and docs/providers/aws:aws.md. Regions are read in
parallel, each API through boto3's paginators. One region or one API failing makes
the run ``partial`` (``report_incomplete``) and the rest is still stored; credentials
refused or an endpoint out of reach fail the run at ``connect`` within the bounded
``timeout``. Throttling is retried with backoff by botocore (``max_attempts``,
``retry_mode``).

Lifecycle actions (the core and snapshot profiles, on EC2 instances) are in
operations.py and snapshot_actions.py, mixed into the provider class.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from urllib3.exceptions import InsecureRequestWarning

from inventory_providers.base import BaseProvider, ProviderCredential, ResourceData
from inventory_providers.errors import ProviderError, Unauthenticated

from . import services
from .collectors import REGIONAL
from .common import Scope
from .connection import Connection, Identity
from .failures import DENIED_CODES, code_of, describe, translate
from .options import Options
from .parallel import merged
from .snapshot_actions import SnapshotActions

MAX_WORKERS = 8
"""Regions read at once: threads count against the plugin's process limit."""


@dataclass(frozen=True, slots=True)
class _Part:
    """The end of one part; ``error`` is set when it failed."""

    label: str
    error: BaseException | None = None


class AwsProvider(SnapshotActions, BaseProvider):
    """Collects an AWS account, region by region, with boto3; acts on its EC2 instances."""

    vendor = "aws"
    provider_type = "aws"
    display_name = "Amazon Web Services"
    supported_resource_types = [
        "virtual_machine",
        "vpc",
        "subnet",
        "security_group",
        "block_storage",
        "object_storage",
        "relational_db",
        "load_balancer",
        "serverless_function",
        "container_orchestration_platform",
        "auto_scaling_group",
    ]

    def __init__(self, provider_model: Any, credential: ProviderCredential) -> None:
        super().__init__(provider_model, credential)
        self.options: Options | None = None
        self.connection: Connection | None = None
        self.identity: Identity | None = None

    def connect(self) -> None:
        """Check the parameters, assume the role if one is set, and ask STS who we are."""
        self.options = Options.from_credential(self.credential)
        if self.options.verify is False:
            # The operator's choice, said once here rather than by urllib3 at every call.
            warnings.filterwarnings("ignore", category=InsecureRequestWarning)
            self.logger.warning("TLS certificates are not checked (verify_ssl: false)")
        try:
            self.connection = Connection(self.options)
            self.identity = self.connection.identity()
        except ClientError as exc:
            if code_of(exc) in DENIED_CODES and self.options.role_arn:
                raise Unauthenticated(
                    f"{exc}; the credentials may not assume {self.options.role_arn}: check "
                    "the role's trust policy, external_id, and sts:AssumeRole on the caller"
                ) from None
            raise self._error(exc) from None
        except BotoCoreError as exc:
            raise self._error(exc) from None
        self.logger.info(
            "connected to AWS account %s as %s (home region %s)",
            self.identity.account,
            self.identity.arn,
            self.options.region,
        )

    def disconnect(self) -> None:
        self.connection = None

    def validate_connection(self) -> tuple[bool, str]:
        try:
            self.connect()
        except ProviderError as exc:
            return False, f"{exc.kind}: {exc}"
        assert self.identity is not None and self.options is not None
        return True, (
            f"connected to AWS account {self.identity.account} as {self.identity.arn} "
            f"(home region {self.options.region})"
        )

    def collect(self) -> Iterator[ResourceData]:
        options, connection, identity = self._connected()
        started = time.monotonic()
        regions = self._regions(connection)
        jobs = [partial(self._region, region) for region in regions]
        if "s3" in options.services and self._wanted("object_storage"):
            scanned = None if options.regions is None else frozenset(regions)
            jobs.append(partial(self._buckets, scanned))
        found = read = 0
        failed: list[_Part] = []
        for item in merged(jobs, workers=min(MAX_WORKERS, len(jobs))):
            if isinstance(item, _Part):
                if item.error is None:
                    read += 1
                    continue
                failed.append(item)
                self.report_incomplete(item.label, self._describe(item.error))
                continue
            found += 1
            yield item
        if failed and not read:  # nothing could be read: a failed run, not a partial one
            assert failed[0].error is not None
            raise self._error(failed[0].error)
        self.logger.info(
            "read %d resources of account %s from %d region(s) in %.1f s (%d part(s) failed)",
            found,
            identity.account,
            len(regions),
            time.monotonic() - started,
            len(failed),
        )

    def _wanted(self, slug: str) -> bool:
        """Whether this collection reads ``slug`` (a targeted one reads only its types)."""
        return self.target_resource_types is None or slug in self.target_resource_types

    def _connected(self) -> tuple[Options, Connection, Identity]:
        if self.options is None or self.connection is None or self.identity is None:
            raise ProviderError("collect() called before connect()")
        return self.options, self.connection, self.identity

    def _regions(self, connection: Connection) -> list[str]:
        """The regions to read: those configured, or every region enabled for the account."""
        options = connection.options
        if options.regions is not None:
            return list(options.regions)
        try:
            answer = connection.client("ec2").describe_regions(AllRegions=False)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(exc) from None
        return sorted(
            r["RegionName"]
            for r in answer.get("Regions", [])
            if r.get("OptInStatus") != "not-opted-in"
        )

    def _scope(self, region: str) -> Scope:
        options, _, identity = self._connected()
        return Scope(region, identity.account, identity.partition, options.page_size)

    def _region(self, region: str) -> Iterator[ResourceData | _Part]:
        options, connection, _ = self._connected()
        scope = self._scope(region)
        for collector in REGIONAL:
            if collector.option not in options.services:
                continue
            if not collector.is_wanted(self.target_resource_types):
                continue
            label = f"{collector.label} in {region}"
            if not connection.available(collector.api, region):
                self.logger.info("%s: %s is not offered there; skipped", label, collector.api)
                continue
            try:
                yield from collector.read(connection.client(collector.api, region), scope)
            except Exception as exc:  # one part failing must not cost the others
                yield _Part(label, exc)
                continue
            yield _Part(label)

    def _buckets(self, regions: frozenset[str] | None) -> Iterator[ResourceData | _Part]:
        options, connection, _ = self._connected()
        try:
            yield from services.buckets(
                connection.client("s3"), self._scope(options.region), regions
            )
        except Exception as exc:  # as in _region: the other parts go on
            yield _Part("S3 buckets", exc)
            return
        yield _Part("S3 buckets")

    def _error(self, exc: BaseException) -> ProviderError:
        options = self.options
        timeout = options.timeout if options else 0
        attempts = options.max_attempts if options else 0
        return translate(exc, timeout=timeout, max_attempts=attempts)

    def _describe(self, exc: BaseException) -> str:
        options = self.options
        timeout = options.timeout if options else 0
        attempts = options.max_attempts if options else 0
        return describe(exc, timeout=timeout, max_attempts=attempts)
