"""Ingest, driven directly on a real database (SQLite and PostgreSQL): counters and history."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session

from estate.db.engine import make_engine
from estate.db.models import (
    CollectionRun,
    Organization,
    Provider,
    Resource,
    ResourceChange,
    ResourceRelationship,
)
from estate.inventory.ingest import Ingestor
from estate.inventory.queries import created_entry, relationships_of


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def provider_id(engine: Engine) -> int:
    return new_provider(engine, "dc-1")


def new_provider(engine: Engine, name: str) -> int:
    with Session(engine) as session, session.begin():
        organization = session.scalar(select(Organization).where(Organization.name == "test"))
        if organization is None:
            organization = Organization(name="test")
            session.add(organization)
            session.flush()
        provider = Provider(
            name=name,
            vendor="simulated",
            provider_type="datacenter",
            organization_id=organization.id,
        )
        session.add(provider)
        session.flush()
        return provider.id


def new_run(engine: Engine, provider_id: int) -> int:
    with Session(engine) as session, session.begin():
        run = CollectionRun(provider_id=provider_id, status="running")
        session.add(run)
        session.flush()
        return run.id


def vm(ref: str, **fields: Any) -> dict[str, Any]:
    return {"ems_ref": ref, "resource_type_slug": "virtual_machine", "name": ref, **fields}


def vms(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [vm(f"vm-{i}", **fields) for i in range(count)]


def ingest(
    engine: Engine,
    provider_id: int,
    *batches: Sequence[Any],
    complete: bool = True,
    allowed_types: Sequence[str] | None = None,
) -> Ingestor:
    """One run of ``provider_id`` that sends ``batches`` and ends (completed or not)."""
    ingestor = Ingestor(
        engine,
        provider_id=provider_id,
        run_id=new_run(engine, provider_id),
        allowed_types=allowed_types,
    )
    for batch in batches:
        ingestor.add_batch(batch)
    ingestor.finish(complete=complete)
    return ingestor


def resources(engine: Engine, provider_id: int) -> dict[str, Resource]:
    with Session(engine) as session:
        rows = session.scalars(select(Resource).where(Resource.provider_id == provider_id))
        return {r.ems_ref: r for r in rows}


def changes(engine: Engine, run_id: int) -> dict[str, tuple[str, Any]]:
    """``{ems_ref: (kind, changes)}`` of one run's history entries.

    ``created`` entries are derived from the resource row (first seen in the run);
    the others are stored rows.
    """
    with Session(engine) as session:
        rows = session.execute(
            select(Resource.ems_ref, ResourceChange.kind, ResourceChange.changes)
            .join(Resource, Resource.id == ResourceChange.resource_id)
            .where(ResourceChange.run_id == run_id)
        ).all()
        created = session.scalars(
            select(Resource.ems_ref).where(Resource.first_seen_run_id == run_id)
        ).all()
    rows = [*rows, *((ref, "created", None) for ref in created)]
    result = {ref: (kind, body) for ref, kind, body in rows}
    assert len(result) == len(rows), "one history row per resource and run"
    return result


def all_changes(engine: Engine) -> int:
    """Stored history rows and derived ``created`` entries."""
    with Session(engine) as session:
        stored = len(session.scalars(select(ResourceChange.id)).all())
        return stored + len(session.scalars(select(Resource.id)).all())


def edges(engine: Engine, provider_id: int) -> set[tuple[str, str, str]]:
    """``(source, target, type)`` of the provider's edges, from the resource rows.

    Checks on the way that the reverse index holds exactly their (target, source)
    pairs.
    """
    with Session(engine) as session:
        rows = session.execute(
            select(Resource.ems_ref, Resource.relationships).where(
                Resource.provider_id == provider_id
            )
        ).all()
        index = session.execute(
            select(ResourceRelationship.source_ems_ref, ResourceRelationship.target_ems_ref).where(
                ResourceRelationship.provider_id == provider_id
            )
        ).all()
    declared = [(source, target, kind) for source, links in rows for target, kind in links or ()]
    assert len(declared) == len(set(declared)), "no duplicated edges"
    assert {tuple(pair) for pair in index} == {(s, t) for s, t, _ in declared}
    return set(declared)


def counts(ingestor: Ingestor) -> dict[str, int]:
    return {k: v for k, v in ingestor.counters.as_dict().items() if v}


# -- created, unchanged, modified ------------------------------------------------------


def test_first_run_creates_every_resource_with_a_created_row(
    engine: Engine, provider_id: int
) -> None:
    batch = vms(5, state="running", properties={"owner": "ops"}, ip_addresses=["10.0.0.1"])

    run = ingest(engine, provider_id, batch)

    assert counts(run) == {"found": 5, "created": 5}
    stored = resources(engine, provider_id)
    assert sorted(stored) == [f"vm-{i}" for i in range(5)]
    first = stored["vm-0"]
    assert (first.name, first.state, first.resource_type) == ("vm-0", "running", "virtual_machine")
    assert first.properties == {"owner": "ops"}
    assert first.ip_addresses == ["10.0.0.1"]
    assert first.deleted_at is None
    assert first.last_seen_run_id == run.run_id
    assert first.first_seen_at == first.last_seen_at
    assert changes(engine, run.run_id) == {f"vm-{i}": ("created", None) for i in range(5)}


def test_the_same_data_again_is_unchanged_and_writes_no_history(
    engine: Engine, provider_id: int
) -> None:
    batch = vms(4, state="running", properties={"owner": "ops", "tier": 2})
    first = ingest(engine, provider_id, batch)
    before = resources(engine, provider_id)
    history = all_changes(engine)

    second = ingest(engine, provider_id, batch)

    assert counts(second) == {"found": 4, "unchanged": 4}
    assert changes(engine, second.run_id) == {}
    assert all_changes(engine) == history
    after = resources(engine, provider_id)
    assert after["vm-0"].id == before["vm-0"].id
    assert after["vm-0"].first_seen_at == before["vm-0"].first_seen_at
    assert after["vm-0"].last_seen_run_id == second.run_id != first.run_id
    assert after["vm-0"].last_seen_at >= before["vm-0"].last_seen_at


TOUCHED = {"last_seen_at", "last_seen_run_id", "seen_count"}


def updates_of(engine: Engine, table: str) -> tuple[int, int]:
    """PostgreSQL's count of ``table``'s updates, and of its heap-only ones (no index
    entry written)."""
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = connection.execute(
            text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = :t"),
            {"t": table},
        ).one()
        return int(row[0]), int(row[1])


def test_a_run_touches_unchanged_resources_in_resource_seen_alone(
    engine: Engine, provider_id: int
) -> None:
    """A re-collection touches every unchanged resource (last seen, by which run, seen
    count) in ``resource_seen``, never in its resource row (migration 0026). On
    PostgreSQL each touch is a heap-only update (no index holds a touched column and
    the table keeps room on its pages); SQLite keeps last seen's sort index there."""
    batch = vms(60, state="running", properties={"owner": "ops"})
    ingest(engine, provider_id, batch)
    assert not TOUCHED & {column["name"] for column in inspect(engine).get_columns("resources")}
    indexed = {
        name: set(index["column_names"])
        for index in inspect(engine).get_indexes("resource_seen")
        if (name := index["name"])
    }
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        assert indexed == {"ix_resource_seen_last_seen": {"last_seen_at", "resource_id"}}
        with engine.begin() as connection:  # every write of a resource row, recorded
            connection.exec_driver_sql("CREATE TABLE rows_written (id INTEGER)")
            connection.exec_driver_sql(
                "CREATE TRIGGER rows_written AFTER UPDATE ON resources "
                "BEGIN INSERT INTO rows_written VALUES (new.id); END"
            )
    else:
        assert indexed == {}
        with engine.connect() as connection:
            options = connection.scalar(
                text("SELECT reloptions FROM pg_class WHERE relname = 'resource_seen'")
            )
        assert "fillfactor=50" in options
        engine.dispose()  # a backend's statistics are reported at the latest when it ends
        before = updates_of(engine, "resources"), updates_of(engine, "resource_seen")

    second = ingest(engine, provider_id, batch)
    engine.dispose()

    assert counts(second) == {"found": 60, "unchanged": 60}
    stored = resources(engine, provider_id)
    assert {(r.last_seen_run_id, r.seen_count) for r in stored.values()} == {(second.run_id, 2)}
    assert all(r.last_seen_at > r.first_seen_at for r in stored.values())
    if sqlite:
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT count(*) FROM rows_written")) == 0
        return
    deadline = time.monotonic() + 10
    while (seen := updates_of(engine, "resource_seen"))[1] - before[1][1] < 60:
        assert time.monotonic() < deadline, (before, seen)
        time.sleep(0.1)
    assert seen[0] - before[1][0] == 60  # each once, and every one heap-only
    assert updates_of(engine, "resources") == before[0]


