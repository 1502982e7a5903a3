"""Every JSON body, on every route that reads one, goes through the one strict parser.

Before, ``/tegu/mirrors/`` parsed with a plain ``json.loads``: a body of a
thousand ``[`` was a RecursionError (500) and ``NaN`` was taken. Now ``/v1``,
the peer endpoint ``/v1/stitches`` and ``/tegu/mirrors/`` all answer 400 for
either, and the peer client reads peers' answers the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from webob import Request

from tegu_ryu.stitching.peer_client import PeerClient, PeerUnreachable
from tegu_ryu.stitching.points import Peer
from tegu_ryu.strict_json import MAX_DEPTH, BadJson, parse_json

from .test_api import Client, sample_api
from .test_stitch_api import SHARED, WsgiLink, site

VALID = b'{"src": "h1", "dst": "h3", "bandwidth": "1M", "duration": 60'
HOSTILE = {
    "1000 arrays deep": b"[" * 1000 + b"]" * 1000,
    "1000 objects deep": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    f"{MAX_DEPTH + 1} deep": b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1),
    "NaN": VALID + b', "note": NaN}',
    "Infinity": VALID + b', "note": Infinity}',
    "-Infinity": VALID + b', "note": -Infinity}',
    "1e999": VALID + b', "note": 1e999}',
    "not UTF-8": b'{"src": "\xff"}',
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_parser_refuses_what_json_loads_takes_or_chokes_on(body: bytes) -> None:
    with pytest.raises(BadJson) as refused:
        parse_json(body)
    assert refused.value.status == 400 and refused.value.code == "bad_json"


def test_the_parser_takes_strict_json_up_to_the_depth_limit() -> None:
    assert parse_json(b"") is None
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert parse_json(b'{"a": [1, 2.5, {"b": null}]}') == {"a": [1, 2.5, {"b": None}]}


V1_ROUTES = [
    ("POST", "/v1/reservations", "acme-token"),
    ("PATCH", "/v1/reservations/r-anything", "acme-token"),
    ("PUT", "/v1/fences/acme", "admin-token"),
    ("PUT", "/v1/settings", "admin-token"),
    ("POST", "/v1/stitches", SHARED),
    ("PATCH", "/v1/stitches/s-anything", SHARED),
]


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
@pytest.mark.parametrize(("method", "path", "token"), V1_ROUTES)
def test_every_v1_route_with_a_body_answers_400_bad_json(
    tmp_path: Path, method: str, path: str, token: str, body: bytes
) -> None:
    client = site(tmp_path, "siteA", "siteB", WsgiLink(), range(100, 102))
    request = Request.blank(path, method=method, body=body)
    request.headers["Authorization"] = f"Bearer {token}"
    request.content_type = "application/json"
    response = request.get_response(client.api)
    assert response.status_int == 400, response.body
    assert json.loads(response.body)["error"]["code"] == "bad_json"
    assert client.api.controller.reservations.store.load().reservations == []


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_tegus_mirror_api_answers_400_bad_json_and_makes_nothing(
    tmp_path: Path, body: bytes
) -> None:
    if body.startswith(VALID):  # a mirror request that is good but for that one value
        body = b'{"end_time": "+600", "port": ["h1"], "output": "h2"' + body[len(VALID) :]
    api = sample_api(tmp_path)
    request = Request.blank("/tegu/mirrors/", method="POST", body=body)
    request.headers["X-Auth-Tegu"] = "acme-token"
    request.content_type = "application/json"
    response = request.get_response(api)
    assert response.status_int == 400, response.body
    assert json.loads(response.body)["error"].startswith("Bad JSON: ")
    assert api.controller.reservations.store.load().reservations == []


class _Answer:
    """What ``urlopen`` gives back: a body to read, as a context manager."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def read(self) -> bytes:
        return self.body


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_peers_hostile_answer_is_no_answer(monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
    monkeypatch.setattr("urllib.request.urlopen", lambda *args, **kw: _Answer(body))
    peer = Peer("siteB", "http://127.0.0.1:1", SHARED)
    with pytest.raises(PeerUnreachable):
        PeerClient(1.0).commit(peer, "s-1")


def test_the_stitching_endpoint_without_a_token_is_401_with_a_challenge(tmp_path: Path) -> None:
    client: Client = site(tmp_path, "siteA", "siteB", WsgiLink(), range(100, 102))
    for header in (None, "Bearer nobody's", "Basic " + SHARED):
        request = Request.blank("/v1/stitches", method="POST", body=b"{}")
        if header is not None:
            request.headers["Authorization"] = header
        response = request.get_response(client.api)
        assert response.status_int == 401, header
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="tegu_ryu"'
        assert json.loads(response.body)["error"]["code"] == "unauthorized"
