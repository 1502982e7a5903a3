"""The enforcement planner, checked by sending packets through a fake network."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tegu_ryu.enforcement.planner import (
    MeterSettings,
    best_effort_meter_id,
    plan_switches,
    reservation_meter_id,
)
from tegu_ryu.errors import Conflict
from tegu_ryu.openflow.flows import Layer, Meter, cookie_layer
from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.lifecycle import Lifecycle
from tegu_ryu.reservations.model import Direction, Kind, Match, State
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.reservations.requests import Modification
from tegu_ryu.reservations.window import Window

from .fakenet import FakeNetwork
from .test_engine import H1, H4, M, diamond, request

SETTINGS = MeterSettings(reserved_burst_ms=100, best_effort_burst_kbit=200, overhead_percent=0)


def network(engine: Engine) -> tuple[FakeNetwork, dict[int, tuple[Meter, ...]]]:
    plan = plan_switches(engine.topology, engine.reservations.values(), engine.policy, SETTINGS)
    flows = {dpid: sw.flows for dpid, sw in plan.switches.items()}
    return FakeNetwork(engine.topology, flows), {
        dpid: sw.meters for dpid, sw in plan.switches.items()
    }


def hosts(engine: Engine) -> tuple[str, str]:
    h1, h4 = engine.topology.hosts()
    return h1.mac, h4.mac


def tcp(dst_port: int, dst_mac: str, src: str = H1, dst: str = H4) -> dict[str, int | str]:
    return {
        "eth_type": 0x0800,
        "ipv4_src": src,
        "ipv4_dst": dst,
        "ip_proto": 6,
        "tcp_dst": dst_port,
        "eth_dst": dst_mac,
    }


def udp(dst_mac: str) -> dict[str, int | str]:
    return {
        "eth_type": 0x0800,
        "ipv4_src": H1,
        "ipv4_dst": H4,
        "ip_proto": 17,
        "udp_dst": 9,
        "eth_dst": dst_mac,
    }


def meter(meters: dict[int, tuple[Meter, ...]], dpid: int, meter_id: int) -> Meter:
    return next(m for m in meters[dpid] if m.id == meter_id)


def test_reserved_traffic_is_metered_marked_and_pinned_to_its_path() -> None:
    engine, links = diamond()
    reservation = engine.create(
        0, "acme", request(H1, H4, 20 * M, 5 * M, match=Match(protocol="tcp", dst_port=5001))
    )
    reservation = replace(reservation, dscp=46)
    engine.reservations[reservation.id] = reservation
    fake, meters = network(engine)
    h1, h4 = hosts(engine)
    trace = fake.send(h1, tcp(5001, h4))
    assert trace.outcome == h4
    assert trace.links == (links["1-2"], links["2-4"])
    assert trace.meters == ((1, reservation_meter_id(reservation, Direction.OUT)),)
    assert dict(trace.fields)["ip_dscp"] == 46
    out_meter = meter(meters, 1, reservation_meter_id(reservation, Direction.OUT))
    assert (out_meter.rate_kbps, out_meter.burst_kbit) == (20_000, 2_000)
    back = fake.send(h4, tcp(5001, h1, src=H4, dst=H1) | {"tcp_dst": 0} | {"tcp_src": 5001})
    assert back.outcome == h1
    assert back.meters == ((4, reservation_meter_id(reservation, Direction.IN)),)
    assert meter(meters, 4, reservation_meter_id(reservation, Direction.IN)).rate_kbps == 5_000


def test_a_port_without_a_protocol_reserves_tcp_and_udp_through_one_meter() -> None:
    engine, _ = diamond()
    reservation = engine.create(0, "acme", request(H1, H4, 20 * M, match=Match(dst_port=9)))
    fake, _ = network(engine)
    h1, h4 = hosts(engine)
    reserved = ((1, reservation_meter_id(reservation, Direction.OUT)),)
    assert fake.send(h1, tcp(9, h4)).meters == reserved
    assert fake.send(h1, udp(h4)).meters == reserved
    other_port = fake.send(h1, tcp(5001, h4))
    assert other_port.outcome == h4 and other_port.meters != reserved


def test_best_effort_to_a_reserved_link_goes_through_its_meter_at_the_rest() -> None:
    engine, links = diamond()
    engine.create(
        0, "acme", request(H1, H4, 20 * M, 5 * M, match=Match(protocol="tcp", dst_port=5001))
    )
    fake, meters = network(engine)
    h1, h4 = hosts(engine)
    trace = fake.send(h1, udp(h4))
    assert trace.outcome == h4 and trace.links == (links["1-2"], links["2-4"])
    be = best_effort_meter_id(links["1-2"].src.port)
    assert trace.meters[0] == (1, be)
    best_effort = meter(meters, 1, be)
    assert (best_effort.rate_kbps, best_effort.burst_kbit) == (
        30_000,
        200,
    )  # 50M link - 20M reserved
    assert "ip_dscp" not in dict(trace.fields)  # best effort keeps its marking


def test_a_second_activation_changes_rates_not_flows() -> None:
    engine, links = diamond()
    lifecycle = Lifecycle(engine)
    first = engine.create(
        0, "acme", request(H1, H4, 20 * M, match=Match(protocol="tcp", dst_port=1))
    )
    engine.create(
        0,
        "acme",
        request(H1, H4, 10 * M, window=Window(50, 100), match=Match(protocol="tcp", dst_port=2)),
    )
    plan_before = plan_switches(
        engine.topology, engine.reservations.values(), engine.policy, SETTINGS
    )
    lifecycle.tick(50)
    plan_after = plan_switches(
        engine.topology, engine.reservations.values(), engine.policy, SETTINGS
    )
    base_before = {f for f in plan_before.switches[1].flows if f.table == 1}
    base_after = {f for f in plan_after.switches[1].flows if f.table == 1}
    assert base_before == base_after
    be = best_effort_meter_id(links["1-2"].src.port)
    assert meter({1: plan_before.switches[1].meters}, 1, be).rate_kbps == 30_000
    assert meter({1: plan_after.switches[1].meters}, 1, be).rate_kbps == 20_000
    assert first.state is State.ACTIVE


def test_a_future_reservation_gets_no_flows_until_it_starts_and_none_after_it_ends() -> None:
    engine, _ = diamond()
    lifecycle = Lifecycle(engine)
    future = engine.create(
        0,
        "acme",
        request(H1, H4, 20 * M, window=Window(10, 20), match=Match(protocol="tcp", dst_port=7)),
    )
    h1, h4 = hosts(engine)
    fake, meters = network(engine)
    assert fake.send(h1, tcp(7, h4)).meters[0][1] != reservation_meter_id(future, Direction.OUT)
    assert all(m.id != reservation_meter_id(future, Direction.OUT) for m in meters[1])
    lifecycle.tick(10)
    fake, _ = network(engine)
    assert fake.send(h1, tcp(7, h4)).meters == ((1, reservation_meter_id(future, Direction.OUT)),)
    lifecycle.tick(20)
    fake, meters = network(engine)
    assert all(not m.meter for sw in fake.switches.values() for m in sw.flows)
    assert all(not ms for ms in meters.values())  # nothing booked, nothing metered


def test_flows_end_by_themselves_at_the_window_end() -> None:
    engine, _ = diamond()
    reservation = engine.create(0, "acme", request(H1, H4, M, window=Window(0, 3600)))
    fake, _ = network(engine)
    reserved = [
        f
        for sw in fake.switches.values()
        for f in sw.flows
        if cookie_layer(f.cookie) is Layer.RESERVATION
    ]
    assert reserved and all(f.until == reservation.window.end for f in reserved)


def test_same_switch_reservations_and_outside_destinations() -> None:
    engine, links = diamond()
    h1 = engine.topology.hosts()[0]
    gate = engine.create(0, "acme", request(H1, "203.0.113.9", 10 * M, kind=Kind.ONEWAY, inbound=0))
    fake, meters = network(engine)
    packet = {"eth_type": 0x0800, "ipv4_src": H1, "ipv4_dst": "203.0.113.9", "eth_dst": h1.mac}
    trace = fake.send(h1.mac, packet | {"eth_dst": engine.topology.hosts()[1].mac})
    assert trace.meters[0] == (
        1,
        reservation_meter_id(gate, Direction.OUT),
    )  # metered, then forwarded as usual
    assert meter(meters, 1, best_effort_meter_id(links["1-2"].src.port)).rate_kbps == 40_000
    assert meter(meters, 1, best_effort_meter_id(links["1-3"].src.port)).rate_kbps == 40_000


def test_identical_traffic_reserved_by_another_owner_is_refused_without_naming_it() -> None:
    engine, _ = diamond()
    first = engine.create(0, "acme", request(H1, H4, M))
    with pytest.raises(Conflict) as refused:
        engine.create(0, "globex", request(H4, H1, M))  # the other way round: the same traffic
    assert refused.value.code == "duplicate" and not refused.value.details
    with pytest.raises(Conflict) as oneway:  # one of the directions it carries
        engine.create(0, "acme", request(H4, H1, M, kind=Kind.ONEWAY))
    assert oneway.value.details == {"reservation": first.id}
    engine.create(0, "globex", request(H1, H4, M, kind=Kind.ONEWAY, window=Window(200, 300)))
    with pytest.raises(Conflict) as extended:
        engine.modify(0, first.id, Modification(end=250, bandwidth=None))
    assert extended.value.code == "duplicate"
    assert engine.get(first.id).window.end == 100


def test_identical_traffic_stored_twice_is_enforced_once_and_the_other_says_so() -> None:
    """A database from before duplicates of other owners were refused may hold both."""
    engine, _ = diamond()
    first = engine.create(0, "acme", request(H1, H4, M))
    second = replace(first, id="r-older-twin", owner="globex", serial=first.serial + 1)
    engine.restore([second])
    plan = plan_switches(engine.topology, engine.reservations.values(), Policy(), SETTINGS)
    assert first.id not in plan.conflicts
    assert first.id in plan.conflicts[second.id]


def test_meters_allow_for_frame_headers_and_best_effort_gives_way_to_match() -> None:
    engine, links = diamond()
    engine.create(0, "acme", request(H1, H4, 20 * M, match=Match(protocol="tcp", dst_port=1)))
    settings = MeterSettings(reserved_burst_ms=300, best_effort_burst_kbit=200, overhead_percent=5)
    plan = plan_switches(engine.topology, engine.reservations.values(), engine.policy, settings)
    rates = {m.id: (m.rate_kbps, m.burst_kbit) for m in plan.switches[1].meters}
    reservation = next(iter(engine.reservations.values()))
    assert rates[reservation_meter_id(reservation, Direction.OUT)] == (21_000, 6_300)
    assert rates[best_effort_meter_id(links["1-2"].src.port)] == (29_000, 200)