def test_the_same_content_in_another_key_order_is_unchanged(
    engine: Engine, provider_id: int
) -> None:
    ingest(engine, provider_id, [vm("vm-0", state="running", properties={"a": 1, "b": 2})])
    shuffled = {
        "properties": {"b": 2, "a": 1},
        "state": "running",
        "name": "vm-0",
        "resource_type_slug": "virtual_machine",
        "ems_ref": "vm-0",
    }

    second = ingest(engine, provider_id, [shuffled])

    assert counts(second) == {"found": 1, "unchanged": 1}
    assert changes(engine, second.run_id) == {}


def test_a_modified_resource_gets_a_modified_row_with_its_diff(
    engine: Engine, provider_id: int
) -> None:
    ingest(
        engine, provider_id, [vm("vm-0", state="running", properties={"owner": "ops"}), *vms(3)[1:]]
    )

    second = ingest(
        engine,
        provider_id,
        [vm("vm-0", state="stopped", properties={"owner": "dev", "cost": 3}), *vms(3)[1:]],
    )

    assert counts(second) == {"found": 3, "updated": 1, "unchanged": 2}
    assert changes(engine, second.run_id) == {
        "vm-0": (
            "modified",
            {
                "state": {"from": "running", "to": "stopped"},
                "properties.cost": {"from": None, "to": 3},
                "properties.owner": {"from": "ops", "to": "dev"},
            },
        )
    }
    stored = resources(engine, provider_id)["vm-0"]
    assert stored.state == "stopped"
    assert stored.properties == {"owner": "dev", "cost": 3}


