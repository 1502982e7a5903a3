"""Input an attacker or a careless client sends: a clear 4xx, nothing stored, nobody else hurt.

Every case here answered 500 (or worse, stored something) before the
hardening issue; each request goes through the real WSGI application.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from webob import Request

from tegu_ryu.api.wsgi import Api
from tegu_ryu.assembly import assemble_controller
from tegu_ryu.auth import Authenticator
from tegu_ryu.controller import ControllerSettings
from tegu_ryu.reservations.requests import parse_reservation
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.capacity import CapacityPolicy

from .test_api import NOW, STATIC, TOKENS, Client, client, reserve

__all__ = ["client"]  # the fixture, imported for pytest


def tegu(client: Client, body: str, token: str | None = "acme-token") -> dict[str, Any]:
    """A /tegu/api call: always HTTP 200 with the Tegu envelope."""
    request = Request.blank("/tegu/api", method="POST", body=body.encode())
    if token:
        request.headers["X-Auth-Tegu"] = token
    response = request.get_response(client.api)
    assert response.status_int == 200, response.body
    reply: dict[str, Any] = json.loads(response.body)
    return reply


PAIR = b'{"src": "h1", "dst": "h3", '
BODY = PAIR + b'"bandwidth": "1M", '


def nothing_stored(client: Client) -> None:
    status, listed = client.call("GET", "/v1/reservations", token="admin-token")
    assert status == 200 and listed == {"reservations": [], "next": None}
    assert client.api.controller.reservations.store.load().reservations == []


@pytest.mark.parametrize(
    "window", ["+inf", "+nan", "nan-inf", "+1e400", f"{NOW:.0f}-inf", "inf", "-inf", "+-5", "+1e-9"]
)
def test_a_tegu_window_without_a_finite_end_is_refused_and_stores_nothing(
    client: Client, window: str
) -> None:
    reply = tegu(client, f"reserve 1k {window} h1,h4 c voice")
    assert reply["endstate"]["status"] == "ERROR"
    assert (
        "window" in reply["reqstate"][0]["comment"] or "expired" in reply["reqstate"][0]["comment"]
    )
    nothing_stored(client)
    listres = tegu(client, "listres", token="admin-token")
    assert listres["reqstate"][0]["details"] == {"reservations": []}


def test_a_tegu_window_further_than_100_years_is_refused_like_v1(client: Client) -> None:
    reply = tegu(client, f"reserve 1k +{200 * 365 * 86400} h1,h4 c voice")
    assert "100 years" in reply["reqstate"][0]["comment"]
    status, error = reserve(client, duration=200 * 365 * 86400)
    assert status == 400 and "100 years" in error["error"]["message"]
    nothing_stored(client)


def test_a_reply_that_cannot_be_built_leaves_nothing_stored(client: Client) -> None:
    service = client.api.controller.reservations
    request = parse_reservation({"src": "h1", "dst": "h3", "bandwidth": "1M", "duration": 60}, NOW)

    def broken_reply(reservation: object) -> object:
        raise RuntimeError("the view failed")

    with pytest.raises(RuntimeError):
        service.admit(Principal("acme", admin=False), request, NOW, broken_reply)
    nothing_stored(client)
    assert service.engine.ledger.booked_links() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (BODY + b'"duration": NaN}', None),
        (BODY + b'"duration": Infinity}', None),
        (BODY + b'"duration": -Infinity}', None),
        (BODY + b'"duration": 1e400}', None),
        (
            BODY + b'"duration": 1' + b"0" * 400 + b"}",
            "duration",
        ),
        (BODY + b'"duration": 1e-9}', "duration"),
        (BODY + b'"duration": 1' + b"0" * 5000 + b"}", None),
        (BODY + b'"start": 1e300, "duration": 5}', "start"),
        (BODY + b'"end": 1' + b"0" * 400 + b"}", "end"),
        (BODY + b'"end": "inf"}', "end"),
        (BODY + b'"end": "nan"}', "end"),
        (
            BODY + b'"end": "0001-01-01T00:00:00+23:59"}',
            "end",
        ),
        (
            b'{"src": "h1", "dst": "h3", "bandwidth": "1180591620717411303424", "duration": 5}',
            "bandwidth",
        ),
        (
            b'{"src": "h1", "dst": "h3", "bandwidth": 1180591620717411303424, "duration": 5}',
            "bandwidth",
        ),
        (b"[" * 100_000 + b"]" * 100_000, None),
        (b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, None),
    ],
)
def test_numbers_no_float_can_hold_are_400(client: Client, body: bytes, field: str | None) -> None:
    status, error = client.call("POST", "/v1/reservations", body)
    assert status == 400, error
    if field is None:
        assert error["error"]["code"] == "bad_json"
    else:
        assert error["error"]["details"]["field"] == field
    nothing_stored(client)


@pytest.mark.parametrize(
    "change",
    [
        b'{"end": NaN}',
        b'{"end": 1e400}',
        b'{"end": "Infinity"}',
        b'{"end": 1' + b"0" * 400 + b"}",
        b'{"bandwidth": 1e400}',
        b'{"bandwidth": "99T"}',
    ],
)
def test_a_patch_with_impossible_numbers_is_400_and_changes_nothing(
    client: Client, change: bytes
) -> None:
    _, made = reserve(client, "1M")
    path = f"/v1/reservations/{made['id']}"
    status, error = client.call("PATCH", path, change, template="/v1/reservations/{rid}")
    assert status == 400, error
    after = client.call("GET", path, template="/v1/reservations/{rid}")[1]
    assert (after["end"], after["bandwidth"]) == (made["end"], made["bandwidth"])


@pytest.mark.parametrize(
    "query",
    [
        "duration=nan",
        "duration=inf",
        "duration=1e400",
        "duration=-1",
        "duration=0.0000000001",
        "start=inf&duration=60",
        "end=nan",
        "end=1e300",
        "duration=1" + "0" * 5000,
        "duration=60&end=1e9",
    ],
)
def test_availability_questions_with_impossible_times_are_400(client: Client, query: str) -> None:
    status, error = client.call("GET", f"/v1/availability?src=h1&dst=h3&{query}")
    assert status == 400 and error["error"]["code"] == "invalid_field", error


@pytest.mark.parametrize("query", ["from=inf", "to=nan", "to=1e300", "from=-1e300", "from=1e20"])
def test_schedule_windows_out_of_reach_are_400(client: Client, query: str) -> None:
    status, error = client.call(
        "GET",
        f"/v1/links/0000000000000001:3/0000000000000002:3/schedule?{query}",
        template="/v1/links/{src}/{dst}/schedule",
    )
    assert status == 400 and error["error"]["code"] == "invalid_field", error


@pytest.mark.parametrize(
    ("path", "query"),
    [(b"/v1/reservations/\xff\xfe", b""), (b"/v1/reservations", b"state=\xff"), (b"/\xc3", b"")],
)
def test_a_path_or_query_that_is_not_utf8_is_a_json_400(
    client: Client, path: bytes, query: bytes
) -> None:
    request = Request.blank("/", headers={"Authorization": "Bearer acme-token"})
    request.environ["PATH_INFO"] = path.decode("latin-1")  # as PEP 3333 servers pass it
    request.environ["QUERY_STRING"] = query.decode("latin-1")
    response = request.get_response(client.api)
    assert (response.status_int, response.content_type) == (400, "application/json")
    assert json.loads(response.body)["error"]["code"] == "bad_request"


def test_head_answers_like_get_without_a_body(client: Client) -> None:
    for path in ("/v1/health", "/v1/openapi.json", "/v1/reservations", "/v1/topology"):
        get = Request.blank(path, headers={"Authorization": "Bearer acme-token"})
        head = Request.blank(path, method="HEAD", headers={"Authorization": "Bearer acme-token"})
        full, bare = get.get_response(client.api), head.get_response(client.api)
        assert bare.status_int == full.status_int == 200
        assert bare.body == b"" and bare.content_length == len(full.body)


@pytest.mark.parametrize(
    ("hosts", "why"),
    [
        ("h1,h2:1180591620717411303424", "invalid host name"),
        ("h1,h2:70000", "port 70000"),
        ("h1{99999},h2", "invalid host name"),
        ("h1{5000},h2", "VLAN 5000"),
        ("h1{0},h2", "VLAN 0"),
        ("h1:0x1ffff,h2", "port 131071"),
    ],
)
def test_tegu_ports_and_vlans_out_of_range_are_refused(
    client: Client, hosts: str, why: str
) -> None:
    reply = tegu(client, f"reserve 1M +60 {hosts} c voice")
    assert reply["endstate"]["status"] == "ERROR" and why in reply["reqstate"][0]["comment"]
    nothing_stored(client)


def test_a_tegu_port_with_a_leading_zero_is_decimal(client: Client) -> None:
    reply = tegu(client, "reserve 1M +60 h1:0123,h3 c voice")
    assert reply["endstate"]["status"] == "OK", reply
    assert reply["reqstate"][0]["details"]["host1"].endswith(":123")


@pytest.mark.parametrize("level", ["²", "٣", "1.5", "-1", ""])
def test_verbose_with_a_level_that_is_not_a_plain_number_is_refused(
    client: Client, level: str
) -> None:
    reply = tegu(client, f"verbose {level}", token="admin-token")
    assert reply["reqstate"][0]["status"] == "ERROR"
    assert reply["reqstate"][0]["comment"].startswith("missing parameters")


def test_tegu_command_lines_are_bounded_and_split_in_linear_time(client: Client) -> None:
    long_line = tegu(client, "reserve " + "a" * 1_000_000)
    assert "command too long" in long_line["reqstate"][0]["comment"]
    unclosed = tegu(client, 'reserve 1M +60 "h1,h3 c voice')
    assert "no closing quotation" in unclosed["reqstate"][0]["comment"]
    many = tegu(client, "ping\n" * 1001)
    assert "too many commands" in many["reqstate"][0]["comment"]
    assert len(tegu(client, "ping\n" * 1000)["reqstate"]) == 1000


def test_listconns_needs_a_token_in_token_mode(client: Client) -> None:
    refused = tegu(client, "listconns h1", token=None)
    assert refused["reqstate"][0]["status"] == "ERROR"
    assert "00:00:00:00:00:01" not in json.dumps(refused)
    bad = tegu(client, "listconns h1", token="not-a-token")
    assert bad["reqstate"][0]["status"] == "ERROR"
    allowed = tegu(client, "listconns h1")
    assert allowed["reqstate"][0]["details"]["host"]["mac"] == "00:00:00:00:00:01"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/fences/acme", {"bps": 2**70}, 400),
        ("/v1/fences/acme", {"bps": "1180591620717411303424"}, 400),
        ("/v1/fences/acme", {"bps": "5T"}, 400),
        ("/v1/fences/acme", {"percent": 1e400}, 400),
        ("/v1/fences/acme", {"percent": 10**400}, 400),
        ("/v1/fences/acme", {"percent": "5"}, 400),
        ("/v1/settings", {"alarm_percent": 10**400}, 400),
        ("/v1/settings", {"headroom_percent": -(10**400)}, 400),
        ("/v1/settings", {"default_fence": {"percent": 10**400}}, 400),
        ("/v1/fences/acme", {"bps": 0}, 200),
        ("/v1/fences/acme", {"bps": "0"}, 200),
        ("/v1/settings", {"discount": 2**70}, 400),
        ("/v1/settings", {"discount": "1e999%"}, 400),
        ("/v1/settings", {"discount": ""}, 400),
        ("/v1/settings", {"discount": 0}, 200),
        ("/v1/settings", {"discount": "0"}, 200),
        ("/v1/settings", {"default_fence": {"bps": 0}}, 200),
    ],
)
def test_admin_settings_take_only_sane_values_as_the_document_says(
    client: Client, path: str, body: dict[str, Any], status: int
) -> None:
    template = "/v1/fences/{tenant}" if path.startswith("/v1/fences/") else path
    got, answer = client.call("PUT", path, body, token="admin-token", template=template)
    assert got == status, answer


def test_pages_follow_a_cursor_without_repeats_or_gaps(client: Client) -> None:
    for port in range(1, 8):
        reserve(client, "1M", dst_port=port, protocol="tcp")
    made = [r["id"] for r in client.call("GET", "/v1/reservations")[1]["reservations"]]
    assert len(made) == 7
    seen: list[str] = []
    cursor = ""
    while True:
        status, page = client.call("GET", f"/v1/reservations?limit=3{cursor}")
        assert status == 200 and len(page["reservations"]) <= 3
        seen += [r["id"] for r in page["reservations"]]
        if page["next"] is None:
            break
        client.call("DELETE", f"/v1/reservations/{made[0]}", template="/v1/reservations/{rid}")
        cursor = f"&cursor={page['next']}"
    assert seen == made
    too_long = ("limit=" + "1" * 5000, "cursor=" + "A" * 300)
    for bad in ("limit=0", "limit=10001", "limit=x", "limit=%D9%A3", "cursor=%%%", *too_long):
        status, error = client.call("GET", f"/v1/reservations?{bad}")
        assert status == 400 and error["error"]["details"]["field"] in {"limit", "cursor"}


def test_listing_by_enforcement_tests_only_until_the_page_is_full(client: Client) -> None:
    """No switch is connected here: live reservations are pending, later ones scheduled."""
    later = [
        reserve(client, "1M", dst_port=port, protocol="tcp", start=NOW + 600)[1]["id"]
        for port in (1, 2)
    ]
    live = [reserve(client, "1M", dst_port=port, protocol="tcp")[1]["id"] for port in (3, 4, 5)]
    listed = [r["id"] for r in client.call("GET", "/v1/reservations")[1]["reservations"]]
    status, page = client.call("GET", "/v1/reservations?enforcement=pending&limit=1")
    assert status == 200
    assert [r["id"] for r in page["reservations"]] == [i for i in listed if i in live][:1]
    assert page["next"] is not None  # stopped at the first found; more are left to test
    seen, cursor = [], ""
    while True:
        status, page = client.call("GET", f"/v1/reservations?enforcement=scheduled&limit=1{cursor}")
        assert status == 200
        seen += [r["id"] for r in page["reservations"]]
        if page["next"] is None:
            break
        cursor = f"&cursor={page['next']}"
    assert seen == [i for i in listed if i in later]
    status, page = client.call("GET", "/v1/reservations?enforcement=installed")
    assert status == 200 and page == {"reservations": [], "next": None}
    status, error = client.call("GET", "/v1/reservations?enforcement=done")
    assert status == 400 and error["error"]["details"]["field"] == "enforcement"
    assert "scheduled, pending, installed" in error["error"]["message"]


def test_wait_is_bounded_and_answers_at_once_when_there_is_nothing_to_wait_for(
    client: Client,
) -> None:
    """No switch is connected here: a live reservation stays pending for the whole wait."""
    for bad in ("-1", "31", "x", "nan", "inf", "1" * 30):
        status, error = client.call("POST", f"/v1/reservations?wait={bad}", {})
        assert status == 400 and error["error"]["details"]["field"] == "wait", bad
    nothing_stored(client)
    began = time.monotonic()
    status, later = reserve(client, "1M", start=NOW + 600)
    status, later = client.call(
        "GET", f"/v1/reservations/{later['id']}?wait=5", template="/v1/reservations/{rid}"
    )
    assert status == 200 and later["enforcement"]["status"] == "scheduled"
    assert time.monotonic() - began < 2  # scheduled: nothing to wait for
    body = {"src": "h1", "dst": "h3", "bandwidth": "1M", "duration": 60, "protocol": "udp"}
    began = time.monotonic()
    status, live = client.call("POST", "/v1/reservations?wait=0.3", body)
    assert status == 201 and live["enforcement"]["status"] == "pending"
    assert time.monotonic() - began >= 0.3


def test_waiting_clients_never_take_every_server_thread(tmp_path: Path) -> None:
    settings = ControllerSettings(
        capacity=CapacityPolicy(), state_dir=str(tmp_path / "state"), static_topology=STATIC
    )
    controller = assemble_controller(settings, now=NOW)
    client = Client(Api(controller, Authenticator(TOKENS), clock=lambda: NOW, max_waiting=1))
    made = reserve(client, "1M", protocol="udp")[1]
    path = f"/v1/reservations/{made['id']}?wait=2"
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(client.call, "GET", path, None, "acme-token", "/v1/reservations/{rid}")
        while not first.done() and client.api._waiting._value:  # the first one is waiting
            time.sleep(0.001)
        began = time.monotonic()
        status, answer = client.call("GET", path, template="/v1/reservations/{rid}")
        assert status == 200 and answer["enforcement"]["status"] == "pending"
        assert time.monotonic() - began < 1  # answered at once: the one waiting slot is taken
        assert first.result(10)[0] == 200


def test_a_reservation_that_cannot_be_shown_does_not_take_the_listing_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = ControllerSettings(
        capacity=CapacityPolicy(), state_dir=str(tmp_path / "state"), static_topology=STATIC
    )
    api = Api(assemble_controller(settings, now=NOW), Authenticator(TOKENS), clock=lambda: NOW)
    client = Client(api)
    first = reserve(client, "1M", protocol="tcp")[1]
    second = reserve(client, "1M", protocol="udp")[1]
    shown = api._reservation

    def flaky(reservation: Any, *known: Any) -> dict[str, Any]:
        if reservation.id == first["id"]:
            raise ValueError("cannot render")
        return shown(reservation, *known)

    monkeypatch.setattr(api, "_reservation", flaky)
    status, tenant_view = client.call("GET", "/v1/reservations")
    assert status == 200 and [r["id"] for r in tenant_view["reservations"]] == [second["id"]]
    assert "damaged" not in tenant_view
    status, admin_view = client.call("GET", "/v1/reservations", token="admin-token")
    assert [d["id"] for d in admin_view["damaged"]] == [first["id"]]
