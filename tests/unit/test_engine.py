"""Admission, explanations, lifecycle and re-routing, with a fake clock."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tegu_ryu.errors import Conflict, InvalidField, NotFound
from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.lifecycle import Lifecycle
from tegu_ryu.reservations.model import Bandwidth, Direction, Kind, Match, State
from tegu_ryu.reservations.paths import PathMode
from tegu_ryu.reservations.policy import Discount, Fence, Policy
from tegu_ryu.reservations.requests import Modification, ReservationRequest
from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import PortState
from tegu_ryu.topology.refs import LinkId, from_host, to_host

from .topologies import Builder

M = 10**6


def request(
    src: str,
    dst: str,
    out: int,
    inbound: int | None = None,
    window: Window = Window(0, 100),
    kind: Kind = Kind.BANDWIDTH,
    match: Match = Match(),
    mode: PathMode = PathMode.SHORTEST,
) -> ReservationRequest:
    bandwidth = Bandwidth(out, out if inbound is None else inbound)
    return ReservationRequest(kind, src, dst, bandwidth, window, match, None, mode, None)


def diamond(capacity: int = 50 * M, host_port: int = 10**10) -> tuple[Engine, dict[str, LinkId]]:
    """s1 -> s2 -> s4 (short) and s1 -> s3 -> s5 -> s4 (long); h1 on s1, h4 on s4."""
    builder = Builder(CapacityPolicy(override_default=capacity))
    links = {
        "1-2": builder.link(1, 2),
        "2-4": builder.link(2, 4),
        "1-3": builder.link(1, 3),
        "3-5": builder.link(3, 5),
        "5-4": builder.link(5, 4),
    }
    hosts = [builder.host(1), builder.host(4)]
    # Hosts' own ports are wide, so that these tests are about the paths between switches.
    builder.topology.capacity = CapacityPolicy(
        per_port={h.attach: host_port for h in hosts}, override_default=capacity
    )
    builder.connect_all()
    engine = Engine(builder.topology, new_id=iter(f"r{n}" for n in itertools.count()).__next__)
    return engine, links


H1, H4 = "10.0.0.1", "10.0.0.2"


def test_a_fitting_request_is_booked_on_the_shortest_path_both_ways() -> None:
    engine, links = diamond()
    reservation = engine.create(0, "acme", request(H1, H4, 20 * M, 5 * M))
    assert reservation.state is State.ACTIVE
    assert reservation.routes[Direction.OUT].links == (links["1-2"], links["2-4"])
    assert reservation.routes[Direction.IN].links == (
        links["2-4"].reversed(),
        links["1-2"].reversed(),
    )
    hops = reservation.routes[Direction.OUT].hops
    assert [h.dpid for h in hops] == [1, 2, 4]
    assert hops[0].in_port == reservation.src.attach.port  # type: ignore[union-attr]
    assert hops[-1].out_port == reservation.dst.attach.port  # type: ignore[union-attr]
    assert engine.ledger.peak(links["1-2"], Window(0, 100)).amount == 20 * M
    assert engine.ledger.peak(links["1-2"].reversed(), Window(0, 100)).amount == 5 * M


def test_when_the_short_path_is_full_the_long_one_is_used() -> None:
    engine, links = diamond()
    engine.create(0, "acme", request(H1, H4, 40 * M))
    second = engine.create(0, "acme", request(H1, H4, 20 * M, match=Match(protocol="udp")))
    assert second.routes[Direction.OUT].links == (links["1-3"], links["3-5"], links["5-4"])


def test_a_rejection_names_the_bottleneck_link_interval_and_free_capacity() -> None:
    engine, links = diamond()
    engine.create(0, "acme", request(H1, H4, 40 * M, window=Window(0, 100)))
    engine.create(
        0, "acme", request(H1, H4, 45 * M, window=Window(30, 40), match=Match(protocol="udp"))
    )
    with pytest.raises(Conflict) as caught:
        engine.create(
            0, "acme", request(H1, H4, 20 * M, window=Window(10, 90), match=Match(protocol="icmp"))
        )
    error = caught.value
    assert error.code == "no_capacity"
    details = error.details
    assert details is not None
    assert details["direction"] == "out"
    assert details["link"] == {"src": links["1-2"].src.as_json(), "dst": links["1-2"].dst.as_json()}
    assert details["available_bps"] == 10 * M
    assert details["requested_bps"] == 20 * M
    assert details["interval"] == ["1970-01-01T00:00:10Z", "1970-01-01T00:01:30Z"]
    assert "10Mbit/s free" in error.message
    assert engine.ledger.bookings("r2") == []  # nothing booked on rejection


def test_a_busy_interval_strictly_inside_the_window_is_seen() -> None:
    engine, _links = diamond()
    engine.create(0, "acme", request(H1, H4, 45 * M, window=Window(50, 51)))
    engine.create(
        0, "acme", request(H1, H4, 45 * M, window=Window(50, 51), match=Match(protocol="udp"))
    )
    with pytest.raises(Conflict) as caught:
        engine.create(
            0, "acme", request(H1, H4, 10 * M, window=Window(0, 100), match=Match(protocol="icmp"))
        )
    assert caught.value.details["interval"] == ["1970-01-01T00:00:50Z", "1970-01-01T00:00:51Z"]  # type: ignore[index]


def test_the_hosts_own_ports_are_booked_too() -> None:
    """Two reservations into one host cannot together exceed its port, whatever the paths."""
    engine, _ = diamond(host_port=30 * M)
    engine.create(0, "acme", request(H1, H4, 20 * M, 1 * M))
    with pytest.raises(Conflict) as caught:
        engine.create(0, "acme", request(H1, H4, 20 * M, 1 * M, match=Match(protocol="udp")))
    error = caught.value
    assert error.code == "no_capacity" and error.details["available_bps"] == 10 * M  # type: ignore[index]
    assert "up from its host" in error.message  # h1's port towards its switch
    engine.create(0, "acme", request(H1, H4, 10 * M, 1 * M, match=Match(protocol="udp")))


def test_no_path_is_its_own_rejection() -> None:
    engine, links = diamond()
    for name in ("1-2", "1-3"):
        engine.topology.port_updated(1, PortState(port=links[name].src.port, up=False))
    with pytest.raises(Conflict) as caught:
        engine.create(0, "acme", request(H1, H4, M))
    assert caught.value.code == "no_path"


def test_fences_limit_a_tenant_and_say_so() -> None:
    engine, links = diamond()
    engine.fences["acme"] = Fence(percent=10)  # 5M of each 50M link
    engine.create(0, "acme", request(H1, H4, 5 * M))
    longer = engine.create(0, "acme", request(H1, H4, 5 * M, match=Match(protocol="udp")))
    assert longer.routes[Direction.OUT].links[0] == links["1-3"]  # the fence is per link
    with pytest.raises(Conflict) as caught:
        engine.create(0, "acme", request(H1, H4, 5 * M, match=Match(protocol="tcp")))
    assert caught.value.code == "fence"
    assert caught.value.details["available_bps"] == 0  # type: ignore[index]
    engine.create(0, "other", request(H1, H4, 40 * M, match=Match(protocol="icmp")))  # not fenced
    engine.fences["acme"] = Fence(percent=0)
    with pytest.raises(Conflict) as zero:
        engine.create(0, "acme", request(H1, H4, 1, match=Match(protocol="icmp", vlan=7)))
    assert zero.value.code == "fence"


def test_headroom_and_discount() -> None:
    engine, _ = diamond()
    engine.policy = Policy(headroom_percent=20, discount=Discount(percent=50))
    reservation = engine.create(0, "acme", request(H1, H4, 80 * M))
    assert reservation.requested.out == 80 * M and reservation.bandwidth.out == 40 * M
    with pytest.raises(Conflict):  # 40M usable on each path, 40M booked on the short one
        engine.create(0, "acme", request(H1, H4, 100 * M, match=Match(protocol="udp")))
    engine.policy = Policy(discount=Discount(bps=10**9))
    tiny = engine.create(0, "acme", request(H1, H4, 1000, match=Match(protocol="icmp")))
    assert tiny.bandwidth.out == 10  # never below 10 bit/s


def test_duplicates_are_rejected_in_either_order_and_for_other_owners_but_not_other_times() -> None:
    engine, _ = diamond()
    first = engine.create(
        0, "acme", request(H1, H4, M, match=Match(protocol="tcp", src_port=1, dst_port=2))
    )
    with pytest.raises(Conflict) as same:
        engine.create(
            0, "acme", request(H1, H4, M, match=Match(protocol="tcp", src_port=1, dst_port=2))
        )
    assert same.value.code == "duplicate" and same.value.details == {"reservation": first.id}
    with pytest.raises(Conflict):
        engine.create(
            0, "acme", request(H4, H1, M, match=Match(protocol="tcp", src_port=2, dst_port=1))
        )
    with pytest.raises(Conflict) as others:  # one entry on the switches: one can be carried
        engine.create(
            0, "other", request(H1, H4, M, match=Match(protocol="tcp", src_port=1, dst_port=2))
        )
    assert others.value.code == "duplicate" and not others.value.details  # not named to them
    engine.create(
        0,
        "acme",
        request(
            H1, H4, M, window=Window(100, 200), match=Match(protocol="tcp", src_port=1, dst_port=2)
        ),
    )


def test_a_port_without_protocol_duplicates_the_same_port_with_one() -> None:
    """Ports alone cover TCP and UDP, so they overlap a reservation for either."""
    engine, _ = diamond()
    first = engine.create(0, "acme", request(H1, H4, M, match=Match(dst_port=80)))
    for protocol in ("tcp", "udp"):
        with pytest.raises(Conflict) as caught:
            engine.create(0, "acme", request(H1, H4, M, match=Match(protocol, dst_port=80)))
        assert caught.value.details == {"reservation": first.id}
    engine.cancel(1, first.id)
    later = Window(1, 100)
    tcp = engine.create(1, "acme", request(H1, H4, M, window=later, match=Match("tcp", None, 80)))
    with pytest.raises(Conflict) as caught:
        engine.create(1, "acme", request(H1, H4, M, window=later, match=Match(dst_port=80)))
    assert caught.value.details == {"reservation": tcp.id}


def test_unknown_and_identical_endpoints() -> None:
    engine, _ = diamond()
    with pytest.raises(NotFound) as unknown:
        engine.create(0, "acme", request("10.9.9.9", H4, M))
    assert unknown.value.code == "unknown_endpoint" and unknown.value.details == {"field": "src"}
    with pytest.raises(InvalidField):
        engine.create(0, "acme", request(H1, "00:00:00:00:00:01", M))


def test_endpoints_resolve_by_address_mac_or_name() -> None:
    engine, _ = diamond()
    by_mac = engine.create(0, "acme", request("00:00:00:00:00:01", "00:00:00:00:00:02", M))
    assert by_mac.src.ip == H1 and by_mac.dst.ip == H4


def test_lifecycle_follows_the_clock_and_releases_capacity() -> None:
    engine, _links = diamond()
    lifecycle = Lifecycle(engine)
    reservation = engine.create(0, "acme", request(H1, H4, 40 * M, window=Window(10, 20)))
    assert reservation.state is State.PENDING
    changed, _ = lifecycle.tick(10)
    assert [r.state for r in changed] == [State.ACTIVE]
    changed, _ = lifecycle.tick(20)
    assert [r.state for r in changed] == [State.EXPIRED]
    assert engine.ledger.bookings(reservation.id) == []
    _, forgotten = lifecycle.tick(20 + engine.retention + 1)
    assert forgotten == [reservation.id]


def test_cancel_releases_the_rest_of_the_window() -> None:
    engine, _links = diamond()
    reservation = engine.create(0, "acme", request(H1, H4, 40 * M))
    engine.cancel(5, reservation.id)
    assert engine.get(reservation.id).state is State.CANCELLED
    engine.create(5, "acme", request(H1, H4, 40 * M, window=Window(5, 100)))
    with pytest.raises(Conflict) as again:
        engine.cancel(6, reservation.id)
    assert again.value.code == "ended"


def test_modify_is_admitted_without_counting_itself_and_refusal_changes_nothing() -> None:
    engine, links = diamond()
    reservation = engine.create(0, "acme", request(H1, H4, 40 * M))
    bigger = engine.modify(
        1, reservation.id, Modification(end=200, bandwidth=Bandwidth(50 * M, 50 * M))
    )
    assert bigger.bandwidth.out == 50 * M and bigger.window.end == 200
    assert bigger.routes == reservation.routes  # still fits where it is: it does not move
    engine.create(
        0, "acme", request(H1, H4, 50 * M, match=Match(protocol="udp"))
    )  # takes the long path
    with pytest.raises(Conflict):
        engine.modify(
            1, reservation.id, Modification(end=None, bandwidth=Bandwidth(51 * M, 51 * M))
        )
    assert engine.get(reservation.id) == bigger
    assert engine.ledger.peak(links["1-2"], Window(0, 200)).amount == 50 * M


def test_a_broken_path_moves_or_degrades_and_recovers() -> None:
    engine, links = diamond()
    lifecycle = Lifecycle(engine)
    reservation = engine.create(0, "acme", request(H1, H4, 30 * M))
    engine.topology.port_updated(2, PortState(port=links["2-4"].src.port, up=False))
    changed, _ = lifecycle.tick(1)
    assert [r.id for r in changed] == [reservation.id]
    moved = engine.get(reservation.id)
    assert moved.routes[Direction.OUT].links == (links["1-3"], links["3-5"], links["5-4"])
    assert engine.ledger.peak(links["1-2"], Window(1, 100)).amount == 0
    engine.topology.port_updated(3, PortState(port=links["3-5"].src.port, up=False))
    lifecycle.tick(2)
    degraded = engine.get(reservation.id)
    assert degraded.state is State.DEGRADED and "no path" in (degraded.reason or "")
    assert engine.ledger.bookings(reservation.id) == []
    engine.topology.port_updated(2, PortState(port=links["2-4"].src.port, up=True))
    lifecycle.tick(3)
    back = engine.get(reservation.id)
    assert back.state is State.ACTIVE and back.routes[Direction.OUT].links == (
        links["1-2"],
        links["2-4"],
    )


def test_two_hosts_behind_one_port_share_it_both_ways() -> None:
    """Each direction goes up and down the same port: their needs add up."""
    builder = Builder(CapacityPolicy(override_default=100 * M))
    first = builder.host(1)
    builder.topology.host_seen("00:00:00:00:01:99", first.attach, "10.0.1.99")
    builder.connect_all()
    engine = Engine(builder.topology)
    with pytest.raises(Conflict) as caught:
        engine.create(0, "acme", request(first.ips[0], "10.0.1.99", 60 * M))
    assert caught.value.details["requested_bps"] == 120 * M  # type: ignore[index]
    engine.create(0, "acme", request(first.ips[0], "10.0.1.99", 50 * M))


def test_a_reservation_whose_host_is_not_known_yet_can_still_change_and_move() -> None:
    """After a restart, a host is unknown until it sends a packet; its port still has room."""
    engine, links = diamond(host_port=30 * M)
    reservation = engine.create(0, "acme", request(H1, H4, 20 * M))
    builder = Builder(CapacityPolicy(override_default=50 * M))
    for a, b in ((1, 2), (2, 4), (1, 3), (3, 5), (5, 4)):
        builder.link(a, b)
    builder.topology.capacity = engine.topology.capacity
    builder.connect_all()
    restarted = Engine(builder.topology)
    restarted_lifecycle = Lifecycle(restarted)
    restarted.restore([reservation])
    assert restarted.topology.hosts() == []
    longer = restarted.modify(1, reservation.id, Modification(end=200, bandwidth=None))
    assert longer.window.end == 200
    with pytest.raises(Conflict) as caught:
        restarted.modify(1, reservation.id, Modification(end=None, bandwidth=Bandwidth(31 * M, M)))
    assert "up from its host" in caught.value.message
    restarted.topology.port_updated(2, PortState(port=links["2-4"].src.port, up=False))
    restarted_lifecycle.tick(2)
    moved = restarted.get(reservation.id)
    assert moved.state is State.ACTIVE
    assert moved.routes[Direction.OUT].links == (links["1-3"], links["3-5"], links["5-4"])


def test_oneway_to_an_outside_address_books_every_link_out_of_the_ingress_switch() -> None:
    engine, links = diamond()
    gate = engine.create(0, "acme", request(H1, "203.0.113.9", 30 * M, kind=Kind.ONEWAY, inbound=0))
    assert gate.dst.attach is None
    assert set(gate.routes[Direction.OUT].links) == {links["1-2"], links["1-3"]}
    with pytest.raises(Conflict):
        engine.create(0, "acme", request(H1, "203.0.113.10", 30 * M, kind=Kind.ONEWAY, inbound=0))
    with pytest.raises(NotFound):  # only one-way may leave the network
        engine.create(0, "acme", request(H1, "203.0.113.10", M))


def test_widest_prefers_the_emptier_path() -> None:
    engine, links = diamond()
    engine.create(0, "acme", request(H1, H4, 10 * M))
    wide = engine.create(
        0, "acme", request(H1, H4, 10 * M, match=Match(protocol="udp"), mode=PathMode.WIDEST)
    )
    assert wide.routes[Direction.OUT].links[0] == links["1-3"]


def test_availability_is_the_widest_bottleneck() -> None:
    engine, _ = diamond()
    engine.create(0, "acme", request(H1, H4, 40 * M, 0 + 1))
    src = engine.resolve(H1, "src", external_ok=False)
    dst = engine.resolve(H4, "dst", external_ok=False)
    result = engine.availability("acme", src, dst, Window(0, 100))
    assert result[Direction.OUT][0] == 50 * M  # the long path is empty
    assert result[Direction.IN][0] == 50 * M


def test_availability_counts_the_hosts_ports() -> None:
    engine, _ = diamond(host_port=30 * M)
    engine.create(0, "acme", request(H1, H4, 20 * M))
    src = engine.resolve(H1, "src", external_ok=False)
    dst = engine.resolve(H4, "dst", external_ok=False)
    result = engine.availability("acme", src, dst, Window(0, 100))
    assert result[Direction.OUT][0] == result[Direction.IN][0] == 10 * M  # not the paths' 50M
    engine.create(0, "acme", request(H1, H4, 10 * M, match=Match(protocol="udp")))


def test_availability_is_never_negative_and_never_of_a_host_with_itself() -> None:
    engine, _ = diamond(host_port=30 * M)
    engine.create(0, "acme", request(H1, H4, 20 * M))
    engine.fences["acme"] = Fence(bps=5 * M)  # lowered below what acme already holds
    src = engine.resolve(H1, "src", external_ok=False)
    dst = engine.resolve(H4, "dst", external_ok=False)
    result = engine.availability("acme", src, dst, Window(0, 100))
    assert result[Direction.OUT][0] == result[Direction.IN][0] == 0
    with pytest.raises(InvalidField, match="same host"):
        engine.availability("acme", src, src, Window(0, 100))


def test_availability_between_hosts_on_one_switch_is_their_ports() -> None:
    builder = Builder(CapacityPolicy(override_default=25 * M))
    a, b = builder.host(1), builder.host(1)
    builder.connect_all()
    engine = Engine(builder.topology)
    src = engine.resolve(a.ips[0], "src", external_ok=False)
    dst = engine.resolve(b.ips[0], "dst", external_ok=False)
    result = engine.availability("acme", src, dst, Window(0, 100))
    assert result[Direction.OUT][0] == 25 * M


def test_an_alarm_is_raised_when_a_booking_crosses_the_threshold() -> None:
    engine, links = diamond()
    engine.policy = Policy(alarm_percent=50)
    engine.create(0, "acme", request(H1, H4, 20 * M))
    assert not engine.alarms
    engine.create(0, "acme", request(H1, H4, 10 * M, match=Match(protocol="udp")))
    assert {a.link for a in engine.alarms} == {
        links["1-2"],
        links["2-4"],
        links["1-2"].reversed(),
        links["2-4"].reversed(),
    }
    assert all(a.booked_bps == 30 * M and a.threshold_bps == 25 * M for a in engine.alarms)


# ------------------------------------------------------------------ property


def oracle_room(
    bookings: list[tuple[LinkId, str, Window, int]],
    link: LinkId,
    tenant: str | None,
    window: Window,
) -> int:
    relevant = [
        (w, a) for lk, t, w, a in bookings if lk == link and (tenant is None or t == tenant)
    ]
    instants = {window.start} | {
        x for w, _ in relevant for x in (w.start, w.end) if window.start <= x < window.end
    }
    return max(sum(a for w, a in relevant if w.contains(t)) for t in instants)


@st.composite
def traces(
    draw: st.DrawFn, max_steps: int = 25
) -> tuple[Builder, list[tuple[int, int, int, int, int, int, str]]]:
    size = draw(st.integers(min_value=2, max_value=5))
    builder = Builder(CapacityPolicy(override_default=10))
    for dpid in range(2, size + 1):
        builder.link(dpid, draw(st.integers(1, dpid - 1)))
    for a, b in draw(st.lists(st.tuples(st.integers(1, size), st.integers(1, size)), max_size=4)):
        if a != b:
            builder.link(a, b)
    for dpid in draw(st.lists(st.integers(1, size), min_size=2, max_size=4, unique=True)):
        builder.host(dpid)
    hosts = len(builder.topology.hosts())
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(0, hosts - 1),
                st.integers(0, hosts - 1),
                st.integers(1, 8),
                st.integers(0, 6),
                st.integers(0, 8),
                st.integers(1, 4),
                st.sampled_from(["a", "b"]),
            ),
            min_size=max(1, max_steps // 2),
            max_size=max_steps,
        )
    )
    return builder, steps


Trace = tuple[Builder, list[tuple[int, int, int, int, int, int, str]]]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces())
def test_admission_matches_a_brute_force_oracle(trace: Trace) -> None:
    check_against_oracle(trace)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(traces(max_steps=400))
def test_long_traces_match_the_oracle_too(trace: Trace) -> None:
    check_against_oracle(trace)


def check_against_oracle(trace: Trace) -> None:
    """Accept iff some path has room at every instant (both ways); never overbook any link."""
    builder, steps = trace
    topology = builder.connect_all()
    engine = Engine(topology, Policy(headroom_percent=10))
    engine.fences["b"] = Fence(percent=50)
    usable, fence_cap = 9, 5  # capacity 10, headroom 10%; tenant b fenced at 50%
    hosts = topology.hosts()
    graph = topology.graph()
    booked: list[tuple[LinkId, str, Window, int]] = []
    for n, (i, j, out, inbound, start, length, tenant) in enumerate(steps):
        if i == j:
            continue
        window = Window(start, start + length)
        src, dst = hosts[i], hosts[j]

        def fits(link: LinkId, amount: int) -> bool:
            free = usable - oracle_room(booked, link, None, window)
            if tenant == "b":
                free = min(free, fence_cap - oracle_room(booked, link, "b", window))
            return free >= amount

        def some_path(a: int, b: int, amount: int) -> bool:
            if amount == 0 or a == b:
                return True
            return any(
                all(fits(key, amount) for _, _, key in path)
                for path in nx.all_simple_edge_paths(graph, a, b)
            )

        access = [(from_host(src.attach), out), (to_host(dst.attach), out)]
        if inbound:
            access += [(from_host(dst.attach), inbound), (to_host(src.attach), inbound)]
        expected = (
            all(fits(link, amount) for link, amount in access)
            and some_path(src.attach.dpid, dst.attach.dpid, out)
            and some_path(dst.attach.dpid, src.attach.dpid, inbound)
        )
        req = request(src.ips[0], dst.ips[0], out, inbound, window=window, match=Match(vlan=n + 1))
        try:
            reservation = engine.create(0, tenant, req)
        except Conflict:
            assert not expected, f"step {n}: rejected but the oracle found a path"
            continue
        assert expected, f"step {n}: accepted but no path has room at every instant"
        for direction, link in reservation.bookings():
            booked.append((link, tenant, window, reservation.bandwidth.of(direction)))
    for link in {b[0] for b in booked}:
        for t in range(0, 12):
            assert oracle_room(booked, link, None, Window(t, t + 1)) <= usable
            assert oracle_room(booked, link, "b", Window(t, t + 1)) <= fence_cap


def test_the_next_edge_is_the_nearest_start_or_end_of_a_live_reservation() -> None:
    engine, _ = diamond()
    assert engine.next_edge(0) is None
    first = engine.create(0, "acme", request(H1, H4, M, window=Window(10, 20)))
    engine.create(0, "acme", request(H1, H4, M, window=Window(15, 40), match=Match(protocol="udp")))
    assert engine.next_edge(0) == 10
    assert engine.next_edge(10) == 15  # strictly after
    engine.cancel(11, first.id)
    assert engine.next_edge(16) == 40  # the cancelled one's end (20) is gone
    assert engine.next_edge(40) is None


def test_a_reservation_admitted_at_its_start_has_no_start_edge_to_tick_for() -> None:
    """Every tick reads every reservation: one made active at once must not cause one."""
    engine, _ = diamond()
    made = engine.create(5, "acme", request(H1, H4, M, window=Window(5, 30)))
    assert made.state is State.ACTIVE
    assert engine.next_edge(4) == 30  # its end only
    later = engine.create(
        5, "acme", request(H1, H4, M, window=Window(8, 20), match=Match(protocol="udp"))
    )
    assert later.state is State.PENDING and engine.next_edge(4) == 8


def test_the_engine_says_which_reservations_changed_since_a_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("tegu_ryu.reservations.engine.JOURNAL", 2)
    engine, _ = diamond()
    start = engine.version
    first = engine.create(0, "acme", request(H1, H4, M, window=Window(10, 20)))
    assert engine.changed_since(start) == {first.id}
    middle = engine.version
    second = engine.create(0, "acme", request(H1, H4, M, window=Window(30, 40)))
    engine.cancel(1, first.id)
    assert engine.changed_since(middle) == {first.id, second.id}
    assert engine.changed_since(engine.version) == set()
    assert engine.changed_since(start) is None  # three changes ago: more than it remembers
    assert engine.changed_since(engine.version + 1) is None


def test_the_edge_heap_does_not_grow_with_state_changes() -> None:
    engine, links = diamond()
    lifecycle = Lifecycle(engine)
    engine.create(0, "acme", request(H1, H4, M, window=Window(10, 86400)))
    for now in range(1, 201):  # the reservation moves back and forth between its paths
        engine.topology.port_updated(
            links["1-2"].src.dpid, PortState(links["1-2"].src.port, up=now % 2 == 0)
        )
        lifecycle.tick(now)
    assert len(engine._edges) <= 4
    assert engine.next_edge(200) == 86400
