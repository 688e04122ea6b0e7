"""The aws:aws plugin's lifecycle actions on EC2 instances: the core profile and ``create``.

Each action opens its own session (``connect``: STS says who we are), finds the
instance in the regions the provider reads (the region it was last found in first),
acts through boto3 and waits until EC2 reports the state it asked for, so the
targeted refresh that follows shows it. States are checked before acting, not left
to EC2: ``power_on`` of a running instance changes nothing, and an instance that is
terminated (or shutting down) is refused with the reason. Errors: an unknown
instance is ``NotFound``; a state EC2 refuses, or a value it refuses, is
``InvalidParameter``; the rest as the collection translates them (``failures.py``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from inventory_providers.base import Param, action
from inventory_providers.errors import InvalidParameter, NotFound, ProviderError, ProviderTimeout

from . import compute, snapshots
from .connection import Connection
from .failures import AUTH_CODES, code_of

VM = ["virtual_machine"]
WAIT_SECONDS = 600
"""How long a start or stop may take before the action fails (EC2 takes 10-60 s)."""
POLL_SECONDS = 2.0
GONE = frozenset({"shutting-down", "terminated"})
NOT_FOUND_CODES = frozenset(
    {
        "InvalidInstanceID.NotFound",
        "InvalidInstanceID.Malformed",
        "InvalidSnapshot.NotFound",
        "InvalidVolume.NotFound",
    }
)
REFUSED_CODES = frozenset(
    {"IncorrectInstanceState", "IncorrectState", "InvalidState", "InvalidParameterValue"}
)
DEFAULT_IMAGE = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
"""The SSM public parameter naming the latest Amazon Linux 2023 AMI of a region."""
DEFAULT_INSTANCE_TYPE = "t3.micro"
_INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")


class Target:
    """One instance found: its region's EC2 client and EC2's description of it."""

    def __init__(
        self, client: Any, region: str, instance: dict[str, Any], reservation: Any
    ) -> None:
        self.client = client
        self.region = region
        self.instance = instance
        self.reservation = reservation

    @property
    def id(self) -> str:
        return str(self.instance["InstanceId"])

    @property
    def state(self) -> str:
        return str(self.instance.get("State", {}).get("Name", ""))

    def refresh(self) -> str:
        """Ask EC2 again; the state now."""
        answer = self.client.describe_instances(InstanceIds=[self.id])
        for reservation in answer.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                self.instance, self.reservation = instance, reservation
        return self.state


class InstanceActions:
    """Mixed into AwsProvider: uses its ``connect``, ``connection``, ``_regions``, ``_error``."""

    connection: Connection | None
    logger: Any
    canceled: bool

    def connect(self) -> None:
        raise NotImplementedError

    def _regions(self, connection: Connection) -> list[str]:
        raise NotImplementedError

    def _error(self, exc: BaseException) -> ProviderError:
        raise NotImplementedError

    def _scope(self, region: str) -> Any:
        raise NotImplementedError

    # -- what every action shares ------------------------------------------------------

    @contextmanager
    def _opened(self, name: str) -> Iterator[Connection]:
        """The session of the actions, boto3's errors as the SDK's.

        The first action connects (STS says who we are, as for a collection); later
        ones in the same long-lived process reuse its clients, until one fails.
        """
        connection: Connection | None = self.__dict__.get("_action_connection")
        if connection is None:
            self.connect()
            connection = self.__dict__["_action_connection"] = self.connection
            assert connection is not None
        try:
            yield connection
        except ClientError as exc:
            code = code_of(exc)
            message = exc.response.get("Error", {}).get("Message") or code
            if code in NOT_FOUND_CODES:
                raise NotFound(f"{name}: {message}") from None
            if code in REFUSED_CODES:
                raise InvalidParameter(f"{name}: EC2 refused it: {message}") from None
            if code in AUTH_CODES:  # the next action connects again (a rotated key)
                self.__dict__["_action_connection"] = None
            raise self._error(exc) from None
        except BotoCoreError as exc:
            self.__dict__["_action_connection"] = None
            raise self._error(exc) from None

    def _find(self, connection: Connection, ems_ref: str) -> Target:
        """The instance ``ems_ref`` in one of the provider's regions, or ``NotFound``."""
        if not _INSTANCE_ID.match(ems_ref):
            raise NotFound(f"no EC2 instance {ems_ref!r}: not an instance id (i-…)")
        where: dict[str, str] = self.__dict__.setdefault("_instance_regions", {})
        regions = self._regions(connection)
        if where.get(ems_ref) in regions:
            regions.insert(0, regions.pop(regions.index(where[ems_ref])))
        for region in regions:
            client = connection.client("ec2", region)
            try:
                answer = client.describe_instances(InstanceIds=[ems_ref])
            except ClientError as exc:
                if code_of(exc) in NOT_FOUND_CODES:
                    continue
                raise
            for reservation in answer.get("Reservations", []):
                for instance in reservation.get("Instances", []):
                    where[ems_ref] = region
                    return Target(client, region, instance, reservation)
        raise NotFound(f"no EC2 instance {ems_ref} in {', '.join(regions)}")

    def _until(
        self, name: str, what: str, read: Callable[[], str], wanted: set[str], seconds: float
    ) -> str:
        """Poll ``read`` until it answers one of ``wanted``; the answer."""
        deadline = time.monotonic() + seconds
        state = read()
        while state not in wanted:
            if self.canceled:
                raise ProviderError(f"{name}: canceled while {what} was {state}")
            if time.monotonic() >= deadline:
                raise ProviderTimeout(f"{name}: {what} is still {state} after {seconds:g} s")
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            state = read()
        return state

    def _wait(
        self, name: str, target: Target, wanted: set[str], seconds: float = WAIT_SECONDS
    ) -> str:
        return self._until(name, target.id, target.refresh, wanted, seconds)

    @staticmethod
    def _refuse_gone(name: str, target: Target) -> None:
        if target.state in GONE:
            raise InvalidParameter(f"{name}: {target.id} is {target.state}")

    def _stop(self, name: str, target: Target, *, force: bool, seconds: float) -> dict[str, Any]:
        """Stop ``target`` (forced or not) and wait until it is stopped."""
        self._refuse_gone(name, target)
        before = target.state
        if before == "stopped":
            return {"changed": False, "state": "stopped"}
        if before == "pending":  # EC2 refuses to stop an instance still starting
            self._wait(name, target, {"running"})
        target.client.stop_instances(InstanceIds=[target.id], Force=force)
        state = self._wait(name, target, {"stopped"}, seconds)
        return {"changed": True, "before": before, "state": state}

    def _start(self, name: str, target: Target) -> dict[str, Any]:
        """Start ``target`` and wait until it runs."""
        self._refuse_gone(name, target)
        before = target.state
        if before in ("running", "pending"):
            return {"changed": False, "state": self._wait(name, target, {"running"})}
        if before == "stopping":  # EC2 refuses to start an instance still stopping
            self._wait(name, target, {"stopped"})
        target.client.start_instances(InstanceIds=[target.id])
        return {"changed": True, "before": before, "state": self._wait(name, target, {"running"})}

    # -- available -----------------------------------------------------------------------

    def _exists(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        state = (resource or {}).get("state")
        return state != "terminated", "the instance is terminated" if state == "terminated" else ""

    def _running(self, resource: dict[str, Any] | None) -> tuple[bool, str]:
        state = (resource or {}).get("state")
        return state == "running", "" if state == "running" else f"it is {state}, not running"

    # -- core ------------------------------------------------------------------------------

    @action(
        "power_on", applies_to=VM, profile="core", idempotent=True, available="_exists",
        long_running=True, cancelable=True,
    )  # fmt: skip
    def power_on(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Start the instance (StartInstances) and wait until it runs."""
        with self._opened("power_on") as connection:
            return self._start("power_on", self._find(connection, ems_ref))

    @action(
        "power_off", applies_to=VM, profile="core", idempotent=True, available="_exists",
        long_running=True, cancelable=True,
    )  # fmt: skip
    def power_off(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Force the instance off (StopInstances with Force) and wait until it is stopped."""
        with self._opened("power_off") as connection:
            target = self._find(connection, ems_ref)
            return self._stop("power_off", target, force=True, seconds=WAIT_SECONDS)

    @action(
        "shutdown",
        applies_to=VM,
        profile="core",
        idempotent=True,
        available="_exists",
        long_running=True,
        cancelable=True,
        params=[Param("timeout", "integer", default=300, description="seconds to wait")],
    )
    def shutdown(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Stop the instance (StopInstances: the guest shuts down) and wait up to timeout."""
        if params["timeout"] < 0:
            raise InvalidParameter("shutdown: params.timeout: must be >= 0")
        with self._opened("shutdown") as connection:
            target = self._find(connection, ems_ref)
            return self._stop("shutdown", target, force=False, seconds=params["timeout"])

    @action("reboot", applies_to=VM, profile="core", available="_running")
    def reboot(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Reboot a running instance (RebootInstances)."""
        with self._opened("reboot") as connection:
            target = self._find(connection, ems_ref)
            if target.state != "running":
                raise InvalidParameter(f"reboot: {ems_ref} is {target.state}, not running")
            target.client.reboot_instances(InstanceIds=[ems_ref])
            return {"rebooted": ems_ref, "state": "running"}

    @action("describe", applies_to=VM, profile="core", idempotent=True)
    def describe(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """The instance as EC2 describes it now, mapped as the collection maps it."""
        with self._opened("describe") as connection:
            target = self._find(connection, ems_ref)
            taken = [group.name for group in snapshots.groups(target.client, ems_ref)]
            record = compute.instance_record(
                target.client,
                self._scope(target.region),
                target.instance,
                target.reservation,
                taken,
            )
            return record.to_dict()

    @action("delete", applies_to=VM, profile="core")
    def delete(self, ems_ref: str, params: dict[str, Any]) -> dict[str, Any]:
        """Terminate the instance (TerminateInstances); its snapshots are kept."""
        with self._opened("delete") as connection:
            target = self._find(connection, ems_ref)
            before = target.state
            if before in GONE:
                return {"changed": False, "state": before}
            target.client.terminate_instances(InstanceIds=[ems_ref])
            return {
                "changed": True,
                "deleted": ems_ref,
                "before": before,
                "state": target.refresh(),
            }

    @action(
        "create",
        applies_to="provider",
        profile="core",
        params=[
            Param("name", required=True, description="the Name tag"),
            Param("image", description="AMI id; default: the latest Amazon Linux 2023"),
            Param("instance_type", default=DEFAULT_INSTANCE_TYPE),
            Param("subnet", description="subnet id; default: the default VPC's"),
            Param("region", description="default: the home region"),
        ],
    )
    def create(self, ems_ref: None, params: dict[str, Any]) -> dict[str, Any]:
        """Launch one instance (RunInstances) from an AMI, named by its Name tag."""
        name = params["name"].strip()
        if not name or len(name) > 256:
            raise InvalidParameter("create: params.name: must be 1 to 256 characters")
        with self._opened("create") as connection:
            region = params.get("region") or connection.options.region
            regions = self._regions(connection)
            if region not in regions:
                raise InvalidParameter(
                    f"create: params.region: {region!r} is not read by this provider "
                    f"({', '.join(regions)})"
                )
            client = connection.client("ec2", region)
            image = params.get("image") or self._latest_image(connection, region)
            self._check_launch(client, image, params["instance_type"])
            launch: dict[str, Any] = {
                "ImageId": image,
                "InstanceType": params["instance_type"],
                "MinCount": 1,
                "MaxCount": 1,
                "TagSpecifications": [
                    {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}
                ],
            }
            if params.get("subnet"):
                launch["SubnetId"] = params["subnet"]
            try:
                (instance,) = client.run_instances(**launch)["Instances"]
            except ClientError as exc:
                if code_of(exc).startswith("InvalidSubnet"):
                    raise InvalidParameter(f"create: params.subnet: {exc}") from None
                raise
            self.__dict__.setdefault("_instance_regions", {})[instance["InstanceId"]] = region
            return {
                "ems_ref": instance["InstanceId"],
                "name": name,
                "region": region,
                "image": image,
                "instance_type": params["instance_type"],
                "state": instance.get("State", {}).get("Name"),
            }

    def _latest_image(self, connection: Connection, region: str) -> str:
        try:
            answer = connection.client("ssm", region).get_parameter(Name=DEFAULT_IMAGE)
        except ClientError as exc:
            raise InvalidParameter(
                f"create: params.image: not given, and the latest Amazon Linux AMI is "
                f"unknown ({exc}); give an AMI id"
            ) from None
        return str(answer["Parameter"]["Value"])

    @staticmethod
    def _check_launch(client: Any, image: str, instance_type: str) -> None:
        """Refuse an AMI or an instance type EC2 does not know, naming the parameter."""
        try:
            found = client.describe_images(ImageIds=[image]).get("Images", [])
        except ClientError as exc:
            if not code_of(exc).startswith("InvalidAMIID"):
                raise
            found = []
        if not found:
            raise InvalidParameter(f"create: params.image: no AMI {image!r} in this region")
        try:
            client.describe_instance_types(InstanceTypes=[instance_type])
        except ClientError as exc:
            if code_of(exc) != "InvalidInstanceType":
                raise
            raise InvalidParameter(
                f"create: params.instance_type: EC2 has no instance type {instance_type!r}"
            ) from None