def test_a_field_that_disappears_is_a_change_to_none(engine: Engine, provider_id: int) -> None:
    ingest(engine, provider_id, [vm("vm-0", region="eu", cpu_count=2, provider_tags={"a": "b"})])

    second = ingest(engine, provider_id, [vm("vm-0")])

    assert changes(engine, second.run_id) == {
        "vm-0": (
            "modified",
            {
                "region": {"from": "eu", "to": None},
                "cpu_count": {"from": 2, "to": None},
                "provider_tags.a": {"from": "b", "to": None},
            },
        )
    }
    stored = resources(engine, provider_id)["vm-0"]
    assert (stored.region, stored.cpu_count, stored.provider_tags) == (None, None, None)


# -- deletion and restoring ------------------------------------------------------------


def test_a_complete_run_deletes_what_it_did_not_see(engine: Engine, provider_id: int) -> None:
    ingest(engine, provider_id, vms(4))

    second = ingest(engine, provider_id, vms(4)[:2])

    assert counts(second) == {"found": 2, "unchanged": 2, "deleted": 2}
    assert changes(engine, second.run_id) == {
        "vm-2": ("deleted", None),
        "vm-3": ("deleted", None),
    }
    stored = resources(engine, provider_id)
    assert stored["vm-2"].deleted_at is not None
    assert stored["vm-3"].deleted_at is not None
    assert stored["vm-0"].deleted_at is None


def test_a_deleted_resource_is_not_deleted_again(engine: Engine, provider_id: int) -> None:
    ingest(engine, provider_id, vms(2))
    ingest(engine, provider_id, vms(1))

    third = ingest(engine, provider_id, vms(1))

    assert counts(third) == {"found": 1, "unchanged": 1}
    assert changes(engine, third.run_id) == {}


