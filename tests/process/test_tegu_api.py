"""Tegu's /tegu/api protocol on a real tegu-manager: a port of Tegu's own regression script.

``support/tegu_verification.ksh`` checked, in order: ping; a reservation
listed; a duplicate refused; cancel with the wrong cookie refused and with the
right one done; zero bandwidths refused; natural expiry; user link caps; a
one-way reservation to an outside address cancelled with ``cancel all``; and
``cancel all`` with a wrong cookie changing nothing. Every reply must be JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from controller_process import ControllerProcess

TOPOLOGY = {
    "switches": ["0000000000000001", "0000000000000002"],
    "links": [{"src": "0000000000000001:3", "dst": "0000000000000002:3", "capacity": "10G"}],
    "hosts": [
        {
            "name": "vm0",
            "mac": "00:00:00:00:00:01",
            "ips": ["10.0.0.1"],
            "attach": "0000000000000001:1",
        },
        {
            "name": "vm1",
            "mac": "00:00:00:00:00:02",
            "ips": ["10.0.0.2"],
            "attach": "0000000000000002:1",
        },
        {
            "name": "vm2",
            "mac": "00:00:00:00:00:03",
            "ips": ["10.0.0.3"],
            "attach": "0000000000000002:2",
        },
    ],
}
TOKENS = {
    "admintok": {"tenant": "ops", "roles": ["admin"]},
    "projtok": {"tenant": "proj", "roles": ["tenant"]},
    "othertok": {"tenant": "other", "roles": ["tenant"]},
}


class Tegu:
    def __init__(self, controller: ControllerProcess) -> None:
        self.url = controller.url + "/tegu/api"

    def send(self, body: str, method: str = "POST", header: str | None = None) -> dict[str, Any]:
        headers = {"X-Auth-Tegu": header} if header else {}
        response = requests.request(
            method, self.url, data=body.encode(), headers=headers, timeout=10
        )
        assert response.status_code == 200, response.text  # Tegu's clients expect 200, always
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()  # raises if the reply were not JSON

    def one(self, command: str, token: str = "projtok") -> dict[str, Any]:
        reply = self.send(f"auth={token} {command}")
        assert len(reply["reqstate"]) == 1
        return reply["reqstate"][0]


@pytest.fixture
def tegu(tmp_path: Path) -> Iterator[Tegu]:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    controller = ControllerProcess(
        tmp_path,
        topology=TOPOLOGY,
        options={
            "auth_mode": "token",
            "token_file": str(tokens),
            "super_cookie": "the-super-cookie",
        },
    )
    controller.start()
    yield Tegu(controller)
    controller.stop()


def listed(tegu: Tegu, token: str = "projtok") -> list[str]:
    state = tegu.one("listres", token)
    assert state["status"] == "OK"
    return [pledge["id"] for pledge in state["details"]["reservations"]]


def test_the_tegu_regression_scenario(tegu: Tegu) -> None:
    pong = tegu.send("ping")
    assert pong["endstate"]["status"] == "OK" and pong["reqstate"][0]["details"].startswith("pong")

    made = tegu.one("reserve 10M +90 proj/vm0,proj/vm1 cookie voice")
    assert made["status"] == "OK", made
    assert made["comment"].startswith("reservation accepted")
    pledge = made["details"]
    assert (pledge["state"], pledge["bandwout"], pledge["bandwin"], pledge["dscp"]) == (
        "ACTIVE",
        10**7,
        10**7,
        46,
    )
    assert "cookie" not in json.dumps(pledge)
    assert listed(tegu) == [pledge["id"]]

    duplicate = tegu.one("reserve 10M +90 proj/vm1,proj/vm0 cookie voice")
    assert duplicate["status"] == "ERROR"
    assert duplicate["comment"] == f"reservation duplicates existing reservation: {pledge['id']}"

    wrong = tegu.one(f"cancelres {pledge['id']} not-the-cookie")
    assert wrong["status"] == "ERROR" and "not authorised" in wrong["comment"]
    assert listed(tegu) == [pledge["id"]]
    right = tegu.one(f"cancelres {pledge['id']} cookie")
    assert right["status"] == "OK"
    assert listed(tegu) == []

    for bandwidth in ("0", "10M,0", "0,10M"):
        refused = tegu.one(f"reserve {bandwidth} +90 proj/vm0,proj/vm1 cookie voice")
        assert refused["status"] == "ERROR"
        assert refused["comment"] == "invalid bandwidth; bw-in and bw-out must be greater than zero"

    short = tegu.one("reserve 1M +2 proj/vm0,proj/vm2 short voice")
    assert short["status"] == "OK"
    time.sleep(3.5)
    assert short["details"]["id"] not in listed(tegu)

    assert tegu.one("setulcap proj 1", "admintok")["status"] == "OK"
    big = tegu.one("reserve 500M +90 proj/vm0,proj/vm1 capped voice")
    assert big["status"] == "ERROR" and "unable to generate a path" in big["comment"]
    small = tegu.one("reserve 5M +90 proj/vm0,proj/vm1 capped voice")
    assert small["status"] == "OK", small
    assert tegu.one(f"cancelres {small['details']['id']} capped")["status"] == "OK"
    assert tegu.one("setulcap proj 0", "admintok")["status"] == "OK"
    assert tegu.one("reserve 5M +90 proj/vm0,proj/vm1 capped voice")["status"] == "ERROR"
    assert tegu.one("setulcap proj -1", "admintok")["status"] == "OK"

    oneway = tegu.one("ow_reserve 10M +90 proj/vm0,!//203.0.113.60 owcookie voice")
    assert oneway["status"] == "OK" and oneway["comment"] == "one way reservation accepted"
    assert oneway["details"]["ptype"] == 3 and oneway["details"]["dest"] == "!//203.0.113.60:0"
    kept = tegu.one("reserve 2M +90 proj/vm0,proj/vm1 cookie2 data")
    assert tegu.one("cancelres all invalid-cookie")["status"] == "OK"
    assert sorted(listed(tegu)) == sorted([oneway["details"]["id"], kept["details"]["id"]])
    gone = tegu.one("cancelres all owcookie")
    assert gone["details"] == {"cancelled": [oneway["details"]["id"]]}
    assert listed(tegu) == [kept["details"]["id"]]


def test_batches_comments_header_auth_and_tenancy(tegu: Tegu) -> None:
    reply = tegu.send(
        "# a comment line\n"
        "auth=projtok reserve 1M +60 proj/vm0,proj/vm1 c1 voice; auth=projtok listres\n"
        "\n"
        "bogus command\n"
    )
    statuses = [state["status"] for state in reply["reqstate"]]
    assert statuses == ["OK", "OK", "ERROR"]
    assert reply["endstate"] == {"status": "ERROR", "comment": "1 errors processing requests"}
    assert "unrecognised put and/or post action" in reply["reqstate"][2]["comment"]
    assert (
        reply["reqstate"][1]["details"]["reservations"][0]["id"]
        == reply["reqstate"][0]["details"]["id"]
    )

    other = tegu.send("listres", header="othertok/other")
    assert other["reqstate"][0]["details"] == {"reservations": []}  # Tegu showed everyone's
    header_wins = tegu.send("auth=projtok listres", header="othertok")
    assert header_wins["reqstate"][0]["details"] == {"reservations": []}
    nobody = tegu.send("listres")
    assert nobody["reqstate"][0]["comment"] == "you are not authorised to submit a listres command"
    assert (
        tegu.one("setulcap proj 5")["comment"]
        == "you are not authorised to submit a setulcap command"
    )
    assert tegu.one("listulcaps", "admintok")["status"] == "OK"


def test_delete_verb_super_cookie_and_admin_commands(tegu: Tegu) -> None:
    made = tegu.one("reserve 1M +60 proj/vm0,proj/vm1 secret voice")["details"]
    deleted = tegu.send(
        f"reservation {made['id']} the-super-cookie", method="DELETE", header="projtok"
    )
    assert deleted["reqstate"][0]["status"] == "OK"
    assert deleted["reqstate"][0]["request"] == "1"  # Tegu numbered DELETE requests as strings
    assert deleted["endstate"]["comment"].endswith("in 1 requests")
    hosts = tegu.one("listhosts", "admintok")["details"]
    assert {h["name"] for h in hosts} == {"vm0", "vm1", "vm2"}
    conns = tegu.one("listconns 10.0.0.2")["details"]["host"]
    assert conns["mac"] == "00:00:00:00:00:02" and conns["conns"] == [
        {"switch": "0000000000000002", "port": 1}
    ]
    assert "did not find host" in tegu.one("listconns nowhere")["comment"]
    graph = tegu.one("graph", "admintok")["details"]["netele"]
    assert any(link["sw1port"] == 3 for element in graph for link in element["links"])
    assert tegu.one("setdiscount 10", "admintok")["comment"] == "discount amount set to 10"
    assert tegu.one("chkpt", "admintok")["comment"].startswith("checkpoint was written: ")
    assert tegu.one("pause", "admintok")["status"] == "OK"
    assert tegu.one("pause", "admintok")["status"] == "WARN"
    assert tegu.one("resume", "admintok")["status"] == "OK"
    assert tegu.one("verbose 1 resmgr", "admintok")["details"] == "verbose set: resmgr now 1"
    assert tegu.one("verbose 1 nosuch", "admintok")["status"] == "ERROR"
    assert tegu.one("qdump", "admintok")["details"] == {"queues": []}
    assert tegu.one("reserve 10M +60 proj/vm0,proj/vm1")["comment"].startswith("missing parameters")
    assert "bad expiry" in tegu.one("reserve 10M 1000-2000 proj/vm0,proj/vm1 c voice")["comment"]
    far = tegu.one(f"reserve 1M {int(time.time()) + 10 * 365 * 86400} proj/vm0,proj/vm2 far voice")
    assert far["status"] == "OK", "no 2026 time bomb"
    mirrors = requests.get(tegu.url.replace("/api", "/mirrors/"), timeout=5)
    assert mirrors.status_code == 405 and "tegu_mirror role" in mirrors.json()["error"]
