"""The OpenAPI document and the server agree: what one allows the other takes, and no more.

Each case is one schemathesis (positive_data_acceptance, negative_data_rejection)
found: a valid number of seconds refused, an integer written 360795.0 refused,
a rate over 4T the document's pattern took, empty query values and
``end`` with ``duration`` the document allowed, a padded discount and a fence
with a null the document forbade.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tegu_ryu.api.wsgi import Api, load_openapi
from tegu_ryu.assembly import assemble_controller
from tegu_ryu.auth import Authenticator
from tegu_ryu.controller import ControllerSettings
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.units import UnitError, parse_bitrate, rate_pattern

from .test_api import STATIC, Client, client, reserve

__all__ = ["client"]  # the fixture, imported for pytest

DOCUMENT = load_openapi()


def allowed(schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` is valid for ``schema`` (which may refer to the components)."""
    validator = Draft202012Validator({**schema, "components": DOCUMENT["components"]})
    return bool(validator.is_valid(value))


def component(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def query_schema(path: str, method: str, name: str) -> dict[str, Any]:
    (parameter,) = [p for p in DOCUMENT["paths"][path][method]["parameters"] if p["name"] == name]
    return dict(parameter["schema"])


def test_a_wait_written_as_any_valid_number_is_taken(client: Client) -> None:
    _, made = reserve(client)
    for wait in ("1.1456702451500557e-11", "0", "0.0", "1e-05", "3E%2B1", "0." + "0" * 40 + "1"):
        status, shown = client.call(
            "GET", f"/v1/reservations/{made['id']}?wait={wait}", template="/v1/reservations/{rid}"
        )
        assert status == 200, (wait, shown)
    for wait in ("", "nan", "1_0", "%205", "%2B5", "31", "-1", "0x1", "inf"):
        status, refused = client.call(
            "GET", f"/v1/reservations/{made['id']}?wait={wait}", template="/v1/reservations/{rid}"
        )
        assert status == 400 and refused["error"]["details"] == {"field": "wait"}, wait


def test_an_integer_written_with_a_fraction_of_zero_is_an_integer(client: Client) -> None:
    status, made = reserve(client, bandwidth=2e6, protocol="tcp", src_port=65535.0)
    assert status == 201, made
    assert made["bandwidth"]["out"] == 2_000_000 and made["match"]["src_port"] == 65535
    status, _ = reserve(client, bandwidth=2e6 + 0.5)
    assert status == 400
    status, changed = client.call(
        "PUT", "/v1/settings", b'{"discount": 360795.0}', token="admin-token"
    )
    assert status == 200 and changed["discount"] == "360.795K"


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("4 Ti", None),
        ("4T", 4 * 10**12),
        ("4.0000000000001T", None),
        ("3.63797880709171295166015625Ti", 4 * 10**12),
        ("3.6379788070917129516601562501Ti", None),
        ("0.001K", 1),
        ("0.0009K", 0),
        ("007Mbit/s", 7_000_000),
    ],
)
def test_the_documents_rate_pattern_is_exactly_what_the_server_takes(
    text: str, bps: int | None
) -> None:
    try:
        parsed: int | None = parse_bitrate(text)
    except UnitError:
        parsed = None
    assert parsed == bps
    assert allowed(component("RateText"), text) == (bps is not None)
    assert allowed(component("PositiveRateText"), text) == (bps is not None and bps >= 1)


NUMBER = st.one_of(
    st.text("0123456789", min_size=1, max_size=16),
    st.builds(
        "{}.{}".format,
        st.text("0123", min_size=1, max_size=5),
        st.text("0123456789", min_size=1, max_size=30),
    ),
)
RATE = st.builds(
    "{}{}{}{}{}".format,
    st.sampled_from(["", " "]),
    NUMBER,
    st.sampled_from(["", " "]),
    st.sampled_from(["", "K", "k", "M", "G", "T", "Ki", "ki", "Mi", "Gi", "Ti", "P"]),
    st.sampled_from(["", "bps", "bit/s", "b/s", " "]),
)


@settings(max_examples=500, deadline=None)
@given(RATE)
def test_any_rate_text_is_in_the_pattern_exactly_when_the_server_takes_it(text: str) -> None:
    try:
        bps: int | None = parse_bitrate(text)
    except UnitError:
        bps = None
    assert bool(re.search(rate_pattern(False), text)) == (bps is not None)
    assert bool(re.search(rate_pattern(True), text)) == (bps is not None and bps >= 1)