def test_an_incomplete_run_deletes_nothing(engine: Engine, provider_id: int) -> None:
    ingest(engine, provider_id, vms(4))

    second = ingest(engine, provider_id, vms(4)[:1], complete=False)

    assert counts(second) == {"found": 1, "unchanged": 1}
    assert changes(engine, second.run_id) == {}
    assert all(r.deleted_at is None for r in resources(engine, provider_id).values())


def test_an_incomplete_run_still_records_what_it_saw(engine: Engine, provider_id: int) -> None:
    ingest(engine, provider_id, vms(2))

    second = ingest(engine, provider_id, [vm("vm-0", name="renamed"), vm("vm-9")], complete=False)

    assert counts(second) == {"found": 2, "created": 1, "updated": 1}
    assert {ref: kind for ref, (kind, _) in changes(engine, second.run_id).items()} == {
        "vm-0": "modified",
        "vm-9": "created",
    }


def test_a_resource_that_comes_back_is_restored(engine: Engine, provider_id: int) -> None:
    ingest(engine, provider_id, vms(2))
    ingest(engine, provider_id, vms(1))
    assert resources(engine, provider_id)["vm-1"].deleted_at is not None

    third = ingest(engine, provider_id, vms(2))

    assert counts(third) == {"found": 2, "unchanged": 1, "restored": 1}
    kind, _ = changes(engine, third.run_id)["vm-1"]
    assert kind == "restored"
    assert list(changes(engine, third.run_id)) == ["vm-1"]
    assert resources(engine, provider_id)["vm-1"].deleted_at is None


def test_a_resource_that_comes_back_changed_is_restored_with_its_diff(
    engine: Engine, provider_id: int
) -> None:
    ingest(engine, provider_id, [vm("vm-0", state="running")])
    ingest(engine, provider_id, [])

    third = ingest(engine, provider_id, [vm("vm-0", state="stopped")])

    assert changes(engine, third.run_id) == {
        "vm-0": ("restored", {"state": {"from": "running", "to": "stopped"}})
    }
    stored = resources(engine, provider_id)["vm-0"]
    assert (stored.state, stored.deleted_at) == ("stopped", None)


def test_runs_of_one_provider_never_touch_another(engine: Engine, provider_id: int) -> None:
    other = new_provider(engine, "dc-2")
    ingest(engine, provider_id, vms(3))

    run = ingest(engine, other, vms(1))

    assert counts(run) == {"found": 1, "created": 1}, "same ems_ref, other provider: new"
    assert all(r.deleted_at is None for r in resources(engine, provider_id).values())
    assert len(resources(engine, other)) == 1


# -- rejected records ------------------------------------------------------------------


def test_duplicates_in_one_batch_are_rejected_and_counted(engine: Engine, provider_id: int) -> None:
    run = ingest(engine, provider_id, [vm("vm-0"), vm("vm-1"), vm("vm-0", name="second")])

    assert counts(run) == {"found": 3, "created": 2, "errors": 1}
    assert run.problems == [
        {"ems_ref": "vm-0", "index": 2, "error": "ems_ref appears twice in this run"}
    ]
    assert resources(engine, provider_id)["vm-0"].name == "vm-0", "the first one is kept"


def test_duplicates_across_batches_are_rejected_and_counted(
    engine: Engine, provider_id: int
) -> None:
    ingest(engine, provider_id, vms(2))

    run = ingest(engine, provider_id, vms(2), [vm("vm-1", name="again"), vm("vm-7")], [vm("vm-7")])

    assert counts(run) == {"found": 5, "created": 1, "unchanged": 2, "errors": 2}
    assert sorted(p["ems_ref"] for p in run.problems) == ["vm-1", "vm-7"]
    assert all("twice" in p["error"] for p in run.problems)
    stored = resources(engine, provider_id)
    assert stored["vm-1"].name == "vm-1"
    assert changes(engine, run.run_id) == {"vm-7": ("created", None)}


