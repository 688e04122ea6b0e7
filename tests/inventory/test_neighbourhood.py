"""A resource's neighbourhood on a real database (SQLite and PostgreSQL): depth 2 through
both directions of typed edges, never into another provider's (so organization's)
resources, capped with the rest counted, in a bounded number of indexed queries
whatever the degree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from estate.db.engine import make_engine
from estate.db.models import Resource
from estate.inventory.neighbourhood import neighbourhood
from inventory.test_ingest import ingest
from inventory.test_read_paths import new_provider


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _record(ref: str, kind: str, *edges: tuple[str, str]) -> dict[str, Any]:
    return {
        "ems_ref": ref,
        "resource_type_slug": kind,
        "name": ref,
        "relationships": [{"target_ems_ref": t, "relationship_type": k} for t, k in edges],
    }


def _datacenter(vms: int) -> list[dict[str, Any]]:
    """A cluster of two hosts, a datastore, VMs alternating between the hosts."""
    return [
        _record("c0", "cluster"),
        _record("h0", "hypervisor_host", ("c0", "member_of")),
        _record("h1", "hypervisor_host", ("c0", "member_of")),
        _record("d0", "storage_pool"),
        *(
            _record(f"v{i}", "virtual_machine", (f"h{i % 2}", "runs_on"), ("d0", "attached_to"))
            for i in range(vms)
        ),
    ]


def _ref(session: Session, provider_id: int, ems_ref: str) -> Resource:
    query = select(Resource).where(Resource.provider_id == provider_id, Resource.ems_ref == ems_ref)
    return session.scalars(query).one()


def test_depth_two_through_typed_edges_both_ways_and_never_another_provider(
    engine: Engine,
) -> None:
    ours = new_provider(engine, "ours", org="ours")
    ingest(engine, ours, _datacenter(6))
    # Another organization's provider with the very same ems_refs, pointing at "h0".
    theirs = new_provider(engine, "theirs", org="theirs")
    ingest(engine, theirs, [*_datacenter(2), _record("spy", "virtual_machine", ("h0", "runs_on"))])

    with Session(engine) as session:
        found = neighbourhood(session, _ref(session, ours, "v0"))
        refs = [sorted(r.ems_ref for r in ring) for ring in found.rings]
        by_id = {r.id: r.ems_ref for ring in found.rings for r in ring}
        providers = set(session.scalars(select(Resource.provider_id).where(Resource.id.in_(by_id))))
        links = {(by_id[x.source], x.relationship_type, by_id[x.target]) for x in found.links}
        parents = {by_id[child]: by_id[parent] for child, parent in found.parent.items()}

    assert refs == [["v0"], ["d0", "h0"], ["c0", "v1", "v2", "v3", "v4", "v5"]]
    assert providers == {ours}  # neither "spy" nor the other provider's h0
    assert found.hidden == 0 and found.exact
    assert {("v0", "runs_on", "h0"), ("v0", "attached_to", "d0"), ("h0", "member_of", "c0"),
            ("v2", "runs_on", "h0"), ("v1", "attached_to", "d0")} <= links  # fmt: skip
    # h1 is three steps away (v0 → d0 ← v1 → h1): not drawn, and no edge reaches it.
    assert ("v1", "runs_on", "h1") not in links
    assert parents["c0"] == "h0" and parents["v1"] == "d0"


def test_a_host_with_hundreds_of_edges_is_capped_counted_and_read_in_few_queries(
    engine: Engine,
) -> None:
    provider = new_provider(engine, "big")
    ingest(engine, provider, _datacenter(600))  # h0 has 300 VMs, d0 600
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    with Session(engine) as session:
        host = _ref(session, provider, "h0")
        event.listen(engine, "before_cursor_execute", count)
        try:
            found = neighbourhood(session, host, limit=40)
        finally:
            event.remove(engine, "before_cursor_execute", count)

    assert found.size == 40
    assert [r.ems_ref for r in found.rings[0]] == ["h0"]
    assert found.rings[1][0].ems_ref == "c0"  # its own edges first, then who points at it
    assert len(found.rings[1]) == 39 and found.rings[2] == []
    # c0 and 300 VMs, 39 of them drawn; d0 (where the drawn VMs point) on ring 2.
    assert found.hidden == 301 - 39 + 1
    assert not found.exact  # ring 2 was not even looked for
    assert len(statements) <= 4, statements
    assert all(link.target == host.id or link.source == host.id for link in found.links)


def test_the_second_ring_fills_what_the_first_left_and_deleted_ones_are_left_out(
    engine: Engine,
) -> None:
    provider = new_provider(engine, "dc")
    ingest(engine, provider, _datacenter(4))
    ingest(engine, provider, [r for r in _datacenter(4) if r["ems_ref"] != "v2"])  # v2 gone

    with Session(engine) as session:
        found = neighbourhood(session, _ref(session, provider, "v0"), limit=5)
        refs = [[r.ems_ref for r in ring] for ring in found.rings]

    # Its own edges' order first (runs_on h0, attached_to d0), then the next ring:
    # c0 (h0's own edge), then who points at d0 and h0: v1, v3 (v2 is deleted).
    assert refs == [["v0"], ["h0", "d0"], ["c0", "v1"]]
    assert found.hidden == 1 and found.exact  # v3
