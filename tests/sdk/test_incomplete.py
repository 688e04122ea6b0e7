"""``report_incomplete``: a part of the platform that could not be read, kept on the
provider (and sent with ``collect``'s answer, see tests/api/test_runs.py)."""

from collections.abc import Iterator

import pytest

from inventory_providers.base import BaseProvider, ResourceData
from inventory_providers.testing import make_provider


class TwoRegions(BaseProvider):
    vendor = "test"
    provider_type = "two_regions"
    supported_resource_types = ["virtual_machine"]

    def connect(self) -> None:
        pass

    def disconnect(self) -> None:
        pass

    def collect(self) -> Iterator[ResourceData]:
        yield ResourceData(ems_ref="vm-1", resource_type_slug="virtual_machine")
        self.report_incomplete("region west", TimeoutError())
        self.report_incomplete(" API rds ", "AccessDenied: no rds:Describe*")


def test_parts_that_could_not_be_read_are_kept_with_their_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider = make_provider(TwoRegions)

    with provider:
        found = list(provider.collect())

    assert [r.ems_ref for r in found] == ["vm-1"]
    assert provider.incomplete_parts == [
        {"part": "region west", "error": "TimeoutError"},
        {"part": "API rds", "error": "AccessDenied: no rds:Describe*"},
    ]
    assert "could not read region west: TimeoutError" in caplog.text


@pytest.mark.parametrize("part", ["", "   ", None])
def test_a_part_must_be_named(part: object) -> None:
    provider = make_provider(TwoRegions)

    with pytest.raises(ValueError, match="part must be a non-empty string"):
        provider.report_incomplete(part, "boom")  # type: ignore[arg-type]