def test_invalid_records_are_rejected_and_the_others_stored(
    engine: Engine, provider_id: int
) -> None:
    batch: list[Any] = [
        vm("vm-0"),
        vm("vm-1", cpu_count=-2),
        {"resource_type_slug": "virtual_machine"},
        vm("vm-3", resource_type_slug="starship"),
        "not an object",
        vm("vm-5", colour="blue"),
        vm("vm-6"),
    ]

    run = ingest(engine, provider_id, batch, complete=False)

    assert counts(run) == {"found": 7, "created": 2, "errors": 5}
    assert sorted(resources(engine, provider_id)) == ["vm-0", "vm-6"]
    by_index = {p["index"]: p for p in run.problems}
    assert sorted(by_index) == [1, 2, 3, 4, 5]
    assert by_index[1]["ems_ref"] == "vm-1"
    assert by_index[1]["error"].startswith("cpu_count")
    assert by_index[2]["ems_ref"] is None
    assert "ems_ref" in by_index[2]["error"]
    assert "starship" in by_index[3]["error"]
    assert by_index[5]["error"] == "colour: unknown field"


def test_records_no_database_can_store_are_rejected_naming_the_field(
    engine: Engine, provider_id: int
) -> None:
    """A NUL character (PostgreSQL refuses it in text and jsonb) or an integer beyond
    64 bits would fail the insert of the whole batch: the record is refused instead."""
    batch: list[Any] = [
        vm("vm-0"),
        vm("vm-1", name="a\x00b"),
        vm("vm-2", properties={"owner": {"team": "x\x00"}}),
        vm("vm-3", provider_tags={"k\x00": "v"}),
        vm("vm-4", relationships=[{"target_ems_ref": "h\x00", "relationship_type": "runs_on"}]),
        vm("vm-5", cpu_count=2**64),
        vm("vm-\x006"),
        vm("vm-7", description="a backslash then u0000 is text: \\u0000"),
    ]

    run = ingest(engine, provider_id, batch, complete=False)

    assert counts(run) == {"found": 8, "created": 2, "errors": 6}
    stored = resources(engine, provider_id)
    assert sorted(stored) == ["vm-0", "vm-7"]
    assert stored["vm-7"].description == "a backslash then u0000 is text: \\u0000"
    nul = "contains a NUL character (\\u0000), which no text column stores"
    errors = {p["index"]: p["error"] for p in run.problems}
    assert errors == {
        1: f"name: {nul}",
        2: f"properties.owner.team: {nul}",
        3: f"provider_tags: key 'k\\x00' {nul}",
        4: f"relationships[0].target_ems_ref: {nul}",
        5: "cpu_count: expected `int` <= 9223372036854775807",
        6: f"ems_ref: {nul}",
    }
    assert {p["index"]: p["ems_ref"] for p in run.problems}[6] == "vm-\\x006"


def test_types_outside_the_plugins_list_are_rejected(engine: Engine, provider_id: int) -> None:
    batch = [vm("vm-0"), {"ems_ref": "host-0", "resource_type_slug": "hypervisor_host"}]

    run = ingest(engine, provider_id, batch, allowed_types=["hypervisor_host"], complete=False)

    assert counts(run) == {"found": 2, "created": 1, "errors": 1}
    assert list(resources(engine, provider_id)) == ["host-0"]
    assert "supported_resource_types" in run.problems[0]["error"]


def test_problems_are_bounded_but_all_are_counted(engine: Engine, provider_id: int) -> None:
    run = ingest(engine, provider_id, [vm(f"vm-{i}", cpu_count=-1) for i in range(150)])

    assert run.counters.errors == 150
    assert len(run.problems) == 100


# -- relationships ---------------------------------------------------------------------


