"""Mirrors on the fake network: the mirrored traffic is forwarded as before and one copy of what
the mirror selects reaches the collector, wherever it is; bad requests change nothing."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import pytest

from tegu_ryu.enforcement.desired import DesiredState
from tegu_ryu.enforcement.planner import (
    MeterSettings,
    best_effort_meter_id,
    plan_switches,
    reservation_meter_id,
)
from tegu_ryu.errors import Conflict, Forbidden, InvalidField, NotFound, RequestError
from tegu_ryu.openflow.flows import OFPP_IN_PORT, Flow, Output, match
from tegu_ryu.reservations.lifecycle import Lifecycle
from tegu_ryu.reservations.memory_store import MemoryStore
from tegu_ryu.reservations.model import Direction, MirrorReservation, Reservation, State
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.reservations.store import decode_reservation, encode_reservation
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import Host

from .fakenet import FakeNetwork, Trace
from .topologies import Builder

M = 10**6
ADMIN = Principal("ops", admin=True)
ACME = Principal("acme", admin=False)
SETTINGS = MeterSettings(reserved_burst_ms=100, best_effort_burst_kbit=200, overhead_percent=0)


class Line:
    """s1 - s2 - s3 at 100 Mbit/s: h1 and h2 on s1 (h1 is acme's), h4 and the collector c on s3."""

    def __init__(self) -> None:
        builder = Builder(CapacityPolicy(override_default=100 * M))
        self.s1_s2 = builder.link(1, 2)
        self.s2_s3 = builder.link(2, 3)
        self.h1, self.h2 = builder.host(1), builder.host(1)
        self.h4, self.c = builder.host(3), builder.host(3)
        builder.connect_all()
        self.topology = builder.topology
        self.topology.add_static_host(
            Host(mac=self.h1.mac, attach=self.h1.attach, ips=self.h1.ips, tenant="acme")
        )
        self.store = MemoryStore()
        self.service = ReservationService(
            self.topology, self.store, threading.RLock(), Policy(), retention=3600
        )

    def reserve(self, who: Principal = ADMIN, now: float = 0, **body: Any) -> Reservation:
        fields = {"type": "mirror", "ports": [self.h1.ips[0]], "output": self.c.ips[0]}
        fields.update({"start": 0, "end": 1000})
        fields.update(body)
        return self.service.create(who, fields, now=now, reply=lambda r: r)

    def bandwidth(self, src: Host, dst: Host, rate: str, **body: Any) -> Reservation:
        """An admin's bandwidth reservation from ``src`` to ``dst``, from 0 to 900."""
        fields = {"src": src.ips[0], "dst": dst.ips[0], "bandwidth": rate, "start": 0, "end": 900}
        return self.service.create(ADMIN, {**fields, **body}, now=0, reply=lambda r: r)

    def network(self) -> FakeNetwork:
        engine = self.service.engine
        plan = plan_switches(engine.topology, engine.reservations.values(), engine.policy, SETTINGS)
        return FakeNetwork(self.topology, {d: sw.flows for d, sw in plan.switches.items()})


def ip(src: Host, dst: Host, **extra: int | str) -> dict[str, int | str]:
    return {
        "eth_type": 0x0800,
        "eth_src": src.mac,
        "eth_dst": dst.mac,
        "ipv4_src": src.ips[0],
        "ipv4_dst": dst.ips[0],
        "ip_proto": 17,
        "udp_dst": 9,
        **extra,
    }


def ends(traces: list[Trace]) -> list[str]:
    return sorted(trace.outcome for trace in traces)


def test_an_ingress_mirror_copies_what_the_port_receives_once_to_a_collector_far_away() -> None:
    line = Line()
    mirror = line.reserve(direction="ingress")
    assert mirror.state is State.ACTIVE
    net = line.network()
    traces = net.deliveries(line.h1.mac, ip(line.h1, line.h2))
    assert ends(traces) == sorted([line.h2.mac, line.c.mac])  # delivered, and one copy
    copy = next(t for t in traces if t.outcome == line.c.mac)
    assert copy.links == (line.s1_s2, line.s2_s3)
    assert "vlan_vid" not in dict(copy.fields)  # the fabric tag is gone at the collector
    assert dict(copy.fields)["eth_dst"] == line.h2.mac  # the packet itself, not rewritten
    assert ends(net.deliveries(line.h2.mac, ip(line.h2, line.h1))) == [line.h1.mac]  # not sent


def test_an_egress_mirror_copies_what_the_switch_sends_out_of_the_port() -> None:
    line = Line()
    line.reserve(direction="egress")
    net = line.network()
    assert ends(net.deliveries(line.h2.mac, ip(line.h2, line.h1))) == sorted(
        [line.h1.mac, line.c.mac]
    )
    assert ends(net.deliveries(line.h4.mac, ip(line.h4, line.h1))) == sorted(
        [line.h1.mac, line.c.mac]
    )  # from another switch, too
    assert ends(net.deliveries(line.h1.mac, ip(line.h1, line.h2))) == [line.h2.mac]


def test_an_egress_copy_of_a_packet_from_the_collector_s_side_leaves_by_in_port() -> None:
    line = Line()
    line.reserve(ports=[line.h4.ips[0]], direction="egress")
    net = line.network()
    from_collector = net.deliveries(line.c.mac, ip(line.c, line.h4))
    assert ends(from_collector) == sorted([line.h4.mac, line.c.mac])  # its own port, same switch
    from_far = net.deliveries(line.h1.mac, ip(line.h1, line.h4))
    assert ends(from_far) == sorted([line.h4.mac, line.c.mac])


def test_the_fake_network_sends_nothing_back_out_of_the_in_port_but_by_in_port() -> None:
    line = Line()
    port = line.h1.attach.port
    back = Flow(priority=1, match=match(), actions=(Output(port),), cookie=0)
    assert ends(FakeNetwork(line.topology, {1: [back]}).deliveries(line.h1.mac, {})) == ["dropped"]
    by_in_port = replace(back, actions=(Output(OFPP_IN_PORT),))
    assert ends(FakeNetwork(line.topology, {1: [by_in_port]}).deliveries(line.h1.mac, {})) == [
        line.h1.mac
    ]


def test_both_directions_give_one_copy_per_packet_even_between_two_mirrored_ports() -> None:
    line = Line()
    line.reserve(ports=[line.h1.ips[0], line.h2.ips[0]], direction="both")
    net = line.network()
    for src, dst in ((line.h1, line.h2), (line.h2, line.h1), (line.h1, line.h4)):
        traces = net.deliveries(src.mac, ip(src, dst))
        assert ends(traces) == sorted([dst.mac, line.c.mac]), (src, dst)


def test_a_vlan_filter_copies_only_those_vlans() -> None:
    line = Line()
    line.reserve(direction="ingress", vlan=[7])
    net = line.network()
    tagged = net.deliveries(line.h1.mac, ip(line.h1, line.h2, vlan_vid=0x1000 | 7))
    assert ends(tagged) == sorted([line.h2.mac, line.c.mac])
    assert dict(next(t for t in tagged if t.outcome == line.c.mac).fields)["vlan_vid"] == (
        0x1000 | 7
    )  # the tenant's own tag survives under the fabric tag
    other = net.deliveries(line.h1.mac, ip(line.h1, line.h2, vlan_vid=0x1000 | 8))
    assert ends(other) == [line.h2.mac]


def test_a_traffic_filter_copies_only_matching_packets() -> None:
    line = Line()
    line.reserve(direction="ingress", match={"protocol": "tcp", "dst_port": 80})
    net = line.network()
    web = ip(line.h1, line.h4, ip_proto=6, tcp_dst=80)
    del web["udp_dst"]
    assert ends(net.deliveries(line.h1.mac, web)) == sorted([line.h4.mac, line.c.mac])
    assert ends(net.deliveries(line.h1.mac, ip(line.h1, line.h4))) == [line.h4.mac]


def test_a_collector_on_the_same_switch_gets_the_copy_straight() -> None:
    line = Line()
    line.reserve(ports=[line.h4.ips[0]], direction="ingress")
    traces = line.network().deliveries(line.h4.mac, ip(line.h4, line.h1))
    assert ends(traces) == sorted([line.h1.mac, line.c.mac])
    assert next(t for t in traces if t.outcome == line.c.mac).links == ()


def test_mirrored_reserved_traffic_keeps_its_path_and_meter_and_the_copy_is_metered() -> None:
    line = Line()
    reservation = line.bandwidth(line.h1, line.h4, "20M")
    mirror = line.reserve(direction="ingress", bandwidth="5M")
    traces = line.network().deliveries(line.h1.mac, ip(line.h1, line.h4))
    forwarded = next(t for t in traces if t.outcome == line.h4.mac)
    copy = next(t for t in traces if t.outcome == line.c.mac)
    assert forwarded.meters == ((1, reservation_meter_id(reservation, Direction.OUT)),)
    assert copy.meters == (
        (1, reservation_meter_id(reservation, Direction.OUT)),
        (1, reservation_meter_id(mirror, Direction.OUT)),
    )
    engine = line.service.engine
    assert engine.ledger.peak(line.s1_s2, mirror.window).amount == 25 * M  # both booked


def test_a_best_effort_copy_goes_through_the_best_effort_meter_of_a_booked_link() -> None:
    line = Line()
    line.bandwidth(line.h2, line.h4, "20M")
    line.reserve(direction="ingress")
    copy = next(
        t
        for t in line.network().deliveries(line.h1.mac, ip(line.h1, line.h2))
        if t.outcome == line.c.mac
    )
    assert (1, best_effort_meter_id(line.s1_s2.src.port)) in copy.meters


def test_no_copies_before_the_start_or_after_the_end() -> None:
    line = Line()
    mirror = line.reserve(direction="ingress", start=100, end=300)
    assert mirror.state is State.PENDING
    lifecycle = Lifecycle(line.service.engine)
    assert ends(line.network().deliveries(line.h1.mac, ip(line.h1, line.h2))) == [line.h2.mac]
    lifecycle.tick(100)
    assert line.c.mac in ends(line.network().deliveries(line.h1.mac, ip(line.h1, line.h2)))
    lifecycle.tick(300)
    assert ends(line.network().deliveries(line.h1.mac, ip(line.h1, line.h2))) == [line.h2.mac]


def test_a_booked_copy_that_would_overfill_a_link_is_refused_naming_it() -> None:
    line = Line()
    line.bandwidth(line.h2, line.h4, "90M")
    with pytest.raises(Conflict) as refused:
        line.reserve(bandwidth="20M")
    assert refused.value.code == "no_capacity"
    assert refused.value.details["link"]["src"] == line.s1_s2.src.as_json()
    assert refused.value.details["available_bps"] == 10 * M
    assert [r.type for r in line.service.engine.reservations.values()] == ["bandwidth"]


@pytest.mark.parametrize(
    ("body", "error", "field"),
    [
        ({"ports": []}, InvalidField, "ports"),
        ({"ports": ["10.9.9.9"]}, NotFound, "ports[0]"),
        ({"ports": ["0000000000000009:1"]}, NotFound, "ports[0]"),
        ({"output": "10.0.0.1"}, InvalidField, "output"),
        ({"end": 30}, InvalidField, "end"),
        ({"direction": "sideways"}, InvalidField, "direction"),
        ({"vlan": [0]}, InvalidField, "vlan[0]"),
        ({"match": {"dst_port": 80, "protocol": "icmp"}}, InvalidField, "match.dst_port"),
        ({"output": "0000000000000001:1"}, InvalidField, "output"),  # a port between switches
        ({"bogus": 1}, InvalidField, "bogus"),
        ({"output": {"tunnel": {}, "remote_ip": "10.99.0.3"}}, InvalidField, "output.tunnel"),
        ({"output": {"tunnel": "gre", "remote_ip": "nowhere"}}, InvalidField, "output.remote_ip"),
        (
            {"output": {"tunnel": "vxlan", "remote_ip": "::1", "key": 2**24}},
            InvalidField,
            "output.key",
        ),
        (
            {"output": {"tunnel": "gre", "remote_ip": "10.99.0.3", "ttl": 1}},
            InvalidField,
            "output.ttl",
        ),
        ({"output": {"tunnel": "gre", "remote_ip": "10.99.0.3"}}, Forbidden, "output.remote_ip"),
    ],
)
def test_bad_requests_say_which_field_and_store_nothing(
    body: dict[str, Any], error: type[RequestError], field: str
) -> None:
    line = Line()
    with pytest.raises(error) as caught:
        line.reserve(**body)
    assert caught.value.details.get("field") == field
    assert not line.service.engine.reservations
    assert not line.store.load().reservations


def test_ports_on_two_switches_are_refused() -> None:
    line = Line()
    with pytest.raises(InvalidField, match="one switch"):
        line.reserve(ports=[line.h1.ips[0], line.h4.ips[0]])


def test_tenants_mirror_only_their_own_hosts_and_never_by_port_number() -> None:
    line = Line()
    with pytest.raises(Forbidden):
        line.reserve(who=ACME, ports=[line.h2.ips[0]])
    with pytest.raises(Forbidden):
        line.reserve(who=ACME, ports=["0000000000000001:3"])
    with pytest.raises(Forbidden):  # the collector must be theirs too
        line.reserve(who=ACME)


def test_duplicates_and_clashes_on_one_switch_are_refused_while_others_fit() -> None:
    line = Line()
    first = line.reserve(direction="ingress")
    with pytest.raises(Conflict) as duplicate:
        line.reserve(direction="ingress", start=500, end=2000)
    assert duplicate.value.code == "duplicate"
    with pytest.raises(Conflict) as clash:
        line.reserve(ports=[line.h2.ips[0]], direction="egress")
    assert clash.value.code == "mirror_conflict"
    assert line.reserve(ports=[line.h2.ips[0]], direction="ingress").id != first.id
    assert line.reserve(direction="ingress", start=1000, end=2000).id != first.id  # later


def test_a_mirror_is_stored_and_read_back_unchanged() -> None:
    line = Line()
    mirror = line.reserve(
        direction="egress",
        vlan=[5, 6],
        match={"protocol": "tcp", "src_port": 22, "dst": line.h2.ips[0]},
        bandwidth="3M",
        name="watch",
    )
    assert isinstance(mirror, MirrorReservation)
    assert decode_reservation(encode_reservation(mirror)) == mirror
    assert line.store.load().reservations == [mirror]


def test_a_copy_path_that_breaks_moves_or_degrades() -> None:
    line = Line()
    mirror = line.reserve(direction="ingress")
    line.topology.link_lost(line.s2_s3, now=1)
    line.topology.expire(now=10**6)
    changed, _ = Lifecycle(line.service.engine).tick(2)
    assert [r.id for r in changed] == [mirror.id]
    degraded = line.service.engine.get(mirror.id)
    assert degraded.state is State.DEGRADED and "no path" in (degraded.reason or "")
    assert ends(line.network().deliveries(line.h1.mac, ip(line.h1, line.h2))) == [line.h2.mac]


def test_the_incremental_desired_state_matches_a_full_plan_with_mirrors() -> None:
    line = Line()
    engine = line.service.engine
    lifecycle = Lifecycle(engine)
    desired = DesiredState(SETTINGS)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("bandwidth", {"src": line.h2.ips[0], "dst": line.h4.ips[0], "bandwidth": "20M"}),
        ("mirror", {"direction": "ingress", "start": 5, "end": 400}),
        ("bandwidth", {"src": line.h1.ips[0], "dst": line.h4.ips[0], "bandwidth": "1M"}),
        ("mirror", {"ports": [line.h4.ips[0]], "direction": "egress", "bandwidth": "2M"}),
    ]
    now = 0
    for kind, body in steps:
        if kind == "mirror":
            line.reserve(now=now, **{"start": now, "end": 500, **body})
        else:
            line.service.create(
                ADMIN, {"start": now, "end": 600, **body}, now=now, reply=lambda r: r
            )
        now += 10
        lifecycle.tick(now)
        desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
        full = plan_switches(engine.topology, engine.reservations.values(), engine.policy, SETTINGS)
        for dpid, switch in full.switches.items():
            assert desired.flows.get(dpid, {}) == {f.key: f for f in switch.flows}, (kind, dpid)
            assert desired.meters.get(dpid, {}) == {m.id: m for m in switch.meters}
    for reservation in list(engine.reservations.values()):
        engine.cancel(now, reservation.id)
        desired.update(engine.topology, engine.reservations, engine.policy, paused=False)
        full = plan_switches(engine.topology, engine.reservations.values(), engine.policy, SETTINGS)
        for dpid, switch in full.switches.items():
            assert desired.flows.get(dpid, {}) == {f.key: f for f in switch.flows}, dpid


