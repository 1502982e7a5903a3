"""Tegu's ``passthru`` on /tegu/api and ``"type": "passthru"`` on v1: the same reservations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tegu_ryu.api.wsgi import Api
from tegu_ryu.reservations.model import PassthruReservation, State
from tegu_ryu.timefmt import format_time

from .test_api import NOW, Client, sample_api, tegu_post


def one(api: Api, body: str, header: str | None = "acme-token") -> dict[str, Any]:
    (state,) = tegu_post(api, body, header)["reqstate"]
    return dict(state)


def test_a_passthru_is_accepted_listed_restored_and_cancelled_as_tegu_did(tmp_path: Path) -> None:
    api = sample_api(tmp_path, reset_dscp=True)
    made = one(api, "passthru proto=udp:10.0.0.1:53 +600 acme/h1 secret")
    assert made["status"] == "OK" and made["comment"] == "passthru reservation accepted", made
    details = made["details"]
    assert details["ptype"] == 4 and details["host"] == "acme/h1"
    assert details["protocol"] == "udp:53" and details["state"] == "ACTIVE"
    rid = details["id"]
    stored = api.controller.reservations.store.load().reservations
    (kept,) = [r for r in stored if r.id == rid]
    assert isinstance(kept, PassthruReservation) and kept.match.protocol == "udp"  # not lost
    assert [p["id"] for p in one(api, "listres")["details"]["reservations"]] == [rid]
    assert one(api, f"cancelres {rid} wrong")["status"] == "ERROR"
    assert one(api, f"cancelres {rid} secret")["status"] == "OK"
    assert api.controller.reservations.engine.reservations[rid].state is State.CANCELLED


def test_passthru_is_refused_with_tegus_words_when_it_means_nothing(tmp_path: Path) -> None:
    kept = sample_api(tmp_path / "keep")
    reply = one(kept, "passthru +600 acme/h1 c")
    assert reply["status"] == "ERROR" and "passthru reservations not allowed" in reply["comment"]
    api = sample_api(tmp_path / "reset", reset_dscp=True)
    admin = Client(api)
    fence = {"bps": 0}
    assert (
        admin.call(
            "PUT", "/v1/fences/acme", fence, token="admin-token", template="/v1/fences/{tenant}"
        )[0]
        == 200
    )
    reply = one(api, "passthru +600 acme/h1 c")
    assert reply["status"] == "ERROR" and "user link capacity <= 0" in reply["comment"]
    for body, words in (
        ("passthru +600", "incorrect number of parameters"),
        ("passthru proto=sctp +600 acme/h1", "invalid proto"),
        ("passthru +600 globex/h1", "invalid token/tenant pair"),
    ):
        reply = one(api, body)
        assert reply["status"] == "ERROR" and words in reply["comment"], (body, reply)
    assert api.controller.reservations.engine.reservations == {}


def test_proto_takes_any_address_as_tegu_did(tmp_path: Path) -> None:
    """``tegu_verification.ksh``: ``proto=udp:1.2.3.4:8800`` and ``proto=1.2.3.4:8800``."""
    api = sample_api(tmp_path, reset_dscp=True)
    for proto, protocol in (("udp:135.23.45.67:8800", "udp"), ("135.23.45.68:8800", "tcp")):
        made = one(api, f"passthru proto={proto} +600 acme/h1 c")
        assert made["status"] == "OK", made
        kept = api.controller.reservations.engine.reservations[made["details"]["id"]]
        assert isinstance(kept, PassthruReservation)
        assert (kept.match.protocol, kept.match.dst_port) == (protocol, 8800)
        assert kept.src_ip == proto.removeprefix("udp:").rpartition(":")[0]


def test_v1_passthru_with_the_documents_shapes(tmp_path: Path) -> None:
    client = Client(sample_api(tmp_path, reset_dscp=True))
    body = {"type": "passthru", "host": "h1", "protocol": "tcp", "dst_port": 22, "duration": 60}
    status, made = client.call("POST", "/v1/reservations", body)
    assert status == 201 and made["type"] == "passthru" and made["host"]["name"] == "h1", made
    status, refused = client.call("POST", "/v1/reservations", {**body, "host": "h3"})
    assert status == 403, refused  # not acme's host
    rid = made["id"]
    status, changed = client.call(
        "PATCH", f"/v1/reservations/{rid}", {"end": NOW + 120}, template="/v1/reservations/{rid}"
    )
    assert status == 200 and changed["end"] == format_time(NOW + 120), changed
    status, error = client.call(
        "PATCH", f"/v1/reservations/{rid}", {"bandwidth": "1M"}, template="/v1/reservations/{rid}"
    )
    assert status == 400 and error["error"]["details"]["field"] == "bandwidth"
    status, listed = client.call("GET", "/v1/reservations?type=passthru")
    assert [r["id"] for r in listed["reservations"]] == [rid]
