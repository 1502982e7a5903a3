"""Tegu's mirror API (/tegu/mirrors/): Tegu's requests, statuses and words, on v1's mirrors."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from webob import Request

from tegu_ryu.api.wsgi import Api
from tegu_ryu.reservations.mirror_admission import MirrorSettings
from tegu_ryu.reservations.mirror_requests import TunnelRequest

from .test_api import NOW, sample_api


class Tegu:
    def __init__(self, api: Api) -> None:
        self.api = api

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = "acme-token"
    ) -> tuple[int, Any]:
        request = Request.blank(path, method=method)
        if body is not None:
            request.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        if token is not None:
            request.headers["X-Auth-Tegu"] = token
        response = request.get_response(self.api)
        return response.status_int, json.loads(response.body) if response.body else None


@pytest.fixture
def tegu(tmp_path: Path) -> Iterator[Tegu]:
    yield Tegu(sample_api(tmp_path, super_cookie="super"))


def add(tegu: Tegu, token: str = "acme-token", **fields: Any) -> tuple[int, Any]:
    body = {"end_time": "+600", "port": ["h1"], "output": "h2", **fields}
    return tegu.call("POST", "/tegu/mirrors/", body, token=token)


def test_add_list_show_and_delete_as_tegu_did(tegu: Tegu) -> None:
    status, made = add(tegu, vlan="7,8")
    assert status == 201
    (entry,) = made
    name = entry["name"]
    assert name == f"mir-{int(NOW):x}"
    assert entry == {
        "name": name,
        "port": ["h1"],
        "url": f"http://localhost/tegu/mirrors/{name}/",
    }
    assert tegu.call("GET", "/tegu/mirrors/") == (200, [{"name": name, "url": entry["url"]}])
    status, shown = tegu.call("GET", f"/tegu/mirrors/{name}/")
    assert status == 200
    assert shown["start_time"] == int(NOW) and shown["end_time"] == int(NOW) + 600
    assert (shown["port"], shown["output"], shown["vlan"]) == (["h1"], "h2", "7,8")
    assert shown["physical_host"] == "0000000000000001"
    assert (shown["active"], shown["pending"], shown["expired"]) == (True, False, False)
    assert shown["end_time_ascii"].count("/") == 2
    request = Request.blank("/v1/reservations?type=mirror")
    request.headers["Authorization"] = "Bearer acme-token"
    listed = json.loads(request.get_response(tegu.api).body)["reservations"]
    assert [(m["name"], m["vlan"], m["direction"]) for m in listed] == [(name, [7, 8], "both")]
    assert tegu.call("DELETE", f"/tegu/mirrors/{name}/") == (204, None)
    assert tegu.call("GET", "/tegu/mirrors/") == (200, [])
    assert tegu.call("GET", f"/tegu/mirrors/{name}/")[1]["expired"] is True


def test_a_cookie_hides_and_guards_a_mirror(tegu: Tegu) -> None:
    assert add(tegu, name="guarded", cookie="secret")[0] == 201
    assert tegu.call("GET", "/tegu/mirrors/") == (200, [])
    assert [m["name"] for m in tegu.call("GET", "/tegu/mirrors/?cookie=secret")[1]] == ["guarded"]
    assert tegu.call("GET", "/tegu/mirrors/guarded/") == (
        401,
        {"error": "Unauthorized: cookie not valid."},
    )
    assert tegu.call("DELETE", "/tegu/mirrors/guarded/?cookie=nope") == (
        401,
        {"error": "Unauthorized."},
    )
    assert tegu.call("GET", "/tegu/mirrors/guarded/?cookie=super")[0] == 200
    assert tegu.call("DELETE", "/tegu/mirrors/guarded/?cookie=secret") == (204, None)


def test_other_tenants_and_missing_tokens_are_refused_in_tegus_words(tegu: Tegu) -> None:
    assert add(tegu, name="mine")[0] == 201
    assert tegu.call("GET", "/tegu/mirrors/mine/", token="globex-token") == (
        404,
        {"error": "Not found."},
    )  # Tegu said 401, which told another tenant the name was in use
    assert tegu.call("GET", "/tegu/mirrors/", token="globex-token") == (200, [])
    status, body = tegu.call("GET", "/tegu/mirrors/", token=None)
    assert status == 405 and "tegu_mirror role" in body["error"]
    assert tegu.call("GET", "/tegu/mirrors/", token="forged")[0] == 401
    assert tegu.call("GET", "/tegu/mirrors/nothing/") == (404, {"error": "Not found."})
    assert tegu.call("PUT", "/tegu/mirrors/", {}) == (
        405,
        {"error": "PUT /tegu/mirrors/ requests are unsupported"},
    )


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"port": []}, "Missing a required field."),
        ({"end_time": ""}, "Missing a required field."),
        ({"vlan": "5000"}, "VLAN id is out of range: 5000"),
        ({"name": "two words"}, "Invalid mirror name: two words"),
        ({"end_time": "+30"}, "is less than the minimum interval (60)"),
        ({"start_time": str(int(NOW) + 100), "end_time": str(int(NOW) + 50)}, "<= start_time"),
        ({"options": "flowmod,bogus"}, "Invalid option: bogus"),
        ({"port": ["nowhere"]}, "No valid ports found."),
        ({"output": "label:nowhere"}, "output label:nowhere: no such label (mirror_label)"),
        ({"output": "gre:nowhere"}, "not a host or DPID:PORT of this network, an IP address"),
        ({"end_time": 600}, "Bad JSON"),
    ],
)
def test_bad_requests_get_400_and_change_nothing(
    tegu: Tegu, fields: dict[str, Any], words: str
) -> None:
    status, body = add(tegu, **fields)
    assert status == 400 and words in body["error"], body
    assert tegu.call("GET", "/tegu/mirrors/") == (200, [])
    assert tegu.call("POST", "/tegu/mirrors/", b"{not json")[1]["error"].startswith("Bad JSON")


def test_ports_on_two_switches_make_two_mirrors_and_bad_ports_are_reported(tegu: Tegu) -> None:
    status, made = add(
        tegu, token="admin-token", name="wide", port=["h1", "h4", "ghost"], output="h3"
    )
    assert status == 201
    assert [(m["name"], m["port"]) for m in made] == [
        ("wide_0", ["h1"]),
        ("wide_1", ["h4"]),
        ("_badports_", ["ghost"]),
    ]
    assert made[-1]["error"] == "Invalid ports found."
    assert all("url" in m for m in made[:2])
    status, again = add(tegu, token="admin-token", name="wide_0", output="h3")
    assert status == 201 and "is in use" in again[0]["error"] and "url" not in again[0]


def test_unbounded_lasts_the_configured_maximum(tegu: Tegu) -> None:
    assert add(tegu, name="forever", end_time="unbounded")[0] == 201
    shown = tegu.call("GET", "/tegu/mirrors/forever/")[1]
    assert shown["end_time"] == int(NOW + 365 * 86400)


def test_an_address_or_a_label_tunnels_the_copies_where_the_operator_allows(
    tmp_path: Path,
) -> None:
    settings = MirrorSettings(
        allowed_remotes=(ipaddress.ip_network("10.99.0.0/24"),),
        labels={"lab": TunnelRequest("vxlan", "10.99.0.5", 77)},
    )
    tegu = Tegu(sample_api(tmp_path, mirrors=settings))
    assert add(tegu, name="far", output="10.99.0.3")[0] == 201
    assert add(tegu, "admin-token", name="labelled", output="label:lab", port=["h3"])[0] == 201
    assert tegu.call("GET", "/tegu/mirrors/far/")[1]["output"] == "gre:10.99.0.3"
    shown = tegu.call("GET", "/tegu/mirrors/labelled/", token="admin-token")[1]
    assert shown["output"] == "vxlan:10.99.0.5"
    status, refused = add(tegu, "admin-token", name="far2", output="192.0.2.1", port=["h4"])
    assert status == 201 and "mirror_allowed_remotes" in refused[0]["error"]
    request = Request.blank("/v1/reservations?type=mirror")
    request.headers["Authorization"] = "Bearer admin-token"
    listed = json.loads(request.get_response(tegu.api).body)["reservations"]
    tunnels = {m["name"]: m["output"] for m in listed}
    assert tunnels["far"]["tunnel"] == "gre" and tunnels["far"]["key"] is None
    assert tunnels["labelled"]["tunnel"] == "vxlan" and tunnels["labelled"]["key"] == 77
    assert tunnels["far"]["port"] != tunnels["labelled"]["port"]  # one port number each
