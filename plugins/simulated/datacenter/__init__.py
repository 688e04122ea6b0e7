"""Simulated datacenter: a deterministic, vCenter-shaped provider for tests and benchmarks."""

from .provider import SimulatedDatacenterProvider

__all__ = ["SimulatedDatacenterProvider"]
