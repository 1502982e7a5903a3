"""A stitched segment on the switches, traced through the planned flows: toward the WAN the
label is pushed (VLAN) or set as the tunnel key (GRE, VXLAN) at the stitch port, from the WAN
it is matched (and a VLAN popped), both ways metered; a tunnel stitch point's port is a row."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tegu_ryu.enforcement.planner import MeterSettings, plan_switches, reservation_meter_id
from tegu_ryu.enforcement.row_plan import plan_rows
from tegu_ryu.forwarding.base import plan_base_flows
from tegu_ryu.ovsdb.rows import BridgeRows, TunnelPort
from tegu_ryu.reservations.model import Bandwidth, Direction, RemoteEnd, StitchRole
from tegu_ryu.reservations.window import Window
from tegu_ryu.stitching import protocol
from tegu_ryu.stitching.points import Handoff
from tegu_ryu.stitching.protocol import SegmentRequest
from tegu_ryu.topology.model import Host

from .fakenet import FakeNetwork
from .stitch_fixtures import STITCH_PORT, M, domain

REMOTE = RemoteEnd("siteB", "hB", "00:00:00:00:0b:01", "10.1.0.1")


def network(role: StitchRole, handoff: str = "vlan") -> tuple[FakeNetwork, Any, Host]:
    engine, settings, host = domain()
    request = SegmentRequest(role, host.mac, REMOTE, Bandwidth(20 * M, 10 * M), Window(0, 100))
    segment = protocol.commit(engine, 0, protocol.hold(engine, settings, 0, "acme", request).id)
    if handoff != "vlan":
        segment = replace(segment, handoff=handoff)
        engine.put(segment)
    base = plan_base_flows(engine.topology, closed_ports=[STITCH_PORT])
    plan = plan_switches(
        engine.topology, engine.reservations.values(), engine.policy, MeterSettings(), base=base
    )
    fake = FakeNetwork(engine.topology, {d: sw.flows for d, sw in plan.switches.items()})
    return fake, segment, host


def packet(
    src_mac: str, dst_mac: str, src_ip: str, dst_ip: str, **extra: int
) -> dict[str, int | str]:
    return {
        "eth_type": 0x0800,
        "eth_src": src_mac,
        "eth_dst": dst_mac,
        "ipv4_src": src_ip,
        "ipv4_dst": dst_ip,
        "ip_proto": 6,
        **extra,
    }


def test_the_origins_traffic_leaves_tagged_and_the_answer_arrives_untagged() -> None:
    fake, segment, host = network(StitchRole.ORIGIN)
    out = fake.send(host.mac, packet(host.mac, REMOTE.mac, host.ips[0], REMOTE.ip))
    assert out.outcome == "dropped"  # nothing on the fake's far side of the stitch port
    assert dict(out.fields)["vlan_vid"] == 0x1000 | 100
    assert out.meters == ((1, reservation_meter_id(segment, Direction.OUT)),)
    (back,) = fake.arriving(
        STITCH_PORT, packet(REMOTE.mac, host.mac, REMOTE.ip, host.ips[0], vlan_vid=0x1000 | 100)
    )
    assert back.outcome == host.mac and "vlan_vid" not in dict(back.fields)
    assert back.meters == ((2, reservation_meter_id(segment, Direction.IN)),)


def test_nothing_but_a_reservations_label_enters_from_the_wan() -> None:
    fake, _, host = network(StitchRole.ORIGIN)
    (other,) = fake.arriving(
        STITCH_PORT, packet(REMOTE.mac, host.mac, REMOTE.ip, host.ips[0], vlan_vid=0x1000 | 101)
    )
    assert other.outcome == "dropped" and other.meters == ()


def test_the_peer_side_pops_what_arrives_and_tags_what_answers() -> None:
    fake, segment, host = network(StitchRole.PEER)
    (arrived,) = fake.arriving(
        STITCH_PORT, packet(REMOTE.mac, host.mac, REMOTE.ip, host.ips[0], vlan_vid=0x1000 | 100)
    )
    assert arrived.outcome == host.mac and "vlan_vid" not in dict(arrived.fields)
    assert arrived.meters == ((2, reservation_meter_id(segment, Direction.OUT)),)
    answer = fake.send(host.mac, packet(host.mac, REMOTE.mac, host.ips[0], REMOTE.ip))
    assert dict(answer.fields)["vlan_vid"] == 0x1000 | 100
    assert answer.meters == ((1, reservation_meter_id(segment, Direction.IN)),)


@pytest.mark.parametrize("handoff", ["gre", "vxlan"])
def test_a_tunnel_handoff_sets_the_key_toward_the_wan_and_matches_it_back(handoff: str) -> None:
    fake, segment, host = network(StitchRole.ORIGIN, handoff)
    out = fake.send(host.mac, packet(host.mac, REMOTE.mac, host.ips[0], REMOTE.ip))
    assert out.outcome == "dropped"  # into the tunnel port, which the fake does not model
    assert dict(out.fields)["tunnel_id"] == 100 and "vlan_vid" not in dict(out.fields)
    assert out.meters == ((1, reservation_meter_id(segment, Direction.OUT)),)
    (back,) = fake.arriving(
        STITCH_PORT, packet(REMOTE.mac, host.mac, REMOTE.ip, host.ips[0], tunnel_id=100)
    )
    assert back.outcome == host.mac and "vlan_vid" not in dict(back.fields)
    assert back.meters == ((2, reservation_meter_id(segment, Direction.IN)),)


@pytest.mark.parametrize(
    "extra", [{"tunnel_id": 101}, {}, {"vlan_vid": 0x1000 | 100}], ids=["other", "none", "vlan"]
)
def test_nothing_but_a_reservations_key_enters_from_the_tunnel(extra: dict[str, int]) -> None:
    fake, _, host = network(StitchRole.ORIGIN, "gre")
    (other,) = fake.arriving(
        STITCH_PORT, packet(REMOTE.mac, host.mac, REMOTE.ip, host.ips[0], **extra)
    )
    assert other.outcome == "dropped" and other.meters == ()


def test_the_peer_side_of_a_tunnel_takes_the_key_in_and_sets_it_on_the_answer() -> None:
    fake, segment, host = network(StitchRole.PEER, "vxlan")
    (arrived,) = fake.arriving(
        STITCH_PORT, packet(REMOTE.mac, host.mac, REMOTE.ip, host.ips[0], tunnel_id=100)
    )
    assert arrived.outcome == host.mac
    assert arrived.meters == ((2, reservation_meter_id(segment, Direction.OUT)),)
    answer = fake.send(host.mac, packet(host.mac, REMOTE.mac, host.ips[0], REMOTE.ip))
    assert dict(answer.fields)["tunnel_id"] == 100
    assert answer.meters == ((1, reservation_meter_id(segment, Direction.IN)),)


def test_a_tunnel_stitch_point_in_use_is_one_tagged_tunnel_port_on_its_switch() -> None:
    engine, settings, host = domain()
    point = replace(settings.points["wan"], handoff=Handoff("gre", range(100, 104), "10.99.0.3"))
    for n in range(2):
        far = replace(REMOTE, host=f"hB{n}", mac=None, ip=f"10.1.0.{n + 10}")  # two far hosts
        request = SegmentRequest(StitchRole.ORIGIN, host.mac, far, Bandwidth(M, M), Window(n, 100))
        held = protocol.hold(engine, replace(settings, points={"wan": point}), n, "acme", request)
        protocol.commit(engine, n, held.id)
    rows = plan_rows(engine.reservations.values(), {}, lambda _: 0, {"wan": point})
    assert rows == {
        2: BridgeRows(frozenset({TunnelPort("tegu-swan", "gre", "10.99.0.3", "flow", 9, "")}))
    }
    assert plan_rows(engine.reservations.values(), {}, lambda _: 0, settings.points) == {}
    assert plan_rows(engine.reservations.values(), {}, lambda _: 0) == {}


def test_no_tunnel_port_while_no_segment_is_active() -> None:
    engine, settings, host = domain()
    point = replace(settings.points["wan"], handoff=Handoff("vxlan", range(100, 104), "10.99.0.3"))
    request = SegmentRequest(StitchRole.ORIGIN, host.mac, REMOTE, Bandwidth(M, M), Window(0, 100))
    protocol.hold(engine, replace(settings, points={"wan": point}), 0, "acme", request)
    assert plan_rows(engine.reservations.values(), {}, lambda _: 0, {"wan": point}) == {}
