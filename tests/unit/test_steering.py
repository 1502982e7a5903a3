"""Steering chains, checked by sending packets through a fake network with router middleboxes.

A middlebox here behaves like a Linux host with ``ip_forward=1``: it takes a
packet addressed to its MAC and sends it on, from its own MAC, to the host
that has the destination address.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tegu_ryu.api.kinds import kind_json
from tegu_ryu.enforcement.desired import DesiredState
from tegu_ryu.enforcement.planner import MeterSettings, plan_switches, reservation_meter_id
from tegu_ryu.enforcement.steering_plan import fabric_mac
from tegu_ryu.errors import Conflict, InvalidField
from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.kinds.steering import problems as kind_problems
from tegu_ryu.reservations.lifecycle import Lifecycle
from tegu_ryu.reservations.memory_store import MemoryStore
from tegu_ryu.reservations.model import Direction, Match, State, SteeringReservation
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.reservations.steering_admission import admit_steering
from tegu_ryu.reservations.steering_requests import parse_steering
from tegu_ryu.reservations.store import decode_reservation, encode_reservation
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import Host, PortState
from tegu_ryu.topology.refs import PortRef

from .fakenet import FakeNetwork, Trace
from .test_api import Client, client
from .test_engine import request
from .topologies import Builder

M = 10**6
SETTINGS = MeterSettings(reserved_burst_ms=100, best_effort_burst_kbit=200, overhead_percent=0)
ADMIN = Principal(tenant="acme", admin=True)
__all__ = ["client"]  # the fixture, imported for pytest


@dataclass
class Line:
    """s1 - s2 - s3; h1 and mb2 on s1, h2 and mb1 on s2, mb3 on s3."""

    engine: Engine
    hosts: dict[str, Host]

    def steer(self, now: float = 0, **fields: Any) -> SteeringReservation:
        body = {"type": "steering", "src": "h1", "dst": "h2", "duration": 100, **fields}
        return admit_steering(self.engine, now, ADMIN, parse_steering(body, now))

    def network(self) -> FakeNetwork:
        plan = plan_switches(
            self.engine.topology, self.engine.reservations.values(), self.engine.policy, SETTINGS
        )
        return FakeNetwork(self.engine.topology, {d: sw.flows for d, sw in plan.switches.items()})

    def packet(self, src: str, dst: str, dst_port: int = 80, protocol: int = 6) -> dict[str, Any]:
        ports = {6: "tcp_dst", 17: "udp_dst"}
        return {
            "eth_type": 0x0800,
            "ipv4_src": self.hosts[src].ips[0],
            "ipv4_dst": self.hosts[dst].ips[0],
            "ip_proto": protocol,
            ports[protocol]: dst_port,
            "eth_src": self.hosts[src].mac,
            "eth_dst": self.hosts[dst].mac,
        }

    def send(self, net: FakeNetwork, src: str, packet: dict[str, Any]) -> tuple[list[str], Trace]:
        """The middleboxes the packet visits, in order, and where it ends."""
        names = {host.mac: name for name, host in self.hosts.items()}
        visited = []
        trace = net.send(self.hosts[src].mac, packet)
        while names.get(trace.outcome, "").startswith("mb"):
            router = names[trace.outcome]
            fields = dict(trace.fields)
            if fields["ipv4_dst"] in self.hosts[router].ips:
                break  # for the middlebox itself: it keeps it
            assert fields["eth_dst"] == self.hosts[router].mac  # addressed so a router takes it
            visited.append(router)
            target = self.engine.topology.host_by_ip(str(fields["ipv4_dst"]))
            assert target is not None
            forwarded = {**fields, "eth_src": self.hosts[router].mac, "eth_dst": target.mac}
            trace = net.send(self.hosts[router].mac, forwarded)
            assert len(visited) < 10, "a loop through the middleboxes"
        return visited, trace


@pytest.fixture
def line() -> Line:
    builder = Builder(CapacityPolicy(override_default=100 * M))
    builder.link(1, 2)
    builder.link(2, 3)
    hosts = {
        "h1": builder.host(1),
        "h2": builder.host(2),
        "mb1": builder.host(2),
        "mb2": builder.host(1),
        "mb3": builder.host(3),
    }
    builder.connect_all()
    topology = builder.topology
    named = {}
    for name, host in hosts.items():  # named as a static topology would, for requests to use
        named[name] = replace(host, name=name, tenant="acme")
        topology.add_static_host(named[name])
    return Line(Engine(topology), named)


def test_matched_traffic_visits_the_chain_in_order_and_the_reverse_backwards(line: Line) -> None:
    line.steer(protocol="tcp", dst_port=80, chain=["mb1", "mb2"])
    net = line.network()
    visited, trace = line.send(net, "h1", line.packet("h1", "h2", 80))
    assert visited == ["mb1", "mb2"] and trace.outcome == line.hosts["h2"].mac
    assert dict(trace.fields)["eth_dst"] == line.hosts["h2"].mac  # delivered as it was sent
    reply = line.packet("h2", "h1", 0) | {"tcp_src": 80}
    del reply["tcp_dst"]
    visited, trace = line.send(net, "h2", reply)
    assert visited == ["mb2", "mb1"] and trace.outcome == line.hosts["h1"].mac


def test_unmatched_traffic_goes_straight(line: Line) -> None:
    line.steer(protocol="tcp", dst_port=80, chain=["mb1", "mb2"])
    net = line.network()
    for packet in (line.packet("h1", "h2", 443), line.packet("h1", "h2", 80, protocol=17)):
        visited, trace = line.send(net, "h1", packet)
        assert visited == [] and trace.outcome == line.hosts["h2"].mac


def test_two_legs_crossing_one_port_stay_apart(line: Line) -> None:
    """h1 (s1) -> mb1 (s2) -> mb2 (s1) -> h2 (s2): legs 0 and 2 both enter s2 from s1 with the
    same addresses; only the fabric MAC tells the one for mb1 from the one for h2."""
    steering = line.steer(protocol="tcp", dst_port=80, chain=["mb1", "mb2"], symmetric=False)
    legs = steering.legs[Direction.OUT]
    entering = [leg.route.hops[-1].in_port for leg in legs if leg.index in (0, 2)]
    assert len(set(entering)) == 1  # the same port of s2, from s1
    visited, trace = line.send(line.network(), "h1", line.packet("h1", "h2", 80))
    assert visited == ["mb1", "mb2"] and trace.outcome == line.hosts["h2"].mac
    on_the_way = {fabric_mac(steering.serial, Direction.OUT, n) for n in range(3)}
    assert len(on_the_way) == 3


def test_a_middlebox_on_a_third_switch_and_an_any_source(line: Line) -> None:
    line.steer(src="any", protocol="udp", dst_port=53, chain=["mb3"], symmetric=False)
    net = line.network()
    for sender in ("h1", "mb1"):
        visited, trace = line.send(net, sender, line.packet(sender, "h2", 53, protocol=17))
        assert visited == ["mb3"] and trace.outcome == line.hosts["h2"].mac, sender
        assert any(link.src.dpid == 3 or link.dst.dpid == 3 for link in trace.links)


def test_an_any_destination_is_handed_to_base_forwarding_after_the_last_middlebox(
    line: Line,
) -> None:
    line.steer(dst="any", protocol="tcp", dst_port=25, chain=["mb3"], symmetric=False)
    net = line.network()
    for target in ("h2", "mb1"):
        visited, trace = line.send(net, "h1", line.packet("h1", target, 25))
        assert visited == ["mb3"] and trace.outcome == line.hosts[target].mac


def test_a_bandwidth_reservation_on_the_same_traffic_keeps_metering_it(line: Line) -> None:
    steering = line.steer(protocol="tcp", dst_port=80, chain=["mb3"], symmetric=False)
    reservation = line.engine.create(
        0, "acme", request("h1", "h2", 5 * M, match=Match(protocol="tcp", dst_port=80))
    )
    out_meter = reservation_meter_id(reservation, Direction.OUT)
    net = line.network()
    to_the_middlebox = net.send(line.hosts["h1"].mac, line.packet("h1", "h2", 80))
    assert to_the_middlebox.outcome == line.hosts["mb3"].mac
    assert (1, out_meter) in to_the_middlebox.meters  # where the traffic enters
    assert line.send(net, "h1", line.packet("h1", "h2", 80))[0] == ["mb3"]
    desired = DesiredState(SETTINGS)  # the incremental planner composes them the same way
    engine = line.engine
    desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
    engine.cancel(1, reservation.id)
    desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
    entry = [f for f in desired.flows[1].values() if "steering" in f.description and f.meter]
    assert all(f.meter != out_meter for f in entry)
    reference = plan_switches(
        engine.topology, engine.reservations.values(), engine.policy, SETTINGS
    )
    assert set(desired.flows[1].values()) == set(reference.switches[1].flows)
    assert steering.state is State.ACTIVE


def test_a_chain_with_bandwidth_books_every_leg_and_is_refused_whole(line: Line) -> None:
    steering = line.steer(chain=["mb3"], bandwidth="60M", protocol="tcp", symmetric=False)
    booked = line.engine.ledger.bookings(steering.id)
    assert {b.amount for b in booked} == {60 * M}
    assert len(booked) == len(steering.bookings())
    before = {link: line.engine.ledger.peak_amount(link, steering.window) for link in _links(line)}
    with pytest.raises(Conflict) as refused:
        line.steer(chain=["mb3"], bandwidth="60M", protocol="udp", symmetric=False)
    assert refused.value.code == "no_capacity" and "out leg 0 (h1 to mb3)" in refused.value.message
    after = {link: line.engine.ledger.peak_amount(link, steering.window) for link in _links(line)}
    assert before == after  # nothing of the refused chain was kept


def test_a_chain_that_loops_back_books_the_link_it_crosses_twice(line: Line) -> None:
    """h1 (s1) -> mb1 (s2) -> mb2 (s1) -> h2 (s2): s1->s2 carries the traffic twice."""
    steering = line.steer(chain=["mb1", "mb2"], bandwidth="30M", protocol="tcp", symmetric=False)
    forward = steering.legs[Direction.OUT][0].route.links[0]
    assert line.engine.ledger.peak_amount(forward, steering.window) == 60 * M
    with pytest.raises(Conflict):
        line.steer(chain=["mb1", "mb2"], bandwidth="30M", protocol="udp", symmetric=False)


def test_overlapping_chains_are_refused_and_disjoint_ones_accepted(line: Line) -> None:
    first = line.steer(protocol="tcp", dst_port=80, chain=["mb1"])
    for overlapping in (
        {"protocol": "tcp", "dst_port": 80, "chain": ["mb3"]},  # the same traffic
        {"chain": ["mb3"]},  # all h1-h2 traffic: a superset
        {"src": "any", "protocol": "tcp", "chain": ["mb3"]},  # any source
        {"src": "h2", "dst": "h1", "protocol": "tcp", "src_port": 80, "chain": ["mb3"]},
    ):
        with pytest.raises(Conflict) as refused:
            line.steer(**overlapping)
        assert refused.value.code == "overlap" and first.id in refused.value.message
    line.steer(protocol="tcp", dst_port=443, chain=["mb3"])
    line.steer(protocol="udp", chain=["mb3"])
    line.steer(now=200, protocol="tcp", dst_port=80, chain=["mb3"])  # after the first ends


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"chain": []}, "chain"),
        ({"chain": ["mb1", "mb1"]}, "chain[1]"),
        ({"chain": ["mb1", "h2"]}, "chain[1]"),
        ({"chain": ["nobody"]}, "chain[0]"),
        ({"chain": [{"in": "mb1"}]}, "chain[0]"),
        ({"src": "any", "dst": "any", "chain": ["mb1"]}, "dst"),
        ({"src": "any", "chain": ["mb1"], "bandwidth": "1M"}, "bandwidth"),
        ({"chain": ["mb1"], "symmetric": "yes"}, "symmetric"),
        ({"chain": [f"mb{n}" for n in range(9)]}, "chain"),
    ],
)
def test_bad_chains_are_refused_naming_the_entry(
    line: Line, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidField) as refused:
        line.steer(**fields)
    assert refused.value.details["field"] == field
    assert line.engine.reservations == {}


def test_a_broken_leg_moves_to_another_path_or_degrades(line: Line) -> None:
    steering = line.steer(chain=["mb3"], symmetric=False)
    lifecycle = Lifecycle(line.engine)
    s2_to_s3 = steering.legs[Direction.OUT][0].route.links[-1]
    line.engine.topology.port_updated(2, PortState(s2_to_s3.src.port, up=False))
    lifecycle.tick(1)
    degraded = line.engine.reservations[steering.id]
    assert degraded.state is State.DEGRADED and "no path" in (degraded.reason or "")
    line.engine.topology.port_updated(2, PortState(s2_to_s3.src.port, up=True))
    lifecycle.tick(2)
    assert line.engine.reservations[steering.id].state is State.ACTIVE
    visited, trace = line.send(line.network(), "h1", line.packet("h1", "h2", 80))
    assert visited == ["mb3"] and trace.outcome == line.hosts["h2"].mac


def test_a_middlebox_that_moves_takes_its_legs_with_it(line: Line) -> None:
    steering = line.steer(protocol="tcp", dst_port=80, chain=["mb3"], symmetric=False)
    old = line.hosts["mb3"]
    topology = line.engine.topology
    new_port = PortRef(1, 9)
    topology.switch_connected(1, [PortState(port=p) for p in range(1, 10)])
    topology.add_static_host(replace(old, attach=new_port))
    line.hosts["mb3"] = replace(old, attach=new_port)
    (moved,) = Lifecycle(line.engine).refresh(5, "mb3")
    assert isinstance(moved, SteeringReservation) and moved.id == steering.id
    assert moved.chain[0].in_port == new_port and moved.state is State.ACTIVE
    assert all(leg.route.links == () for leg in moved.legs[Direction.OUT][:1])  # now on s1
    visited, trace = line.send(line.network(), "h1", line.packet("h1", "h2", 80))
    assert visited == ["mb3"] and trace.outcome == line.hosts["h2"].mac


def test_a_chain_is_stored_and_read_back_unchanged(line: Line) -> None:
    for steering in (
        line.steer(protocol="tcp", dst_port=80, chain=["mb1", "mb2"], bandwidth="2M", name="x"),
        line.steer(src="any", protocol="udp", chain=[{"in": "mb3", "out": "mb3"}]),
    ):
        assert decode_reservation(json.loads(json.dumps(encode_reservation(steering)))) == steering
        assert not kind_problems(steering)


def test_the_service_takes_steering_bodies_and_the_view_shows_the_chain(line: Line) -> None:
    service = ReservationService(
        line.engine.topology, MemoryStore(), threading.RLock(), Policy(), retention=3600
    )
    body = {"type": "steering", "src": "h1", "dst": "h2", "chain": ["mb1"], "duration": 60}
    made = service.create(ADMIN, body, now=0, reply=lambda r: r)
    assert isinstance(made, SteeringReservation) and service.store.load().reservations == [made]
    view = kind_json(made)
    assert [box["given"] for box in view["chain"]] == ["mb1"] and view["symmetric"] is True
    assert {leg["leg"] for leg in view["legs"]["out"]} == {0, 1}
    changed = service.modify(ADMIN, made.id, {"end": 120, "bandwidth": "1M"}, now=1)
    assert isinstance(changed, SteeringReservation) and changed.bandwidth == M
    assert changed.window.end == 120 and service.engine.ledger.bookings(made.id)
    service.cancel(ADMIN, made.id, now=2)
    assert not service.engine.ledger.bookings(made.id)


def _links(line: Line) -> list[Any]:
    return [link.id for link in line.engine.topology.links()]


def test_the_v1_api_takes_shows_lists_and_cancels_a_chain(client: Client) -> None:
    body = {"type": "steering", "src": "h1", "dst": "h3", "protocol": "tcp", "dst_port": 80}
    status, made = client.call(
        "POST", "/v1/reservations", {**body, "chain": ["h2"], "duration": 60}
    )
    assert status == 201 and made["type"] == "steering", made  # the document's shape, checked
    assert made["chain"][0]["given"] == "h2" and made["src"]["name"] == "h1"
    status, listed = client.call("GET", "/v1/reservations?type=steering")
    assert [r["id"] for r in listed["reservations"]] == [made["id"]]
    status, refused = client.call(
        "POST", "/v1/reservations", {**body, "chain": ["h4"], "duration": 60, "dst_port": 81}
    )
    assert status == 403 and "h4" in refused["error"]["message"]  # not a host of acme's
    status, refused = client.call(
        "POST", "/v1/reservations", {**body, "chain": ["h2"], "duration": 60}
    )
    assert status == 409 and refused["error"]["code"] == "overlap"
    rid = made["id"]
    assert (
        client.call("DELETE", f"/v1/reservations/{rid}", template="/v1/reservations/{rid}")[0]
        == 204
    )
