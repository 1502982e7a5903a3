"""Stitched reservations through the v1 API of two controllers, joined in-process: the
origin's ``POST /v1/reservations`` and the peer's ``/v1/stitches``, every answer checked
against the OpenAPI document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tegu_ryu.api.wsgi import Api
from tegu_ryu.assembly import assemble_controller
from tegu_ryu.auth import Authenticator
from tegu_ryu.controller import ControllerSettings
from tegu_ryu.stitching.peer_client import PeerRefused, PeerUnreachable
from tegu_ryu.stitching.points import Handoff, Peer, StitchPoint, StitchSettings
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.refs import PortRef

from .test_api import NOW, STATIC, TOKENS, Client, tegu_post

SHARED = "a-b-shared-token"


class WsgiLink:
    """A peer reached through its WSGI app, as PeerClient reaches it over HTTP."""

    def __init__(self) -> None:
        self.client: Client | None = None
        self.down = False

    def _call(self, method: str, path: str, template: str, body: Any = None) -> Any:
        if self.down or self.client is None:
            raise PeerUnreachable("down")
        status, answer = self.client.call(method, path, body, token=SHARED, template=template)
        if status >= 400:
            raise PeerRefused(status, answer["error"]["code"], answer["error"]["message"])
        return answer

    def hold(self, peer: Peer, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/v1/stitches", "/v1/stitches", body)  # type: ignore[no-any-return]

    def commit(self, peer: Peer, segment: str) -> dict[str, Any]:
        path = f"/v1/stitches/{segment}/commit"
        return self._call("POST", path, "/v1/stitches/{sid}/commit")  # type: ignore[no-any-return]

    def cancel(self, peer: Peer, segment: str) -> None:
        self._call("DELETE", f"/v1/stitches/{segment}", "/v1/stitches/{sid}")

    def modify(self, peer: Peer, segment: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/v1/stitches/{segment}"
        return self._call("PATCH", path, "/v1/stitches/{sid}", body)  # type: ignore[no-any-return]


def site(tmp_path: Path, name: str, other: str, link: WsgiLink, labels: range) -> Client:
    point = StitchPoint("wan", other, PortRef(2, 9), Handoff("vlan", labels), 40 * 10**6)
    stitching = StitchSettings(
        domain=name,
        points={"wan": point},
        peers={other: Peer(other, "http://127.0.0.1:1", SHARED)},
    )
    settings = ControllerSettings(
        capacity=CapacityPolicy(),
        state_dir=str(tmp_path / name),
        static_topology=STATIC,
        stitching=stitching,
    )
    controller = assemble_controller(settings, now=NOW)
    api = Api(controller, Authenticator(TOKENS), clock=lambda: NOW)
    api.stitcher.client = link
    return Client(api)


@pytest.fixture
def sites(tmp_path: Path) -> tuple[Client, Client]:
    a_to_b, b_to_a = WsgiLink(), WsgiLink()
    a = site(tmp_path, "siteA", "siteB", a_to_b, range(100, 102))
    b = site(tmp_path, "siteB", "siteA", b_to_a, range(100, 101))
    a_to_b.client, b_to_a.client = b, a
    return a, b


def stitched(a: Client, dst: Any = "siteB/h3", bandwidth: str = "10M") -> tuple[int, Any]:
    body = {"src": "h1", "dst": dst, "bandwidth": bandwidth, "duration": 3600}
    return a.call("POST", "/v1/reservations", body)


def test_a_stitched_reservation_is_admitted_on_both_sides(sites: tuple[Client, Client]) -> None:
    a, b = sites
    status, mine = stitched(a)
    assert status == 201, mine
    assert mine["type"] == "stitch" and mine["state"] == "active"
    assert mine["dst"]["given"] == "siteB/h3" and mine["dst"]["mac"] == "00:00:00:00:00:03"
    assert mine["stitch"]["label"] == 100 and mine["stitch"]["role"] == "origin"
    _, theirs = b.call(
        "GET",
        f"/v1/reservations/{mine['stitch']['peer_reservation']}",
        None,
        "admin-token",
        "/v1/reservations/{rid}",
    )
    assert theirs["stitch"]["peer_reservation"] == mine["id"]
    assert theirs["stitch"]["label"] == 100 and theirs["owner"] == "peer:siteA"
    assert theirs["src"]["given"] == "siteA/h1" and theirs["dst"]["name"] == "h3"
    _, listed = a.call("GET", "/v1/reservations?type=stitch")
    assert [r["id"] for r in listed["reservations"]] == [mine["id"]]


def test_the_object_form_of_a_remote_destination(sites: tuple[Client, Client]) -> None:
    a, _ = sites
    status, mine = stitched(a, dst={"domain": "siteB", "host": "h3"})
    assert status == 201 and mine["stitch"]["domain"] == "siteB"


def test_the_peers_used_up_label_range_is_refused_and_leaves_nothing(
    sites: tuple[Client, Client],
) -> None:
    a, _ = sites
    assert stitched(a)[0] == 201
    status, refused = stitched(a, dst="siteB/h4", bandwidth="5M")
    assert status == 409 and refused["error"]["code"] == "peer_refused"
    assert refused["error"]["details"]["peer_code"] == "no_label"
    _, listed = a.call("GET", "/v1/reservations?state=active&type=stitch")
    assert len(listed["reservations"]) == 1


def test_a_second_stitched_reservation_between_the_same_hosts_is_a_duplicate(
    sites: tuple[Client, Client],
) -> None:
    """Both would be the same entries where h1's traffic enters: only one could be carried."""
    a, b = sites
    status, first = stitched(a)
    assert status == 201
    status, refused = stitched(a, bandwidth="5M")
    assert status == 409 and refused["error"]["code"] == "duplicate"
    assert refused["error"]["details"] == {"reservation": first["id"]}
    _, listed = a.call("GET", "/v1/reservations?state=active&type=stitch")
    assert [r["id"] for r in listed["reservations"]] == [first["id"]]
    _, theirs = b.call("GET", "/v1/reservations?type=stitch", None, "admin-token")
    assert len(theirs["reservations"]) == 1  # nothing was held there


