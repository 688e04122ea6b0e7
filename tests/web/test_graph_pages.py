"""The resource page's graph, sightings and tags, the table's tag filter and picking,
and the watchlist pages, as HTML from the real app: an operator is offered the
controls, a viewer none, an outsider gets 404; the graph's layout is plain geometry."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from estate.api.resource_filters import filters_from
from estate.inventory.neighbourhood import Link, Neighbour, Neighbourhood
from estate.inventory.watchlists import stored_filters
from estate.web.graph import NODE_RADIUS, layout
from factories import API, HTML, all_resources, collect, create_provider, log_in

NODE = re.compile(r'<a class="node d(\d)( current)?" href="/resources/(\d+)"')


def _estate(client: TestClient) -> dict[str, Any]:
    """The simulated datacenter collected: its VMs, hosts and the rest by name."""
    provider = create_provider(client)
    collect(client, provider["id"])
    return {r["name"]: r for r in all_resources(client, provider=provider["id"])}


def _user(client: TestClient, name: str, role: str, organization: int = 1) -> TestClient:
    created = client.post(f"{API}/users/", json={"username": name, "password": f"{name}-pass-1"})
    assert created.status_code == 201, created.text
    member = {"user": created.json()["id"], "role": role}
    assert (
        client.post(f"{API}/organizations/{organization}/members/", json=member).status_code == 201
    )
    browser = TestClient(client.app)
    log_in(browser, name, f"{name}-pass-1")
    return browser


def test_the_resource_page_draws_its_neighbours_sightings_and_tags(client: TestClient) -> None:
    resources = _estate(client)
    vm = next(r for r in resources.values() if r["resource_type"] == "virtual_machine")
    tagged = client.post(
        f"{API}/resources/{vm['id']}/tags/add/", json=[{"key": "env", "value": "prod"}]
    )
    assert tagged.status_code == 200, tagged.text
    operator = _user(client, "olga", "operator")

    html = operator.get(f"/resources/{vm['id']}", headers=HTML).text

    nodes = {int(i): (int(depth), bool(current)) for depth, current, i in NODE.findall(html)}
    assert nodes[vm["id"]] == (0, True)
    host = next(r for r in resources.values() if r["resource_type"] == "hypervisor_host"
                and f'href="/resources/{r["id"]}"' in html)  # fmt: skip
    assert nodes[host["id"]][0] == 1  # the VM runs on it
    assert any(depth == 2 for depth, _ in nodes.values())  # its other VMs, its cluster
    assert re.search(
        rf'data-source="{vm["id"]}" data-target="{host["id"]}"><title>[^<]* runs_on ', html
    )
    assert html.count('id="sightings"') == 1 and "(current)" in html
    assert "user/env=prod" in html
    assert 'class="add-tag"' in html and 'class="remove-tag"' in html


def test_a_viewer_gets_no_control_and_an_outsider_a_404(client: TestClient) -> None:
    resources = _estate(client)
    vm = next(r for r in resources.values() if r["resource_type"] == "virtual_machine")
    client.post(f"{API}/resources/{vm['id']}/tags/add/", json=[{"key": "env", "value": "prod"}])
    watchlist = client.post(f"{API}/watchlists/", json={"name": "Hidden list"}).json()
    client.post(
        f"{API}/watchlists/{watchlist['id']}/resources/add/", json={"resource_ids": [vm["id"]]}
    )
    viewer = _user(client, "vera", "viewer")
    theirs = client.post(f"{API}/organizations/", json={"name": "Theirs"}).json()["id"]
    outsider = _user(client, "eve", "admin", theirs)

    page = viewer.get(f"/resources/{vm['id']}", headers=HTML).text
    assert "user/env=prod" in page and 'id="graph"' in page
    assert 'class="add-tag"' not in page and 'class="remove-tag"' not in page
    table = viewer.get("/resources", headers=HTML).text
    assert 'id="bulk"' not in table and 'class="pick"' not in table
    lists = viewer.get("/watchlists", headers=HTML).text
    assert "Hidden list" in lists and 'id="new-watchlist"' not in lists
    members = viewer.get(f"/watchlists/{watchlist['id']}", headers=HTML).text
    assert vm["name"] in members and "remove-member" not in members

    assert outsider.get(f"/watchlists/{watchlist['id']}", headers=HTML).status_code == 404
    assert "Hidden list" not in outsider.get("/watchlists", headers=HTML).text
    assert outsider.get(f"/resources/{vm['id']}", headers=HTML).status_code == 404
    # Their own organization: they may create a watchlist there, and only there.
    form = outsider.get("/watchlists", headers=HTML).text
    assert re.findall(r'<option value="(\d+)">', form) == [str(theirs)]


def test_the_table_filters_by_tag_and_offers_picking_to_an_operator(client: TestClient) -> None:
    resources = _estate(client)
    vms = [r for r in resources.values() if r["resource_type"] == "virtual_machine"][:2]
    for vm in vms:
        client.post(f"{API}/resources/{vm['id']}/tags/add/", json=[{"namespace": "ops", "key": "env", "value": "prod"}])  # fmt: skip
    client.post(f"{API}/watchlists/", json={"name": "Static one"})
    client.post(f"{API}/watchlists/", json={"name": "Dynamic one", "watchlist_type": "dynamic", "filter_query": {"state": "running"}})  # fmt: skip
    operator = _user(client, "olga", "operator")

    for tag in ("ops/env=prod", "env:prod", "env"):
        html = operator.get("/resources", params={"tag": tag}, headers=HTML).text
        shown = set(re.findall(r'class="pick" value="(\d+)"', html))
        assert shown == {str(vm["id"]) for vm in vms}, tag
    assert 'id="bulk"' in html
    options = re.findall(
        r'<option value="\d+">([^<]+)</option>', html.split('id="bulk-watchlist"')[1]
    )
    assert options[0] == "Static one" and "Dynamic one" not in options
    refused = operator.get("/resources", params={"tag": "ops/"}, headers=HTML)
    assert refused.status_code == 400 and "tag:" in refused.text and "key is empty" in refused.text


def test_a_dynamic_watchlist_page_lists_what_its_filters_match(client: TestClient) -> None:
    resources = _estate(client)
    running = {r["id"] for r in resources.values() if r["state"] == "running"}
    query = {"state": "running", "resource_type__slug": "virtual_machine"}
    created = client.post(
        f"{API}/watchlists/", json={"name": "Running", "watchlist_type": "dynamic", "filter_query": query}
    ).json()  # fmt: skip
    log_in(client)

    html = client.get(f"/watchlists/{created['id']}", headers=HTML).text
    listed = {int(i) for i in re.findall(r'<td><a href="/resources/(\d+)">', html.split('id="members"')[1].split("</table>")[0])}  # fmt: skip
    assert listed and listed <= running
    count = client.get(f"{API}/watchlists/{created['id']}/").json()["resource_count"]
    assert len(listed) == count and f'id="member-count">{count}<' in html
    assert "remove-member" not in html  # dynamic: its filters choose
    lists = client.get("/watchlists", headers=HTML).text
    assert re.search(
        rf'href="/watchlists/{created["id"]}">Running</a>.*?<td class="num">{count}</td>',
        lists,
        re.S,
    )


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"state": "running", "tag": "ops/env:prod"},
        {"provider__id": "3", "include_deleted": "true", "tag": ["env", "a=b"]},
        {"resource_type__slug": "virtual_machine", "search": "web", "os_type": "linux"},
    ],
)
def test_the_pages_read_a_stored_filter_query_as_the_api_does(query: dict[str, Any]) -> None:
    assert stored_filters(query) == filters_from(query)


def _resource(id: int, name: str) -> Neighbour:
    return Neighbour(
        id=id, ems_ref=name, name=name, resource_type="virtual_machine", relationships=None
    )


def test_the_layout_puts_rings_around_the_resource_and_children_near_their_parent() -> None:
    center, a, b = _resource(1, "vm"), _resource(2, "host"), _resource(3, "datastore")
    children = [_resource(10 + i, f"c{i}") for i in range(6)]
    found = Neighbourhood(
        rings=[[center], [a, b], children],
        links=[Link(1, 2, "runs_on"), Link(1, 3, "attached_to")]
        + [Link(c.id, 2 if i < 3 else 3, "runs_on") for i, c in enumerate(children)],
        parent={c.id: 2 if i < 3 else 3 for i, c in enumerate(children)},
        hidden=5,
        exact=False,
    )

    drawing = layout(found)

    where = {n.id: (n.x, n.y, n.depth) for n in drawing.nodes}
    assert where[1] == (0, 0, 0) and drawing.current == 1
    for x, y, depth in where.values():
        assert math.hypot(x, y) == pytest.approx([0, 150, 300][depth], abs=0.2)
        assert abs(x) < drawing.size / 2 and abs(y) < drawing.size / 2
    # A parent's children sit nearer to it than to the other parent.
    for child, parent in found.parent.items():
        other = 3 if parent == 2 else 2
        x, y, _ = where[child]
        near = math.dist((x, y), where[parent][:2])
        assert near < math.dist((x, y), where[other][:2])
    edge = next(e for e in drawing.edges if (e.source, e.target) == (1, 2))
    # The line stops short of both circles, so the arrowhead shows at the target.
    assert math.dist((edge.x1, edge.y1), (0, 0)) == pytest.approx(NODE_RADIUS + 2, abs=0.2)
    assert math.dist((edge.x2, edge.y2), where[2][:2]) == pytest.approx(NODE_RADIUS + 2, abs=0.2)
    assert edge.title == "vm runs_on host" and edge.relationship_type == "runs_on"
    assert (drawing.hidden, drawing.exact) == (5, False)


ROW = re.compile(r'<td><a href="/resources/(\d+)">')
TOTAL = re.compile(r'<h1>Resources <span class="big">([\d,]+)</span>')


@pytest.mark.parametrize("sort", ["id", "-id", "name", "-last_seen_at"])
def test_the_tables_search_shows_its_count_and_the_apis_rows_page_after_page(
    client: TestClient, sort: str
) -> None:
    """A search's count and pages come from its matching ids (inventory/counts.py
    ``listed``, shared with the API); in any sort the table shows what the API lists."""
    provider = create_provider(client, connection_config={"resources": 130})
    assert collect(client, provider["id"])["status"] == "completed"
    ordering = sort  # the API's names
    expected = [
        r["id"]
        for r in client.get(
            f"{API}/resources/",
            params={"search": "vm-0", "ordering": ordering, "page_size": 1000},
        ).json()["results"]
    ]
    assert len(expected) > 50  # more than one page of the table
    viewer = _user(client, "vera", "viewer")

    shown: list[int] = []
    for number in (1, 2, 3):
        html = viewer.get(
            "/resources", params={"search": "vm-0", "sort": sort, "page": number}, headers=HTML
        ).text
        assert TOTAL.findall(html) == [f"{len(expected):,}"]
        shown.extend(int(i) for i in ROW.findall(html))
    assert shown == expected