def test_extending_a_mirror_into_a_clash_is_refused_and_a_shared_tag_is_changed() -> None:
    line = Line()
    first = line.reserve(direction="ingress", end=100)
    elsewhere = line.reserve(ports=[line.h4.ips[0]], direction="ingress", start=100, end=1000)
    later = line.reserve(ports=[line.h2.ips[0]], direction="egress", start=200, end=1000)
    assert isinstance(first, MirrorReservation) and isinstance(elsewhere, MirrorReservation)
    assert first.tag == elsewhere.tag  # their windows do not overlap
    longer = line.service.modify(ADMIN, first.id, {"end": 150}, now=1)
    assert isinstance(longer, MirrorReservation) and longer.tag != elsewhere.tag
    with pytest.raises(Conflict) as clash:
        line.service.modify(ADMIN, first.id, {"end": 250}, now=1)
    assert clash.value.code == "mirror_conflict" and clash.value.details == {
        "reservation": later.id
    }
    assert line.service.engine.get(first.id).window.end == 150
    with pytest.raises(InvalidField, match="at least 60"):
        line.service.modify(ADMIN, first.id, {"end": 30}, now=1)


def test_a_frame_faking_a_copy_never_reaches_the_collector() -> None:
    line = Line()
    mirror = line.reserve(direction="ingress")
    assert isinstance(mirror, MirrorReservation)
    net = line.network()
    fake = ip(line.h2, line.h4, vlan_vid=0x1000 | mirror.tag)
    assert ends(net.deliveries(line.h2.mac, fake)) == ["dropped"]
    assert ends(net.deliveries(line.h1.mac, ip(line.h1, line.h2))) == sorted(
        [line.h2.mac, line.c.mac]
    )
    with pytest.raises(InvalidField, match="mirror copies"):
        line.bandwidth(line.h2, line.h4, "1M", vlan=3001)


def test_address_filters_of_two_families_are_refused() -> None:
    line = Line()
    with pytest.raises(InvalidField) as mixed:
        line.reserve(match={"src": line.h1.ips[0], "dst": "fd00::3"})
    assert mixed.value.details["field"] == "match.dst"


def test_a_best_effort_copy_needs_no_free_capacity() -> None:
    line = Line()
    line.bandwidth(line.h2, line.h4, "90M")
    line.service.set_policy(ADMIN, {"headroom_percent": 50})  # the link is now overbooked
    assert line.reserve(direction="ingress").state is State.ACTIVE


def test_a_stored_mirror_whose_path_the_planner_cannot_use_is_damaged() -> None:
    line = Line()
    record = encode_reservation(line.reserve(direction="ingress"))
    for route in ({"hops": [], "links": []}, {"hops": [[1, 0, None]], "links": []}):
        with pytest.raises(ValueError, match="route"):
            decode_reservation({**record, "spec": {**record["spec"], "route": route}})
