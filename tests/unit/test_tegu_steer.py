"""Tegu's ``steer`` on /tegu/api: the same chains as v1, listed, cancelled and checked like
Tegu's other commands (host-name tokens and projects included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tegu_ryu.api.wsgi import Api
from tegu_ryu.reservations.model import State

from .test_api import sample_api, tegu_post


def one(api: Api, body: str, header: str | None = "acme-token") -> dict[str, Any]:
    reply = tegu_post(api, body, header)
    (state,) = reply["reqstate"]
    return dict(state)


def test_a_steer_is_accepted_as_tegu_answered_and_listed_and_cancelled_with_its_cookie(
    tmp_path: Path,
) -> None:
    api = sample_api(tmp_path)
    made = one(api, "steer proto=tcp:80 +600 acme h1 h3 h2 secret")
    assert made["status"] == "OK", made
    assert made["comment"] == "steering reservation accepted; reservation has 1 middleboxes"
    details = made["details"]
    assert details["ptype"] == 1 and details["mbox_list"] == ["h2"]
    assert details["host1"] == "acme/h1:0" and details["host2"] == "acme/h3:80"
    assert details["protocol"] == "tcp:80" and details["state"] == "ACTIVE"
    rid = details["id"]
    listed = one(api, "listres")["details"]["reservations"]
    assert [p["id"] for p in listed if p["ptype"] == 1] == [rid]
    refused = one(api, f"cancelres {rid} wrong")
    assert refused["status"] == "ERROR" and "not authorised" in refused["comment"]
    assert one(api, f"cancelres {rid} secret")["status"] == "OK"
    assert not [p for p in one(api, "listres")["details"]["reservations"] if p["id"] == rid]
    assert api.controller.reservations.engine.reservations[rid].state is State.CANCELLED


def test_any_hosts_and_host_name_tokens(tmp_path: Path) -> None:
    api = sample_api(tmp_path)
    anywhere = one(api, "steer proto=udp:53 +600 acme L* h3 h2")
    assert anywhere["status"] == "OK" and anywhere["details"]["host1"] == "acme/L*:0"
    chain = api.controller.reservations.engine.reservations[anywhere["details"]["id"]]
    assert chain.src is None and chain.match.protocol == "udp" and chain.match.dst_port == 53
    tokened = one(api, "steer proto=tcp:22 +600 acme-token/acme h1 h3 h2", header=None)
    assert tokened["status"] == "OK", tokened  # the token in the project word authorises it
    assert api.controller.reservations.engine.reservations[tokened["details"]["id"]].owner == "acme"


def test_bad_steers_get_tegus_errors_and_store_nothing(tmp_path: Path) -> None:
    api = sample_api(tmp_path)
    for body, words in (
        ("steer +600 acme h1 h3", "incorrect number of parameters"),
        ("steer +600 globex h1 h3 h2", "invalid token/tenant pair"),
        ("steer +600 acme E* h3 h2", "E*"),
        ("steer +600 acme h1 h3 h1", "end of the chain"),
        ("steer +600 acme h1 h3 nobody", "nobody"),
        ("steer proto=icmp:1 +600 acme h1 h3 h2", "invalid protocol"),
        ("steer +600 bad/acme h1 h3 h2", "validation failed"),
    ):
        reply = one(api, body)
        assert reply["status"] == "ERROR" and words in reply["comment"], (body, reply)
    assert api.controller.reservations.engine.reservations == {}