def test_cancel_and_change_reach_the_peer(sites: tuple[Client, Client]) -> None:
    a, b = sites
    _, mine = stitched(a)
    path = f"/v1/reservations/{mine['id']}"
    status, changed = a.call("PATCH", path, {"bandwidth": "20M"}, template="/v1/reservations/{rid}")
    assert status == 200 and changed["bandwidth"]["out"] == 20 * 10**6
    peer_path = f"/v1/reservations/{mine['stitch']['peer_reservation']}"
    _, theirs = b.call("GET", peer_path, None, "admin-token", "/v1/reservations/{rid}")
    assert theirs["bandwidth"]["out"] == 20 * 10**6
    assert a.call("DELETE", path, template="/v1/reservations/{rid}")[0] == 204
    _, theirs = b.call("GET", peer_path, None, "admin-token", "/v1/reservations/{rid}")
    assert theirs["state"] == "cancelled"


def test_an_unreachable_peer_is_502_and_nothing_is_held(sites: tuple[Client, Client]) -> None:
    a, _ = sites
    link = a.api.stitcher.client
    assert isinstance(link, WsgiLink)
    link.down = True
    status, failed = stitched(a)
    assert status == 502 and failed["error"]["code"] == "peer_unreachable"
    _, listed = a.call("GET", "/v1/reservations?state=held")
    assert listed["reservations"] == []


@pytest.mark.parametrize(
    ("dst", "code"),
    [
        ("siteZ/h3", "unknown_domain"),
        ("siteA/h3", "unknown_domain"),
        ("siteB/nobody", "peer_refused"),
    ],
)
def test_unknown_domains_and_hosts(sites: tuple[Client, Client], dst: str, code: str) -> None:
    a, _ = sites
    status, refused = stitched(a, dst=dst)
    assert refused["error"]["code"] == code and status in (404, 409)