def test_relationship_rows_are_replaced_when_relationships_change(
    engine: Engine, provider_id: int
) -> None:
    def on(*targets: str) -> list[dict[str, str]]:
        return [{"target_ems_ref": t, "relationship_type": "runs_on"} for t in targets]

    hosts = [{"ems_ref": f"h{i}", "resource_type_slug": "hypervisor_host"} for i in range(3)]
    ingest(
        engine,
        provider_id,
        [*hosts, vm("a", relationships=on("h0")), vm("b", relationships=on("h1"))],
    )
    assert edges(engine, provider_id) == {("a", "h0", "runs_on"), ("b", "h1", "runs_on")}

    moved = ingest(
        engine,
        provider_id,
        [*hosts, vm("a", relationships=on("h2")), vm("b", relationships=on("h1"))],
    )

    assert edges(engine, provider_id) == {("a", "h2", "runs_on"), ("b", "h1", "runs_on")}
    assert counts(moved) == {"found": 5, "updated": 1, "unchanged": 4}
    kind, body = changes(engine, moved.run_id)["a"]
    assert kind == "modified"
    assert body["relationships"]["from"] == on("h0")
    assert body["relationships"]["to"] == on("h2")

    dropped = ingest(engine, provider_id, [*hosts, vm("a"), vm("b", relationships=on("h1", "h2"))])

    assert edges(engine, provider_id) == {("b", "h1", "runs_on"), ("b", "h2", "runs_on")}
    assert counts(dropped) == {"found": 5, "updated": 2, "unchanged": 3}


def test_unchanged_relationships_are_left_alone(engine: Engine, provider_id: int) -> None:
    link = [{"target_ems_ref": "h0", "relationship_type": "runs_on"}]
    batch = [
        {"ems_ref": "h0", "resource_type_slug": "hypervisor_host"},
        vm("a", relationships=link),
    ]
    ingest(engine, provider_id, batch)

    again = ingest(engine, provider_id, [batch[0], vm("a", name="renamed", relationships=link)])

    assert edges(engine, provider_id) == {("a", "h0", "runs_on")}
    assert changes(engine, again.run_id) == {
        "a": ("modified", {"name": {"from": "a", "to": "renamed"}})
    }


# -- several batches -------------------------------------------------------------------


def test_a_run_across_several_batches(engine: Engine, provider_id: int) -> None:
    everything = vms(25, state="running")
    first = ingest(engine, provider_id, everything[:10], everything[10:20], everything[20:])
    assert counts(first) == {"found": 25, "created": 25}

    changed = [*everything]
    changed[3] = vm("vm-3", state="stopped")
    changed[17] = vm("vm-17", state="stopped")
    kept = [*changed[:22], vm("vm-25", state="running")]  # vm-22..24 gone, vm-25 new

    second = ingest(engine, provider_id, kept[:8], kept[8:16], kept[16:])

    assert counts(second) == {
        "found": 23,
        "created": 1,
        "updated": 2,
        "unchanged": 20,
        "deleted": 3,
    }
    kinds = {ref: kind for ref, (kind, _) in changes(engine, second.run_id).items()}
    assert kinds == {
        "vm-3": "modified",
        "vm-17": "modified",
        "vm-22": "deleted",
        "vm-23": "deleted",
        "vm-24": "deleted",
        "vm-25": "created",
    }
    stored = resources(engine, provider_id)
    assert len(stored) == 26
    assert sum(r.deleted_at is None for r in stored.values()) == 23


def test_records_may_arrive_as_raw_json_bytes(engine: Engine, provider_id: int) -> None:
    raw = [b'{"ems_ref": "vm-0", "resource_type_slug": "virtual_machine", "name": "x"}']

    run = ingest(engine, provider_id, raw)

    assert counts(run) == {"found": 1, "created": 1}
    assert resources(engine, provider_id)["vm-0"].name == "x"


# -- relationships both ways, created derived, unchanged fast path ---------------------


