"""/tegu/api replies in the shapes Tegu built them (its http_api.go and man pages)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from webob import Request

from tegu_ryu.api.wsgi import Api
from tegu_ryu.enforcement.planner import MeterSettings, plan_switches
from tegu_ryu.reservations.model import State

from .fakenet import FakeNetwork
from .test_api import sample_api, tegu_post

SETTINGS = MeterSettings()


class Tegu:
    def __init__(self, api: Api) -> None:
        self.api = api

    def send(self, body: str, token: str = "admin-token") -> dict[str, Any]:
        return tegu_post(self.api, body, token)


@pytest.fixture
def tegu(tmp_path: Path) -> Iterator[Tegu]:
    yield Tegu(sample_api(tmp_path))


def test_requests_are_numbered_from_one(tegu: Tegu) -> None:
    reply = tegu.send("ping\nping\nbogus")
    assert [s["request"] for s in reply["reqstate"]] == [1, 2, 3]
    assert reply["endstate"] == {"status": "ERROR", "comment": "1 errors processing requests"}


def test_host_names_carry_the_hosts_project_and_port_zero(tegu: Tegu) -> None:
    made = tegu.send("reserve proto=tcp 1M +60 h1:5001,h3 c voice")["reqstate"][0]["details"]
    assert made["host1"] == "acme/h1:5001"  # h1 is acme's (static topology), not the admin's
    assert made["host2"] == "ops/h3:0"  # h3 has no tenant: the reservation's owner


def test_a_degraded_live_reservation_is_active_with_a_reason(tegu: Tegu) -> None:
    made = tegu.send("reserve 1M +60 h1,h3 c voice")["reqstate"][0]["details"]
    engine = tegu.api.controller.reservations.engine
    degraded = replace(
        engine.bandwidth_reservation(made["id"]),
        state=State.DEGRADED,
        routes={},
        reason="no path from h1 to h3",
    )
    engine.put(degraded)
    (pledge,) = tegu.send("listres")["reqstate"][0]["details"]["reservations"]
    assert (pledge["state"], pledge["reason"]) == ("ACTIVE", "no path from h1 to h3")
    assert pledge["time"] > 0


def test_queues_and_caps_in_tegus_shapes(tegu: Tegu) -> None:
    tegu.send("reserve 2M +60 h1,h3 c voice")
    qdump = tegu.send("qdump")["reqstate"][0]
    assert qdump["comment"] == "active queues"
    for row in qdump["details"]["queues"]:
        switch_port, qid, qnum, low, high, priority = row.split(",")
        assert switch_port.count("/") == 1 and qid.startswith("r-")
        assert int(qnum) > 0 and int(low) == int(high) == 2 * 10**6 and priority == "200"
    assert len(qdump["details"]["queues"]) == 2  # one per direction
    caps = tegu.send("listulcap")["reqstate"][0]
    assert caps["status"] == "OK" and caps["details"][0]["name"] == "default"
    assert "max" in caps["details"][0]


def test_graph_shows_allotments_as_time_slices_and_honours_project(tegu: Tegu) -> None:
    tegu.send("reserve 2M +60 h1,h3 c voice")
    graph = tegu.send("graph")["reqstate"][0]["details"]["netele"]
    links = [link for element in graph for link in element["links"]]
    booked = [link for link in links if link["allotment"]["timeslices"]]
    assert booked, "the reservation's links carry time slices"
    for link in booked:
        allotment = link["allotment"]
        assert set(allotment) == {"max_capacity", "alarm", "timeslices"}
        (slice_,) = allotment["timeslices"]
        assert slice_["amt"] == 2 * 10**6 and slice_["conclude"] - slice_["commence"] in (59, 60)
        assert link["mlag"] == ""
    hosts = [h for element in graph for h in element.get("conn_hosts", [])]
    assert {h["vmid"] for h in hosts} == {"h1", "h2", "h3", "h4"}
    acme = tegu.send("graph project=acme")["reqstate"][0]["details"]["netele"]
    assert {h["host"] for e in acme for h in e.get("conn_hosts", [])} == {"h1", "h2"}
    listed = tegu.send("listhosts project=acme")["reqstate"][0]["details"]
    assert sorted(h["name"] for h in listed) == ["h1", "h2"]


def test_get_on_the_api_answers_as_tegu_did(tegu: Tegu) -> None:
    response = Request.blank("/tegu/api").get_response(tegu.api)
    assert response.status_int == 200
    assert json.loads(response.body) == {
        "reqstate": [],
        "endstate": {"status": "ERROR", "comment": "GET requests are unsupported"},
    }


def test_only_global_classes_keep_their_marking_when_the_traffic_leaves(tegu: Tegu) -> None:
    """Tegu reset a reservation's marking where the traffic was delivered unless its class
    was ``global_``; ``dscp_koe`` says which."""
    plain = tegu.send("reserve proto=udp 1M +60 h1,h3:5001 c voice")["reqstate"][0]["details"]
    kept = tegu.send("reserve proto=udp 1M +60 h1,h3:5002 c global_voice")["reqstate"][0]
    assert plain["dscp_koe"] is False and kept["details"]["dscp_koe"] is True
    engine = tegu.api.controller.reservations.engine
    plan = plan_switches(engine.topology, engine.reservations.values(), engine.policy, SETTINGS)
    net = FakeNetwork(engine.topology, {d: sw.flows for d, sw in plan.switches.items()})
    h1, h3 = (engine.topology.host_by_ip(ip) for ip in ("10.0.0.1", "10.0.0.3"))
    assert h1 is not None and h3 is not None
    for port, arriving in ((5001, 0), (5002, 46)):
        packet = {
            "eth_type": 0x0800, "ipv4_src": "10.0.0.1", "ipv4_dst": "10.0.0.3", "ip_proto": 17,
            "udp_dst": port, "eth_src": h1.mac, "eth_dst": h3.mac,
        }  # fmt: skip
        trace = net.send(h1.mac, packet)
        assert trace.outcome == h3.mac and dict(trace.fields)["ip_dscp"] == arriving, port
        assert trace.links, "it crossed the fabric, marked"
