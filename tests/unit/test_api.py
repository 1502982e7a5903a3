"""The REST API in-process: shapes match the OpenAPI document, every error is JSON with a code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema.exceptions import ValidationError
from openapi_spec_validator import validate as validate_spec
from webob import Request

from tegu_ryu import __version__
from tegu_ryu.api.wsgi import Api, load_openapi
from tegu_ryu.assembly import assemble_controller
from tegu_ryu.auth import Authenticator
from tegu_ryu.controller import ControllerSettings
from tegu_ryu.reservations.mirror_admission import MirrorSettings
from tegu_ryu.reservations.requests import parse_reservation
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.refs import PortRef

from ..openapi import validate_response

STATIC = str(Path(__file__).resolve().parents[2] / "conf" / "static-topology.json")
NOW = 1_800_000_000.0
TOKENS = {
    "admin-token": Principal("ops", admin=True),
    "acme-token": Principal("acme", admin=False),
    "globex-token": Principal("globex", admin=False),
}


class Client:
    def __init__(self, api: Api) -> None:
        self.api = api

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = "acme-token",
        template: str | None = None,
    ) -> tuple[int, Any]:
        request = Request.blank(path, method=method)
        if body is not None:
            request.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        response = request.get_response(self.api)
        assert response.content_type == "application/json" or response.status_int == 204
        parsed = json.loads(response.body) if response.body else None
        route = template or path.split("?", maxsplit=1)[0]
        if route in self.api.openapi_document["paths"]:
            validate_response(self.api.openapi_document, route, method, response.status_int, parsed)
        else:
            assert response.status_int >= 400
        assert response.status_int != 500, parsed
        return response.status_int, parsed


def sample_api(
    tmp_path: Path,
    now: float = NOW,
    super_cookie: str | None = None,
    reset_dscp: bool = False,
    mirrors: MirrorSettings | None = None,
) -> Api:
    """The API on the sample static topology, with TOKENS, a fresh state and a fixed clock."""
    settings = ControllerSettings(
        capacity=CapacityPolicy(),
        state_dir=str(tmp_path / "state"),
        static_topology=STATIC,
        reset_dscp=reset_dscp,
        mirrors=mirrors or MirrorSettings(),
    )
    controller = assemble_controller(settings, now=now)
    return Api(controller, Authenticator(TOKENS), clock=lambda: now, super_cookie=super_cookie)


def tegu_post(api: Api, body: str, header: str | None) -> dict[str, Any]:
    """A ``/tegu/api`` request (``header``: X-Auth-Tegu) and its envelope."""
    request = Request.blank("/tegu/api", method="POST", body=body.encode())
    if header is not None:
        request.headers["X-Auth-Tegu"] = header
    reply: dict[str, Any] = json.loads(request.get_response(api).body)
    return reply


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    yield Client(sample_api(tmp_path))


def reserve(
    client: Client, bandwidth: Any = "30M", token: str = "acme-token", **fields: Any
) -> tuple[int, Any]:
    body = {"src": "h1", "dst": "h3", "bandwidth": bandwidth, "duration": 3600, **fields}
    return client.call("POST", "/v1/reservations", body, token=token)


def test_the_openapi_document_is_valid() -> None:
    validate_spec(load_openapi())


def test_health_and_openapi_are_public(client: Client) -> None:
    status, body = client.call("GET", "/v1/health", token=None)
    assert status == 200 and body == {
        "status": "ok",
        "version": __version__,
        "switches": 0,
        "storage": {"writable": True, "problem": None},
    }
    status, body = client.call("GET", "/v1/openapi.json", token=None)
    assert status == 200 and body["info"]["version"] == __version__


def test_topology_follows_the_static_file(client: Client) -> None:
    status, body = client.call("GET", "/v1/topology")
    assert status == 200
    assert [s["dpid"] for s in body["switches"]] == [
        "0000000000000001",
        "0000000000000002",
        "0000000000000003",
    ]
    assert len(body["links"]) == 5 and {h["name"] for h in body["hosts"]} == {
        "h1",
        "h2",
        "h3",
        "h4",
    }


def test_the_schema_check_would_catch_a_wrong_shape(client: Client) -> None:
    with pytest.raises(ValidationError):
        validate_response(
            client.api.openapi_document,
            "/v1/health",
            "GET",
            200,
            {"status": "ok", "switches": "two"},
        )


def test_a_reservation_round_trip(client: Client) -> None:
    status, created = reserve(client, dscp="voice", protocol="tcp", dst_port=5001, name="backup")
    assert status == 201
    assert created["state"] == "active" and created["owner"] == "acme" and created["dscp"] == 46
    assert created["bandwidth"] == {"out": 30_000_000, "in": 30_000_000}
    assert [h["dpid"] for h in created["path"]["out"]] == ["0000000000000001", "0000000000000002"]
    status, fetched = client.call(
        "GET", f"/v1/reservations/{created['id']}", template="/v1/reservations/{rid}"
    )
    assert (status, fetched) == (200, created)
    status, listed = client.call("GET", "/v1/reservations?state=active")
    assert [r["id"] for r in listed["reservations"]] == [created["id"]]
    status, changed = client.call(
        "PATCH",
        f"/v1/reservations/{created['id']}",
        {"bandwidth": "40M"},
        template="/v1/reservations/{rid}",
    )
    assert status == 200 and changed["bandwidth"]["out"] == 40_000_000
    status, _ = client.call(
        "DELETE", f"/v1/reservations/{created['id']}", template="/v1/reservations/{rid}"
    )
    assert status == 204
    status, listed = client.call("GET", "/v1/reservations?state=cancelled")
    assert [r["id"] for r in listed["reservations"]] == [created["id"]]


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=1.7e9, max_value=2.1e9))
def test_a_reservation_starting_now_is_active_at_once(now: float) -> None:
    """Times kept to the microsecond must round down for real, or it waits for the next tick."""
    request = parse_reservation({"src": "h1", "dst": "h3", "bandwidth": "1M", "duration": 60}, now)
    assert 0 <= now - request.window.start < 2e-6


def test_the_instant_that_once_rounded_up_gives_an_active_reservation(tmp_path: Path) -> None:
    now = 1795753969.7762089  # floor(now * 1e6) / 1e6 is above now
    settings = ControllerSettings(
        capacity=CapacityPolicy(), state_dir=str(tmp_path / "state"), static_topology=STATIC
    )
    client = Client(
        Api(assemble_controller(settings, now=now), Authenticator(TOKENS), clock=lambda: now)
    )
    status, made = reserve(client)
    assert status == 201 and made["state"] == "active"


def test_a_full_link_gives_409_naming_it_and_cancelling_frees_it(client: Client) -> None:
    _, first = reserve(client)
    status, error = reserve(client, src="h2", protocol="udp")
    assert status == 409 and error["error"]["code"] == "no_capacity"
    details = error["error"]["details"]
    assert details["available_bps"] == 20_000_000 and details["requested_bps"] == 30_000_000
    assert details["link"] == {
        "src": {"dpid": "0000000000000002", "port": 3},
        "dst": {"dpid": "0000000000000001", "port": 3},
    }
    client.call("DELETE", f"/v1/reservations/{first['id']}", template="/v1/reservations/{rid}")
    status, _ = reserve(client, src="h2", protocol="udp")
    assert status == 201


def test_a_full_host_port_gives_409_naming_that_port(tmp_path: Path) -> None:
    h3_port = PortRef(2, 1)
    settings = ControllerSettings(
        capacity=CapacityPolicy(per_port={h3_port: 40_000_000}),
        state_dir=str(tmp_path / "state"),
        static_topology=STATIC,
    )
    client = Client(
        Api(assemble_controller(settings, now=NOW), Authenticator(TOKENS), clock=lambda: NOW)
    )
    assert reserve(client)[0] == 201
    status, error = reserve(client, "20M", src="h2")
    assert status == 409 and error["error"]["code"] == "no_capacity"
    assert "port 0000000000000002:1 down to its host" in error["error"]["message"]
    assert error["error"]["details"]["link"] == {
        "src": {"dpid": "0000000000000002", "port": 1},
        "dst": {"dpid": "0000000000000000", "port": 0},
    }
    assert error["error"]["details"]["available_bps"] == 10_000_000
    _, listed = client.call("GET", "/v1/reservations")
    assert len(listed["reservations"]) == 1


def test_a_patch_that_would_overbook_changes_nothing(client: Client) -> None:
    _, first = reserve(client)
    reserve(client, "15M", src="h2", protocol="udp")
    status, error = client.call(
        "PATCH",
        f"/v1/reservations/{first['id']}",
        {"bandwidth": "40M"},
        template="/v1/reservations/{rid}",
    )
    assert status == 409 and error["error"]["code"] == "no_capacity"
    _, after = client.call(
        "GET", f"/v1/reservations/{first['id']}", template="/v1/reservations/{rid}"
    )
    assert without_enforcement(after) == without_enforcement(first)


def test_tenants_only_see_and_touch_their_own(client: Client) -> None:
    _, mine = reserve(client)
    template = "/v1/reservations/{rid}"
    for method, body in (("GET", None), ("DELETE", None), ("PATCH", {"end": NOW + 10})):
        theirs = client.call(
            method, f"/v1/reservations/{mine['id']}", body, "globex-token", template
        )
        unknown = client.call(
            method, "/v1/reservations/r-000000000000", body, "globex-token", template
        )
        # Another tenant's reservation is answered exactly as one that does not exist.
        assert theirs[0] == unknown[0] == 404
        assert theirs[1]["error"]["message"].replace(mine["id"], "ID") == unknown[1]["error"][
            "message"
        ].replace("r-000000000000", "ID")
    assert client.call("GET", "/v1/reservations", token="globex-token")[1] == {
        "reservations": [],
        "next": None,
    }
    assert client.call("GET", "/v1/reservations?owner=acme", token="globex-token")[0] == 403
    listed = client.call("GET", "/v1/reservations?owner=acme", token="admin-token")[1]
    assert len(listed["reservations"]) == 1
    assert (
        client.call(
            "GET", f"/v1/reservations/{mine['id']}", token="admin-token", template=template
        )[0]
        == 200
    )
    assert (
        client.call("GET", f"/v1/reservations/{mine['id']}", template=template)[1]["state"]
        == "active"
    )


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "unauthorized"), ("wrong", "unauthorized")],
)
def test_requests_without_a_valid_token_get_401(
    client: Client, token: str | None, code: str
) -> None:
    status, body = client.call("GET", "/v1/reservations", token=token)
    assert status == 401 and body["error"]["code"] == code


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"bandwidth": "0"}, "bandwidth"),
        ({"bandwidth": "-5M"}, "bandwidth"),
        ({"bandwidth": "lots"}, "bandwidth"),
        ({"bandwidth": {"out": "10M", "in": "0"}}, "bandwidth.in"),
        ({"bandwidth": {"out": "10M", "sideways": "1M"}}, "bandwidth"),
        ({"duration": None, "end": NOW - 10}, "end"),
        ({"start": NOW + 100, "duration": None, "end": NOW + 50}, "end"),
        ({"duration": -1}, "duration"),
        ({"duration": None}, "end"),
        ({"end": NOW + 60}, "end"),
        ({"start": "tomorrow"}, "start"),
        ({"start": "2026-12-01T10:00:00"}, "start"),
        ({"protocol": "sctp"}, "protocol"),
        ({"protocol": "icmp", "dst_port": 80}, "dst_port"),
        ({"protocol": "tcp", "dst_port": 70000}, "dst_port"),
        ({"vlan": 5000}, "vlan"),
        ({"dscp": "gold"}, "dscp"),
        ({"dscp": 64}, "dscp"),
        ({"path": "scenic"}, "path"),
        ({"type": "multicast"}, "type"),
        ({"src": ""}, "src"),
        ({"colour": "blue"}, "colour"),
        ({"type": "oneway", "bandwidth": {"out": "1M", "in": "1M"}}, "bandwidth.in"),
        ({"dst": "h1"}, "dst"),
    ],
)
def test_bad_fields_are_400_naming_the_field_and_store_nothing(
    client: Client, fields: dict[str, Any], field: str
) -> None:
    body = {"src": "h1", "dst": "h3", "bandwidth": "10M", "duration": 3600, **fields}
    body = {k: v for k, v in body.items() if v is not None}
    status, error = client.call("POST", "/v1/reservations", body)
    assert status == 400, error
    assert error["error"]["code"] == "invalid_field" and error["error"]["details"]["field"] == field
    assert client.call("GET", "/v1/reservations")[1] == {"reservations": [], "next": None}


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b""])
def test_malformed_bodies_are_400(client: Client, body: bytes) -> None:
    status, error = client.call("POST", "/v1/reservations", body)
    assert status == 400 and error["error"]["code"] in {"bad_json", "bad_request"}


def test_unknown_endpoints_are_404(client: Client) -> None:
    status, error = reserve(client, dst="10.9.9.9")
    assert (
        status == 404
        and error["error"]["code"] == "unknown_endpoint"
        and error["error"]["details"]["field"] == "dst"
    )


def test_duplicates_are_409(client: Client) -> None:
    _, first = reserve(client, "1M")
    status, error = reserve(client, "1M", src="h3", dst="h1")
    assert (
        status == 409
        and error["error"]["code"] == "duplicate"
        and error["error"]["details"]["reservation"] == first["id"]
    )


def test_fences_and_settings_are_admin_business(client: Client) -> None:
    assert (
        client.call("PUT", "/v1/fences/acme", {"percent": 10}, template="/v1/fences/{tenant}")[0]
        == 403
    )
    assert client.call("PUT", "/v1/settings", {"headroom_percent": 10})[0] == 403
    assert client.call("GET", "/v1/fences")[0] == 403
    status, fence = client.call(
        "PUT",
        "/v1/fences/acme",
        {"percent": 10},
        token="admin-token",
        template="/v1/fences/{tenant}",
    )
    assert status == 200 and fence == {
        "tenant": "acme",
        "default": False,
        "percent": 10.0,
        "bps": None,
    }
    status, error = reserve(client, "6M")
    assert status == 409 and error["error"]["code"] == "fence"
    assert client.call("GET", "/v1/fences/acme", template="/v1/fences/{tenant}")[1]["percent"] == 10
    assert client.call("GET", "/v1/fences/globex", template="/v1/fences/{tenant}")[0] == 403
    assert (
        client.call(
            "DELETE", "/v1/fences/acme", token="admin-token", template="/v1/fences/{tenant}"
        )[0]
        == 204
    )
    assert reserve(client, "6M")[0] == 201
    status, settings = client.call(
        "PUT", "/v1/settings", {"headroom_percent": 50, "discount": "10%"}, token="admin-token"
    )
    assert status == 200 and settings["headroom_percent"] == 50 and settings["discount"] == "10%"
    assert (
        client.call("PUT", "/v1/settings", {"headroom_percent": 150}, token="admin-token")[0] == 400
    )
    assert client.call("PUT", "/v1/settings", {"speed": 1}, token="admin-token")[0] == 400
    assert (
        client.call(
            "PUT",
            "/v1/fences/acme",
            {"percent": 10, "bps": "1M"},
            token="admin-token",
            template="/v1/fences/{tenant}",
        )[0]
        == 400
    )


def test_availability_links_schedule_and_alarms(client: Client) -> None:
    reserve(client, "46M")
    status, available = client.call("GET", "/v1/availability?src=h1&dst=h3&duration=60")
    assert status == 200 and available["in"]["max_bps"] == 4_000_000  # only the 50M link back
    assert available["out"]["max_bps"] == 100_000_000  # via s3, the widest way out
    assert (
        client.call("GET", "/v1/availability?src=h1&duration=60", template="/v1/availability")[0]
        == 400
    )
    assert (
        client.call(
            "GET", "/v1/availability?src=h1&dst=nobody&duration=60", template="/v1/availability"
        )[0]
        == 404
    )
    status, links = client.call("GET", "/v1/links")
    busy = next(lk for lk in links["links"] if lk["src"] == {"dpid": "0000000000000001", "port": 3})
    assert busy["booked_now_bps"] == 46_000_000 and busy["usable_bps"] == 50_000_000
    template = "/v1/links/{src}/{dst}/schedule"
    status, schedule = client.call(
        "GET", "/v1/links/0000000000000001:3/0000000000000002:3/schedule", template=template
    )
    assert status == 200 and schedule["steps"][0]["free_bps"] == 4_000_000
    assert schedule["reservations"][0]["bps"] == 46_000_000
    assert (
        client.call(
            "GET", "/v1/links/0000000000000001:3/0000000000000003:9/schedule", template=template
        )[0]
        == 404
    )
    assert (
        client.call("GET", "/v1/links/nope/0000000000000002:3/schedule", template=template)[0]
        == 404
    )
    status, alarms = client.call("GET", "/v1/alarms")
    assert status == 200 and len(alarms["alarms"]) == 2  # both directions crossed 90 %
    assert client.call("GET", "/v1/alarms", token="globex-token")[1] == {"alarms": []}


def test_unknown_reservations_and_ended_ones(client: Client) -> None:
    template = "/v1/reservations/{rid}"
    assert client.call("GET", "/v1/reservations/r-nope", template=template)[0] == 404
    assert client.call("DELETE", "/v1/reservations/r-nope", template=template)[0] == 404
    _, created = reserve(client)
    client.call("DELETE", f"/v1/reservations/{created['id']}", template=template)
    status, error = client.call("DELETE", f"/v1/reservations/{created['id']}", template=template)
    assert status == 409 and error["error"]["code"] == "ended"
    assert (
        client.call(
            "PATCH", f"/v1/reservations/{created['id']}", {"end": NOW + 10}, template=template
        )[0]
        == 409
    )
    assert client.call("GET", "/v1/reservations?state=bogus")[0] == 400
    assert client.call("GET", "/v1/reservations?colour=red")[0] == 400


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/nothing", "/v2/health", "/v1/health/extra"])
def test_unknown_paths_are_json_404(client: Client, path: str) -> None:
    request = Request.blank(path)
    response = request.get_response(client.api)
    assert (response.status_int, response.content_type) == (404, "application/json")
    assert json.loads(response.body)["error"]["code"] == "not_found"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_wrong_methods_are_json_405_with_allow(client: Client, method: str) -> None:
    response = Request.blank("/v1/topology", method=method).get_response(client.api)
    assert response.status_int == 405 and response.headers["Allow"] == "GET, HEAD"
    assert json.loads(response.body)["error"]["code"] == "method_not_allowed"


def test_a_bug_is_a_json_500_and_logged(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("boom")

    client.api.controller.health = broken  # type: ignore[method-assign]
    response = Request.blank("/v1/health").get_response(client.api)
    assert (response.status_int, response.content_type) == (500, "application/json")
    assert json.loads(response.body)["error"]["code"] == "internal_error"
    assert "GET /v1/health" in caplog.text and "boom" in caplog.text


def without_enforcement(reservation: dict[str, Any]) -> dict[str, Any]:
    """The reservation itself, without what the switches hold of it (that changes on its own)."""
    return {k: v for k, v in reservation.items() if k != "enforcement"}


def test_a_mirror_goes_through_the_same_collection(client: Client) -> None:
    body = {"type": "mirror", "ports": ["h1"], "output": "h2", "duration": 600}
    status, made = client.call("POST", "/v1/reservations", body)
    assert status == 201, made
    assert (made["type"], made["direction"], made["bandwidth"]) == ("mirror", "both", None)
    assert made["ports"] == [{"given": "h1", "dpid": "0000000000000001", "port": 1}]
    assert made["path"] == [{"dpid": "0000000000000001", "in_port": 0, "out_port": 2}]
    rid = made["id"]
    path = f"/v1/reservations/{rid}"
    template = "/v1/reservations/{rid}"
    status, listed = client.call("GET", "/v1/reservations?type=mirror")
    assert status == 200 and [r["id"] for r in listed["reservations"]] == [rid]
    status, listed = client.call("GET", "/v1/reservations?type=bandwidth")
    assert status == 200 and listed["reservations"] == []
    status, changed = client.call(
        "PATCH", path, {"end": NOW + 1200, "bandwidth": "2M"}, template=template
    )
    assert status == 200 and changed["bandwidth"] == 2 * 10**6
    assert client.call("GET", path, token="globex-token", template=template)[0] == 404
    status, refused = client.call("POST", "/v1/reservations", {**body, "output": "h4"})
    assert status == 403 and refused["error"]["code"] == "forbidden"  # h4 is not acme's
    status, short = client.call("POST", "/v1/reservations", {**body, "duration": 5})
    assert status == 400 and short["error"]["details"]["field"] == "end"
    assert client.call("DELETE", path, template=template)[0] == 204
    assert client.call("GET", path, template=template)[1]["state"] == "cancelled"


def test_admins_mirror_any_port_to_a_collector_across_the_fabric(client: Client) -> None:
    body = {
        "type": "mirror",
        "ports": ["0000000000000001:2"],
        "direction": "egress",
        "output": "h4",
        "bandwidth": "5M",
        "duration": 600,
    }
    status, made = client.call("POST", "/v1/reservations", body, token="admin-token")
    assert status == 201, made
    assert made["path"] == [  # the one-way link s1 -> s3 is the shortest way
        {"dpid": "0000000000000001", "in_port": 0, "out_port": 4},
        {"dpid": "0000000000000003", "in_port": 4, "out_port": 1},
    ]
    assert 3000 <= made["tag"] <= 4094