def test_the_document_refuses_the_query_values_and_bodies_the_server_refuses() -> None:
    assert not allowed(query_schema("/v1/reservations", "get", "cursor"), "")
    assert not allowed(query_schema("/v1/links/{src}/{dst}/schedule", "get", "to"), "")
    assert not allowed(query_schema("/v1/availability", "get", "end"), "")
    body = {"src": "h1", "dst": "h3", "bandwidth": "1M"}
    request = component("ReservationRequest")
    assert allowed(request, {**body, "duration": 60})
    assert allowed(request, {**body, "end": "2027-01-01T00:00:00Z"})
    assert not allowed(request, {**body, "end": 0, "duration": 60})
    assert not allowed(request, body)
    steer = {"type": "steering", "chain": ["h2"], "duration": 60}
    assert not allowed(request, {**steer, "src": "any", "dst": "any"})
    assert allowed(request, {**steer, "src": "h1", "dst": "any"})


def test_any_cursor_of_the_documented_form_is_a_place_in_the_listing(client: Client) -> None:
    cursor = query_schema("/v1/reservations", "get", "cursor")
    assert not allowed(cursor, "0" * 200) and not allowed(cursor, "0~f")
    for text in ("0~", "1800000000.5~722d31", "9" * 20 + "e+99~ff", "-1e-05~" + "00" * 96):
        assert allowed(cursor, text), text
        status, page = client.call("GET", f"/v1/reservations?cursor={quote(text)}")
        assert status == 200 and page == {"reservations": [], "next": None}, text
    for port in (1, 2):
        status, made = reserve(client, bandwidth="1M", protocol="tcp", dst_port=port)
        assert status == 201, made
    status, first = client.call("GET", "/v1/reservations?limit=1")
    assert allowed(cursor, first["next"])
    status, second = client.call("GET", f"/v1/reservations?limit=1&cursor={first['next']}")
    assert [r["id"] for r in first["reservations"] + second["reservations"]] == [
        r["id"] for r in client.call("GET", "/v1/reservations")[1]["reservations"]
    ]


def test_a_padded_discount_past_64_characters_is_refused_as_the_document_says(
    client: Client,
) -> None:
    padded = " 0 %" + " " * 61
    settings_body = DOCUMENT["paths"]["/v1/settings"]["put"]["requestBody"]
    schema = settings_body["content"]["application/json"]["schema"]
    assert not allowed(schema, {"discount": padded})
    status, refused = client.call("PUT", "/v1/settings", {"discount": padded}, token="admin-token")
    assert status == 400 and refused["error"]["details"] == {"field": "discount"}
    assert allowed(schema, {"discount": "100 %"}) and not allowed(schema, {"discount": "101%"})
    status, _ = client.call("PUT", "/v1/settings", {"discount": "101%"}, token="admin-token")
    assert status == 400


def test_a_fence_with_the_other_field_null_is_taken_and_documented(client: Client) -> None:
    fence = component("FenceValueIn")
    for body in ({"bps": "0", "percent": None}, {"percent": 10, "bps": None}, {"bps": 5}):
        assert allowed(fence, body), body
        status, _ = client.call(
            "PUT", "/v1/fences/acme", body, "admin-token", "/v1/fences/{tenant}"
        )
        assert status == 200, body
    for body in ({"bps": None, "percent": None}, {"bps": "1M", "percent": 10}, {}):
        assert not allowed(fence, body), body
        status, _ = client.call(
            "PUT", "/v1/fences/acme", body, "admin-token", "/v1/fences/{tenant}"
        )
        assert status == 400, body


def test_without_tokens_the_served_document_asks_for_none(tmp_path: Path) -> None:
    settings_ = ControllerSettings(
        capacity=CapacityPolicy(), state_dir=str(tmp_path / "s"), static_topology=STATIC
    )
    api = Api(assemble_controller(settings_, now=0.0), Authenticator(None))
    paths = api.openapi_document["paths"]
    assert paths["/v1/reservations"]["get"]["security"] == []
    assert paths["/v1/stitches"]["post"]["security"] == [{"peer": []}]
    assert DOCUMENT["paths"]["/v1/reservations"]["get"]["security"] == [{"bearer": []}]
