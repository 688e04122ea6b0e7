"""aws:aws against moto: resources/s of the whole service path, against raw boto3.

Prints one JSON line. moto (server mode, on loopback) holds ``--instances`` EC2
instances (default 1,200, in reservations of 100) and, for each, the root EBS volume
moto makes. Measured in the same run:

- ``baseline``: boto3 alone, in this process, paginating DescribeInstances with a
  client made beforehand: what reading the instances costs before any mapping;
- ``plugin``: the plugin in this process (SDK testing helpers), EC2 only: connect
  (STS), clients, pagination, instance types, mapping;
- ``service``: a collection run of the built-in plugin as the service runs it (a
  confined child process in its own boto3 environment, the wire, validation, ingest
  into SQLite), EC2 only: the same work as the two above plus the service's;
- ``full``: the same run with every service the plugin reads (instances, volumes,
  VPCs, subnets, security groups, load balancers, RDS, Lambda, EKS, Auto Scaling, S3).

The ratios are the plugin's and the service's time over the baseline's, each the best
of ``--repeat`` runs (a new provider each time, so every service run is a first
collection). moto's own serialisation of 1,200 instances dominates all three; on a
shared 2-vCPU machine compare ratios, not seconds.

    python bench/platforms/aws_aws.py --instances 1200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))  # the emulator launcher the tests use

from emulators.moto import MotoServer, moto_server  # noqa: E402
from estate.bootstrap import prepare  # noqa: E402
from estate.config import Settings  # noqa: E402
from estate.context import Context  # noqa: E402
from estate.db.models import CollectionRun, Provider  # noqa: E402
from estate.jobs.collect import run_collection  # noqa: E402
from estate.registry.manifest import parse_manifest  # noqa: E402
from estate.runtime.environments import (  # noqa: E402
    build_requirements_environment,
    managed_requirements,
)
from inventory_providers.loader import load_class  # noqa: E402
from inventory_providers.testing import make_provider  # noqa: E402

PLUGIN_DIR = REPO / "plugins" / "aws" / "aws"
AMI = "ami-12c6146b"
PER_RESERVATION = 100
SEED = {  # seed 000's AWS payload
    "username": "AKIAIOSFODNN7EXAMPLE",
    "password": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "region": "us-east-1",
}


def populate(moto: MotoServer, instances: int) -> None:
    ec2 = moto.client("ec2")
    made = 0
    while made < instances:
        count = min(PER_RESERVATION, instances - made)
        ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count)
        made += count


def baseline(moto: MotoServer) -> tuple[float, int]:
    """Seconds boto3 alone takes to page through every instance (1,000 a page)."""
    ec2 = moto.client("ec2")
    started = time.perf_counter()
    pages = ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 1000})
    count = sum(len(r["Instances"]) for page in pages for r in page["Reservations"])
    return time.perf_counter() - started, count


def in_process() -> tuple[float, int]:
    cls = load_class(PLUGIN_DIR, "provider.AwsProvider")
    started = time.perf_counter()
    provider = make_provider(
        cls,
        endpoint="https://ec2.us-east-1.amazonaws.com",
        connection_config={**SEED, "services": ["ec2"]},
    )
    with provider:
        count = sum(1 for _ in provider.collect())
    return time.perf_counter() - started, count


def environments(root: Path) -> Path:
    """The environments folder, with the plugin's boto3 environment built (kept between runs)."""
    settings = Settings(data_dir=root / "unused", environments_dir=root)
    manifest = parse_manifest((PLUGIN_DIR / "manifest.yml").read_bytes())
    requirements = managed_requirements(PLUGIN_DIR, manifest.model_dump(mode="json"))
    assert requirements is not None
    build_requirements_environment(settings, requirements)
    return root


def through_service(
    context: Context, name: str, config: dict[str, Any]
) -> tuple[float, CollectionRun]:
    """One collection run as the service's job runs it; its wall-clock seconds and row."""
    with context.sessions() as session, session.begin():
        provider = Provider(
            name=name,
            vendor="aws",
            provider_type="aws",
            endpoint="https://ec2.us-east-1.amazonaws.com",
            organization_id=1,
            connection_config=config,
        )
        session.add(provider)
        session.flush()
        run = CollectionRun(provider_id=provider.id, plugin_key=provider.key)
        session.add(run)
        session.flush()
        run_id = run.id
    started = time.perf_counter()
    run_collection(context, run_id)
    seconds = time.perf_counter() - started
    with context.sessions() as session:
        done = session.get(CollectionRun, run_id)
        assert done is not None
    if done.status != "completed":
        raise SystemExit(f"run {run_id} ended {done.status}: {done.error_message}")
    return seconds, done


def run(instances: int = 1200, repeat: int = 3) -> dict[str, object]:
    """Start moto, fill it, measure; the figures as a dict."""
    load = os.getloadavg()[0]
    env_root = Path(tempfile.gettempdir()) / "estate-bench-environments"
    with tempfile.TemporaryDirectory(prefix="estate-bench-aws-") as tmp, moto_server() as moto:
        work = Path(tmp)
        started = time.perf_counter()
        populate(moto, instances)
        populate_seconds = time.perf_counter() - started
        os.environ["AWS_ENDPOINT_URL"] = moto.url  # the plugin child inherits it
        base_seconds, base_count = min(baseline(moto) for _ in range(repeat))
        plugin_seconds, plugin_count = min(in_process() for _ in range(repeat))
        settings = Settings(
            data_dir=work / "data",
            environments_dir=environments(env_root),
            database_url=f"sqlite:///{work / 'bench.db'}",
            admin_password="bench-password",
            run_timeout=3600,
        )
        context = Context.from_settings(settings)
        prepare(context)
        service_seconds, ec2_run = through_service(
            context, "EC2 only", {**SEED, "services": ["ec2"]}
        )
        full_seconds, full_run = through_service(context, "everything", dict(SEED))
        context.close()
    if not base_count == plugin_count == ec2_run.resources_found == instances:
        raise SystemExit(
            f"counts differ: boto3 {base_count}, plugin {plugin_count}, "
            f"service {ec2_run.resources_found}, made {instances}"
        )
    return {
        "emulator": "moto server",
        "load_average": round(load, 2),
        "resources": instances,
        "seconds": round(service_seconds, 3),
        "resources_per_s": round(instances / service_seconds),
        "baseline": "boto3 paginating DescribeInstances alone, in process",
        "baseline_seconds": round(base_seconds, 3),
        "ratio": round(service_seconds / base_seconds, 2),
        "repeat": repeat,
        "populate_seconds": round(populate_seconds, 2),
        "plugin_in_process_seconds": round(plugin_seconds, 3),
        "plugin_ratio_to_baseline": round(plugin_seconds / base_seconds, 2),
        "full_resources": full_run.resources_found,
        "full_seconds": round(full_seconds, 3),
        "full_resources_per_s": round(full_run.resources_found / full_seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1200)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    print(json.dumps({"bench": "aws_aws", **run(args.instances, args.repeat)}), flush=True)


if __name__ == "__main__":
    main()
