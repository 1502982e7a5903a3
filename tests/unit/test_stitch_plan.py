"""A stitched segment on the switches, traced through the planned flows: toward the WAN the
label is pushed at the stitch port, from the WAN it is popped, both ways metered."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tegu_ryu.enforcement.planner import MeterSettings, plan_switches, reservation_meter_id
from tegu_ryu.forwarding.base import plan_base_flows
from tegu_ryu.reservations.model import Bandwidth, Direction, RemoteEnd, StitchRole
from tegu_ryu.reservations.window import Window
from tegu_ryu.stitching import protocol
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


def test_a_tunnel_handoff_is_booked_but_not_on_the_switches() -> None:
    fake, _, host = network(StitchRole.ORIGIN, handoff="vxlan")
    out = fake.send(host.mac, packet(host.mac, REMOTE.mac, host.ips[0], REMOTE.ip))
    assert out.meters == ()