def test_the_peer_endpoint_wants_a_peers_token(sites: tuple[Client, Client]) -> None:
    a, _ = sites
    _, mine = stitched(a)
    # No token or an unknown one is 401, as on every endpoint; a tenant's is known: 403.
    for token, expected in (
        (None, 401),
        ("nobody's", 401),
        ("acme-token", 403),
        ("admin-token", 403),
    ):
        status, _ = a.call(
            "DELETE", f"/v1/stitches/{mine['id']}", token=token, template="/v1/stitches/{sid}"
        )
        assert status == expected
    # A peer sees only segments stitched to it: a tenant's own reservation is unknown to it.
    _, local = a.call(
        "POST", "/v1/reservations", {"src": "h1", "dst": "h3", "bandwidth": "1M", "duration": 60}
    )
    status, _ = a.call(
        "GET", f"/v1/stitches/{local['id']}", token=SHARED, template="/v1/stitches/{sid}"
    )
    assert status == 404


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"origin_id": "x"},
        {
            "origin_id": "x",
            "src": {"host": "h1"},
            "host": "h3",
            "bandwidth": {"out": 1, "in": 1},
            "start": 0,
            "end": "never",
            "label": 100,
        },
        {
            "origin_id": "x",
            "src": {"host": "h1"},
            "host": "h3",
            "bandwidth": {"out": 0, "in": 0},
            "start": 0,
            "end": NOW + 60,
            "label": 100,
        },
        {
            "origin_id": "x",
            "src": {"host": "h1", "os": 1},
            "host": "h3",
            "bandwidth": {"out": 1, "in": 1},
            "start": 0,
            "end": NOW + 60,
            "label": 100,
        },
        {
            "origin_id": "x",
            "src": {"host": "h1"},
            "host": "h3",
            "bandwidth": {"out": 1, "in": 1},
            "start": 0,
            "end": NOW + 60,
            "label": True,
        },
    ],
)
def test_bad_holds_are_400(sites: tuple[Client, Client], body: Any) -> None:
    _, b = sites
    raw = json.dumps(body).encode()
    status, refused = b.call("POST", "/v1/stitches", raw, token=SHARED)
    assert status == 400, refused


def test_a_peer_hold_lapses_unless_committed(sites: tuple[Client, Client]) -> None:
    _, b = sites
    body = {
        "origin_id": "a-1",
        "src": {"host": "h1", "mac": "00:00:00:00:00:01", "ip": "10.0.0.1"},
        "host": "h3",
        "bandwidth": {"out": 10**6, "in": 10**6},
        "start": NOW,
        "end": NOW + 600,
        "label": 100,
    }
    status, held = b.call("POST", "/v1/stitches", body, token=SHARED)
    assert status == 201 and held["state"] == "held" and held["host"]["mac"] == "00:00:00:00:00:03"
    path = f"/v1/stitches/{held['id']}"
    assert b.call("GET", path, token=SHARED, template="/v1/stitches/{sid}")[1]["state"] == "held"
    b.api.service.tick(NOW + 31, check_paths=False)
    status, late = b.call(
        "POST", path + "/commit", token=SHARED, template="/v1/stitches/{sid}/commit"
    )
    assert status == 409 and late["error"]["code"] == "hold_expired"
    assert b.call("DELETE", path, token=SHARED, template="/v1/stitches/{sid}")[0] == 204


def test_tegus_reserve_stitches_to_a_peer_domain_named_as_a_project(
    sites: tuple[Client, Client],
) -> None:
    a, b = sites
    reply = tegu_post(a.api, "reserve 10M +600 h1,siteB/h3 cookie voice", "acme-token")
    (state,) = reply["reqstate"]
    assert state["status"] == "OK", state
    pledge = state["details"]
    assert pledge["host2"] == "siteB/h3" and pledge["label"] == 100
    _, theirs = b.call(
        "GET",
        f"/v1/reservations/{pledge['peer_id']}",
        None,
        "admin-token",
        "/v1/reservations/{rid}",
    )
    assert theirs["stitch"]["peer_reservation"] == pledge["id"]
    backwards = tegu_post(a.api, "reserve 10M +600 siteB/h3,h1 cookie voice", "acme-token")
    (refused,) = backwards["reqstate"]
    assert refused["status"] == "ERROR" and "name the local host first" in refused["comment"]


def test_tegus_cancelres_cancels_both_sides(sites: tuple[Client, Client]) -> None:
    a, b = sites
    made = tegu_post(a.api, "reserve 10M +600 h1,siteB/h3 cookie voice", "acme-token")
    pledge = made["reqstate"][0]["details"]
    (listed,) = tegu_post(a.api, "listres", "acme-token")["reqstate"]
    assert [p["id"] for p in listed["details"]["reservations"]] == [pledge["id"]]
    (state,) = tegu_post(a.api, f"cancelres {pledge['id']} cookie", "acme-token")["reqstate"]
    assert state["status"] == "OK", state
    path = f"/v1/reservations/{pledge['peer_id']}"
    _, theirs = b.call("GET", path, None, "admin-token", "/v1/reservations/{rid}")
    assert theirs["state"] == "cancelled"