def test_relationships_read_both_ways_after_a_rewire(engine: Engine, provider_id: int) -> None:
    def edges_of(ref: str) -> list[tuple[str, str, str]]:
        with Session(engine) as session:
            resource = session.scalars(
                select(Resource).where(Resource.provider_id == provider_id, Resource.ems_ref == ref)
            ).one()
            return [
                (e["direction"], e["relationship_type"], e["ems_ref"])
                for e in relationships_of(session, resource)[0]
            ]

    hosts = [{"ems_ref": f"h{i}", "resource_type_slug": "hypervisor_host"} for i in range(3)]
    two_ways = [
        {"target_ems_ref": "h0", "relationship_type": "runs_on"},
        {"target_ems_ref": "h0", "relationship_type": "backs_up"},
    ]
    ingest(engine, provider_id, [*hosts, vm("a", relationships=two_ways)])

    assert edges_of("a") == [("outgoing", "runs_on", "h0"), ("outgoing", "backs_up", "h0")]
    assert edges_of("h0") == [("incoming", "runs_on", "a"), ("incoming", "backs_up", "a")]

    moved = [{"target_ems_ref": "h2", "relationship_type": "runs_on"}]
    ingest(
        engine, provider_id, [*hosts, vm("a", relationships=moved), vm("b", relationships=moved)]
    )

    assert edges_of("a") == [("outgoing", "runs_on", "h2")]
    assert edges_of("h0") == []
    # a was rewired in its batch; b is new and indexed when the run ended.
    assert edges_of("h2") == [("incoming", "runs_on", "a"), ("incoming", "runs_on", "b")]
    assert edges(engine, provider_id) == {("a", "h2", "runs_on"), ("b", "h2", "runs_on")}


def test_the_created_entry_is_derived_from_the_resource_row(
    engine: Engine, provider_id: int
) -> None:
    run = ingest(engine, provider_id, vms(2))

    with Session(engine) as session:
        assert session.scalars(select(ResourceChange.id)).all() == []  # nothing stored
        resource = session.scalars(select(Resource).where(Resource.ems_ref == "vm-0")).one()
        entry = created_entry(session, resource)
    assert (entry.id, entry.kind, entry.run_id, entry.changes) == (0, "created", run.run_id, None)
    assert entry.changed_at == resource.first_seen_at


def test_a_stored_record_is_checked_again_when_the_rules_change(
    engine: Engine, provider_id: int
) -> None:
    batch = [vm("a"), {"ems_ref": "h", "resource_type_slug": "hypervisor_host"}]
    ingest(engine, provider_id, batch, allowed_types=["virtual_machine", "hypervisor_host"])

    same = ingest(engine, provider_id, batch, allowed_types=["virtual_machine", "hypervisor_host"])
    assert counts(same) == {"found": 2, "unchanged": 2}

    # The very same bytes, but the plugin no longer declares hypervisor hosts.
    narrower = ingest(engine, provider_id, batch, allowed_types=["virtual_machine"], complete=False)
    assert counts(narrower) == {"found": 2, "unchanged": 1, "errors": 1}
    assert "supported_resource_types" in narrower.problems[0]["error"]
    assert narrower.problems[0]["index"] == 1  # its place in the batch the plugin sent


def test_an_unchanged_record_twice_in_a_batch_is_rejected_once(
    engine: Engine, provider_id: int
) -> None:
    ingest(engine, provider_id, vms(3))

    again = ingest(engine, provider_id, [*vms(3), vm("vm-1")], complete=False)

    assert counts(again) == {"found": 4, "unchanged": 3, "errors": 1}
    assert again.problems == [
        {"ems_ref": "vm-1", "index": 3, "error": "ems_ref appears twice in this run"}
    ]


def test_the_writer_pauses_after_each_stored_batch_for_the_time_it_took(
    engine: Engine, provider_id: int
) -> None:
    worked: list[float] = []

    def pause(seconds: float) -> float:
        worked.append(seconds)
        return 0.01

    ingestor = Ingestor(
        engine, provider_id=provider_id, run_id=new_run(engine, provider_id), pause=pause
    )
    for batch in (vms(3), [vm("vm-3")], [vm("vm-4")]):
        ingestor.add_batch(batch)
    ingestor.finish(complete=True)
    assert len(worked) == 3 and all(0 < seconds < 5 for seconds in worked), worked
    assert ingestor.paused == pytest.approx(0.03)
    assert ingestor.counters.created == 5
