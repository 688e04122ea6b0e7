"""A list filtered by tags alone reads its count and ids from ``resource_tags``, whose
rows copy their resource's provider and life (migration 0023): every page holds
exactly the resources that carry the tags, are alive (or not, with
``include_deleted``) and belong to the caller's providers, through soft and hard
deletions, restores, moves and a provider's removal that the triggers must follow,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, insert, select, update

from estate.config import Settings
from estate.db.engine import make_engine
from estate.db.models import Resource, ResourceTag, Tag
from estate.inventory.queries import FEW
from factories import API, BULK_AT, bulk_rows, insert_rows, ours_and_theirs

SIZE = 1000
Match = tuple[str | None, str, str | None]  # namespace, key, value: None matches any


def _expected(
    engine: Engine, matches: list[Match], providers: list[int] | None, deleted: bool = False
) -> list[int]:
    """The ids the list must hold, worked out here from the resources and which tags
    they carry (not from the copies the list reads)."""
    carried: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    with engine.connect() as conn:
        resources = conn.execute(select(Resource.id, Resource.provider_id, Resource.deleted_at))
        rows = conn.execute(
            select(ResourceTag.resource_id, Tag.namespace, Tag.key, Tag.value).join(
                Tag, Tag.id == ResourceTag.tag_id
            )
        )
        for resource_id, *tag in rows:
            carried[resource_id].append(tuple(tag))  # type: ignore[arg-type]
        return sorted(
            i
            for i, provider, deleted_at in resources
            if (deleted or deleted_at is None)
            and (providers is None or provider in providers)
            and all(_carries(carried[i], match) for match in matches)
        )


def _carries(tags: list[tuple[str, str, str]], match: Match) -> bool:
    namespace, key, value = match
    return any(k == key and namespace in (None, ns) and value in (None, v) for ns, k, v in tags)


def _assert_list(caller: TestClient, expected: list[int], **params: Any) -> None:
    """Every page of the list (and one past its end) holds ``expected``, in id order."""
    pages = -(-len(expected) // SIZE)
    for page in range(1, pages + 2):
        answer = caller.get(f"{API}/resources/", params={"page": page, "page_size": SIZE, **params})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["count"] == len(expected), params
        got = [item["id"] for item in body["results"]]
        assert got == expected[(page - 1) * SIZE : page * SIZE], (page, params)


def _assert_copies_exact(engine: Engine) -> None:
    """Each resource_tags row carries its resource's provider and life."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ResourceTag.provider_id,
                ResourceTag.alive,
                Resource.provider_id,
                Resource.deleted_at.is_(None),
            ).join(Resource, Resource.id == ResourceTag.resource_id)
        ).all()
    assert rows
    assert [(p, bool(a)) for p, a, _, _ in rows] == [(p, bool(a)) for _, _, p, a in rows]


def _assert_all(
    client: TestClient, member: TestClient, engine: Engine, mine: list[int], one: int
) -> None:
    _assert_copies_exact(engine)
    prod: Match = (None, "env", "prod")
    team: Match = ("ops", "team", "db")
    lists: list[tuple[TestClient, list[Match], list[int] | None, dict[str, Any]]] = [
        (client, [prod], None, {"tag": "env:prod"}),
        (client, [(None, "env", None)], None, {"tag": "env"}),  # prod and dev: once each
        (client, [prod, team], None, {"tag": ["env:prod", "ops/team:db"]}),
        (client, [team], None, {"tag": "ops/team:db"}),
        (client, [prod], None, {"tag": "env=prod", "include_deleted": "true"}),
        (client, [prod], [one], {"tag": "env:prod", "provider": one}),
        (member, [prod], mine, {"tag": "env:prod"}),
        (member, [(None, "env", None)], mine, {"tag": "env"}),
        (member, [team], mine, {"tag": "ops/team:db"}),
    ]
    for caller, matches, providers, params in lists:
        deleted = params.get("include_deleted") == "true"
        _assert_list(caller, _expected(engine, matches, providers, deleted), **params)


def _tag(client: TestClient, organization: int, namespace: str, key: str, value: str) -> int:
    body = {"namespace": namespace, "key": key, "value": value, "organization": organization}
    made = client.post(f"{API}/tags/", json=body)
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def _put_tags(engine: Engine, tags: dict[int, tuple[list[int], int]], since: int = 0) -> None:
    """Each tag on the resources of its providers whose id is a multiple of its step
    (from id ``since`` on), many rows a statement, as a bulk assignment writes them."""
    with engine.begin() as conn:
        for tag_id, (providers, step) in tags.items():
            ids = conn.scalars(
                select(Resource.id).where(
                    Resource.provider_id.in_(providers),
                    Resource.id % step == 0,
                    Resource.id >= since,
                )
            )
            rows = [{"resource_id": i, "tag_id": tag_id} for i in ids]
            conn.execute(insert(ResourceTag), rows)


def test_tag_lists_hold_what_their_resources_carry(
    client: TestClient, anonymous: TestClient, settings: Settings
) -> None:
    ours, theirs, other, member = ours_and_theirs(client, anonymous)
    prod = _tag(client, 1, "site", "env", "prod")
    dev = _tag(client, 1, "site", "env", "dev")
    team = _tag(client, 1, "ops", "team", "db")
    their_prod = _tag(client, other, "site", "env", "prod")
    engine = make_engine(settings.database)
    try:
        with engine.begin() as conn:
            insert_rows(conn, bulk_rows([ours[0], ours[1], ours[1], theirs], 14_000, 1))
        _put_tags(
            engine,
            {prod: (ours, 2), dev: (ours, 3), team: (ours, 1), their_prod: ([theirs], 2)},
        )
        with engine.begin() as conn:  # team:db leaves one in five (still more than FEW)
            untagged = (ResourceTag.tag_id == team) & (ResourceTag.resource_id % 5 == 0)
            conn.execute(delete(ResourceTag).where(untagged))
        # One list has more matches than are read in full: counted from the index too.
        assert len(_expected(engine, [("ops", "team", "db")], None)) > FEW
        _assert_all(client, member, engine, ours, ours[1])

        # The triggers follow every kind of write: deletions and restores, hard
        # deletions, resources moving to another provider, new tagged rows, a
        # provider removed.
        with engine.begin() as conn:
            conn.execute(update(Resource).where(Resource.id % 5 == 0).values(deleted_at=BULK_AT))
            conn.execute(update(Resource).where(Resource.id % 9 == 4).values(deleted_at=None))
            conn.execute(delete(Resource).where(Resource.id % 13 == 1))
            moved = (Resource.provider_id == ours[1]) & (Resource.id % 17 == 0)
            conn.execute(update(Resource).where(moved).values(provider_id=theirs))
            insert_rows(conn, bulk_rows([ours[1], theirs], 3_000, 200_000))
        _put_tags(engine, {prod: ([ours[1]], 7), their_prod: ([theirs], 7)}, since=200_000)
        assert client.delete(f"{API}/providers/{ours[0]}/").status_code == 204
        _assert_all(client, member, engine, ours[1:], ours[1])
    finally:
        engine.dispose()
