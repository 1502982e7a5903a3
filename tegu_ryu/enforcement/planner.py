"""What every switch should hold so that reservations are kept: a pure function of state and time.

For each *active* reservation and each direction it carries traffic:

* at the ingress switch (table 0): match the reservation's traffic (addresses
  or MACs, protocol, ports, VLAN) on the host's port, pass it through the
  reservation's meter (rate = reserved bit/s), optionally mark DSCP, and send
  it out along the admitted path;
* on every further switch of the path: the same match on the port it
  arrives at, out along the path. Admission against a path means nothing if
  the traffic takes another one.

Best-effort isolation: every directed link that carries booked reservations
(switch links, and the ports down to reserved hosts) gets a meter on its
egress port through which all base-forwarding traffic to that port passes,
at the link's usable capacity minus what active
reservations hold on it now. Starting or ending a reservation changes that
meter's rate, not the flows. (Booking the first reservation on a link, and
the last one on it ending, attach and detach the meter.)

Every flow carries its reservation's cookie and a hard timeout at the
window's end, so a controller that dies for good does not leave
reservations on the switches.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from tegu_ryu.enforcement.classify import RESERVATION_PRIORITY, classifiers
from tegu_ryu.enforcement.mirror_plan import (
    Selection,
    guard_flows,
    mirror_flows,
    selecting,
    selections,
)
from tegu_ryu.enforcement.passthru_plan import passthru_flows
from tegu_ryu.enforcement.steering_plan import composed, is_steering, steering_flows
from tegu_ryu.enforcement.stitch_plan import stitch_flows
from tegu_ryu.enforcement.unmetered import unmetered_flow
from tegu_ryu.forwarding.base import plan_base_flows
from tegu_ryu.openflow.flows import (
    BEST_EFFORT_METERS,
    METER_FIRST,
    Action,
    Flow,
    FlowKey,
    Layer,
    Meter,
    Output,
    SetField,
    Table,
    cookie,
    match,
)
from tegu_ryu.reservations.model import (
    BandwidthReservation,
    Direction,
    MirrorReservation,
    PassthruReservation,
    Reservation,
    Route,
    State,
    SteeringReservation,
    StitchReservation,
)
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.refs import HOST_SIDE, LinkId

MIN_BEST_EFFORT_KBPS = 64  # a link fully reserved still lets a trickle of best effort through
NO_MODES: Mapping[int, str] = {}  # every switch enforces with meters


@dataclass(frozen=True)
class MeterSettings:
    """How meters are sized; these decide how well TCP fits under them (README, measured).

    A reservation is a promise of throughput, but meters count whole frames:
    1500-byte TCP segments carry 4.4 % of headers, so a meter at exactly the
    reserved rate gives TCP about 95.8 % of it. ``overhead_percent`` lets the
    meter pass that much more; the best-effort meter is reduced to match.
    """

    reserved_burst_ms: float = 300.0
    best_effort_burst_kbit: int = 200
    overhead_percent: float = 5.0

    def reserved_kbps(self, bps: int) -> int:
        return max(1, math.ceil(bps * (100 + self.overhead_percent) / 100 / 1000))


@dataclass(frozen=True)
class SwitchPlan:
    flows: tuple[Flow, ...]
    meters: tuple[Meter, ...]


@dataclass(frozen=True)
class Plan:
    """Desired state per switch, and reservations that cannot be enforced as asked."""

    switches: dict[int, SwitchPlan]
    conflicts: dict[str, str]


def reservation_cookie(reservation: Reservation) -> int:
    return cookie(Layer.RESERVATION, reservation.serial)


def reservation_meter_id(reservation: Reservation, direction: Direction) -> int:
    return METER_FIRST + 2 * reservation.serial + (0 if direction is Direction.OUT else 1)


def best_effort_meter_id(port: int) -> int:
    return BEST_EFFORT_METERS + port


def serial_of_meter(meter_id: int) -> int | None:
    """The reservation serial a meter id belongs to (None for best-effort meters)."""
    if METER_FIRST <= meter_id < BEST_EFFORT_METERS:
        return (meter_id - METER_FIRST) // 2
    return None


@dataclass(frozen=True)
class ReservationPlan:
    """One active reservation's flows and meters, per switch."""

    flows: dict[int, tuple[Flow, ...]]
    meters: dict[int, tuple[Meter, ...]]


def plan_reservation(
    reservation: Reservation, meters: MeterSettings, modes: Mapping[int, str] = NO_MODES
) -> ReservationPlan:
    """What one active reservation needs on the switches it crosses (its kind's planner);
    on switches that enforce without meters (``modes``: dpid -> queues|dscp) as they hold it."""
    plan = PLANNERS[type(reservation)](reservation, meters)
    if not modes.keys() & plan.flows.keys():
        return plan
    dscp = reservation.dscp if isinstance(reservation, BandwidthReservation) else None
    return ReservationPlan(
        flows={
            dpid: tuple(unmetered_flow(f, modes[dpid], reservation, dscp) for f in flows)
            if dpid in modes
            else flows
            for dpid, flows in plan.flows.items()
        },
        meters={dpid: m for dpid, m in plan.meters.items() if dpid not in modes},
    )


def _plan_mirror(mirror: MirrorReservation, meters: MeterSettings) -> ReservationPlan:
    """A mirror's table entries and copy path; its meter when the copy has a booked rate."""
    bps = mirror.rate(Direction.OUT)
    rate = meters.reserved_kbps(bps) if bps else None
    meter_id = None if rate is None else reservation_meter_id(mirror, Direction.OUT)
    flows = mirror_flows(mirror, reservation_cookie(mirror), meter_id)
    meter_list: dict[int, tuple[Meter, ...]] = {}
    if rate is not None and meter_id is not None and flows:
        meter_list[mirror.switch] = (
            Meter(
                meter_id,
                rate,
                max(1, math.ceil(rate * meters.reserved_burst_ms / 1000)),
                description=f"mirror {mirror.id} copy",
            ),
        )
    return ReservationPlan(flows={dpid: tuple(f) for dpid, f in flows.items()}, meters=meter_list)


def _plan_steering(steering: SteeringReservation, meters: MeterSettings) -> ReservationPlan:
    """A chain's entries, and its meter per direction where its traffic enters, with a rate."""
    meter_ids: dict[Direction, int] = {}
    meter_list: dict[int, list[Meter]] = defaultdict(list)
    for direction, legs in steering.legs.items() if steering.bandwidth else ():
        rate = meters.reserved_kbps(steering.bandwidth or 0)
        meter_ids[direction] = reservation_meter_id(steering, direction)
        for dpid in {leg.route.hops[0].dpid for leg in legs if leg.index == 0}:
            meter_list[dpid].append(
                Meter(
                    meter_ids[direction],
                    rate,
                    max(1, math.ceil(rate * meters.reserved_burst_ms / 1000)),
                    description=f"steering {steering.id} {direction.value}",
                )
            )
    flows = steering_flows(steering, reservation_cookie(steering), meter_ids)
    return ReservationPlan(flows=flows, meters={d: tuple(m) for d, m in meter_list.items()})


def _plan_passthru(passthru: PassthruReservation, meters: MeterSettings) -> ReservationPlan:
    return ReservationPlan(flows=passthru_flows(passthru, reservation_cookie(passthru)), meters={})


def best_effort_copy(reservation: Reservation) -> bool:
    """True for traffic a reservation sends with no booked rate (a mirror's copy, a chain
    without bandwidth): its entries go through the links' best-effort meters."""
    return isinstance(reservation, MirrorReservation | SteeringReservation) and not (
        reservation.bandwidth
    )


def _plan_bandwidth(reservation: BandwidthReservation, meters: MeterSettings) -> ReservationPlan:
    flows: dict[int, list[Flow]] = defaultdict(list)
    meter_list: dict[int, list[Meter]] = defaultdict(list)
    for direction, route in reservation.routes.items():
        for dpid, flow in _path_flows(reservation, direction, route):
            flows[dpid].append(flow)
        rate = meters.reserved_kbps(reservation.bandwidth.of(direction))
        meter_list[route.hops[0].dpid].append(
            Meter(
                reservation_meter_id(reservation, direction),
                rate,
                max(1, math.ceil(rate * meters.reserved_burst_ms / 1000)),
                description=f"reservation {reservation.id} {direction.value}",
            )
        )
    return ReservationPlan(
        flows={dpid: tuple(f) for dpid, f in flows.items()},
        meters={dpid: tuple(m) for dpid, m in meter_list.items()},
    )


def _plan_stitch(segment: StitchReservation, meters: MeterSettings) -> ReservationPlan:
    """A stitched segment's path flows (label put on and taken off at the stitch port:
    ``stitch_plan.labelling``) and its meter per direction where the traffic enters this
    domain."""
    flows: dict[int, list[Flow]] = defaultdict(list)
    meter_list: dict[int, list[Meter]] = defaultdict(list)
    meter_ids = {d: reservation_meter_id(segment, d) for d in segment.routes}
    for dpid, flow in stitch_flows(segment, reservation_cookie(segment), meter_ids):
        flows[dpid].append(flow)
    for direction, route in segment.routes.items() if flows else ():
        rate = meters.reserved_kbps(segment.bandwidth.of(direction))
        meter_list[route.hops[0].dpid].append(
            Meter(
                meter_ids[direction],
                rate,
                max(1, math.ceil(rate * meters.reserved_burst_ms / 1000)),
                description=f"stitched {segment.id} {direction.value}",
            )
        )
    return ReservationPlan(
        flows={dpid: tuple(f) for dpid, f in flows.items()},
        meters={dpid: tuple(m) for dpid, m in meter_list.items()},
    )


PLANNERS: dict[type[Reservation], Callable[[Any, MeterSettings], ReservationPlan]] = {
    BandwidthReservation: _plan_bandwidth,
    MirrorReservation: _plan_mirror,
    SteeringReservation: _plan_steering,
    PassthruReservation: _plan_passthru,
    StitchReservation: _plan_stitch,
}


def plan_switches(
    topology: Topology,
    reservations: Iterable[Reservation],
    policy: Policy,
    meters: MeterSettings,
    *,
    planned: Callable[[Reservation], ReservationPlan] | None = None,
    base: dict[int, list[Flow]] | None = None,
    paused: bool = False,
    reset_dscp: bool = False,
    modes: Mapping[int, str] = NO_MODES,
) -> Plan:
    """The full desired state of every switch, given the reservations' current states.

    States are moved on by the engine's tick (run at a window's edges);
    planning from them keeps what the API shows and what the
    switches hold in step. ``planned`` may memoise ``plan_reservation``.
    """
    plan_one = planned or (lambda r: plan_reservation(r, meters, modes))
    live = [r for r in reservations if not r.state.final]
    active = (
        []
        if paused
        else sorted((r for r in live if r.state is State.ACTIVE), key=lambda r: r.serial)
    )
    flows: dict[int, dict[FlowKey, Flow]] = defaultdict(dict)
    switch_meters: dict[int, list[Meter]] = defaultdict(list)
    owner: dict[tuple[int, FlowKey], Reservation] = {}
    best_effort_copies: dict[int, set[FlowKey]] = defaultdict(set)
    conflicts: dict[str, str] = {}
    for reservation in active:
        one = plan_one(reservation)
        if isinstance(reservation, MirrorReservation):
            clash = next(
                (
                    (dpid, owner[(dpid, flow.key)])
                    for dpid, mirror_flows in one.flows.items()
                    for flow in mirror_flows
                    if (dpid, flow.key) in owner
                ),
                None,
            )
            if clash is not None:  # a mirror is enforced whole or not at all
                conflicts[reservation.id] = (
                    f"it selects the same traffic as reservation {clash[1].id} on switch "
                    f"{clash[0]:016x}; that one is enforced"
                )
                continue
        for dpid, reservation_flows in one.flows.items():
            for flow in reservation_flows:
                holder = owner.setdefault((dpid, flow.key), reservation)
                if holder is not reservation:
                    conflicts[reservation.id] = (
                        f"its traffic is the same as reservation {holder.id}'s on switch "
                        f"{dpid:016x}; that one is enforced"
                    )
                    continue
                flows[dpid][flow.key] = flow
                if best_effort_copy(reservation):
                    best_effort_copies[dpid].add(flow.key)
        for dpid, reservation_meters in one.meters.items():
            switch_meters[dpid].extend(reservation_meters)
    enforced_mirrors = [
        r for r in active if isinstance(r, MirrorReservation) and r.id not in conflicts
    ]
    for dpid, guards in guard_flows(
        topology.switch_ids(), enforced_mirrors, reservation_cookie
    ).items():
        flows[dpid].update((flow.key, flow) for flow in guards)
    reserved_now: Counter[LinkId] = Counter()  # kbit/s the reservation meters let through
    for reservation in active:
        for direction, link in reservation.bookings():
            if reservation.rate(direction):
                reserved_now[link] += meters.reserved_kbps(reservation.rate(direction))
    metered_ports: dict[int, dict[int, int]] = defaultdict(dict)  # dpid -> port -> meter id
    view = topology.view()
    for link in sorted(
        {
            link
            for r in live
            for _, link in r.bookings()
            if link.src != HOST_SIDE and link.src.dpid not in modes
        }
    ):
        usable_kbps = policy.usable(view.capacity_of(link)) // 1000
        rate = max(MIN_BEST_EFFORT_KBPS, usable_kbps - reserved_now[link])
        meter_id = best_effort_meter_id(link.src.port)
        switch_meters[link.src.dpid].append(
            Meter(
                meter_id, rate, meters.best_effort_burst_kbit, description=f"best effort on {link}"
            )
        )
        metered_ports[link.src.dpid][link.src.port] = meter_id
    for dpid, keys in best_effort_copies.items():
        for key in keys:
            flows[dpid][key] = through_meter(flows[dpid][key], metered_ports.get(dpid, {}))
    for switch_flows in flows.values():
        for key in [key for key in switch_flows if is_steering(key)]:
            switch_flows[key] = composed(switch_flows[key], switch_flows)
    chosen = selections(enforced_mirrors)
    switches = {}
    if base is None:
        base = plan_base_flows(topology, reset_dscp=reset_dscp)
    for dpid, forwarding in base.items():
        ports = metered_ports.get(dpid, {})
        metered = [through_meter(flow, ports) for flow in forwarding]
        selection = chosen.get(dpid, Selection())
        switches[dpid] = SwitchPlan(
            flows=tuple(
                selecting(flow, selection) for flow in (*metered, *flows.get(dpid, {}).values())
            ),
            meters=tuple(switch_meters.get(dpid, ())),
        )
    return Plan(switches=switches, conflicts=conflicts)


def through_meter(flow: Flow, ports: dict[int, int]) -> Flow:
    """Best-effort traffic to a reserved link goes through that link's best-effort meter.

    ``ports`` maps the switch's metered egress ports to their meters. A flow
    has one meter: that of the first metered port it sends to (a flow that
    sends to several ports sends them the same packets); a flow that sends to
    no metered port has none.
    """
    meter = next((ports[port] for port in flow.output_ports() if port in ports), None)
    return flow if flow.meter == meter else replace(flow, meter=meter)


def _path_flows(
    reservation: BandwidthReservation, direction: Direction, route: Route
) -> list[tuple[int, Flow]]:
    """Per hop, one flow for each classifier of the direction's traffic."""
    if direction is Direction.OUT:
        matches = classifiers(reservation.src, reservation.dst, reservation.match)
    else:
        matches = classifiers(reservation.dst, reservation.src, reservation.match.reversed())
    marking: tuple[SetField, ...] = ()
    if reservation.dscp is not None:
        for fields in matches:
            fields.setdefault("eth_type", 0x0800)
        marking = (SetField("ip_dscp", reservation.dscp),)
    delivered = reservation.dscp is not None and not reservation.dscp_exit
    result = []
    for fields in matches:
        priority = RESERVATION_PRIORITY + len(fields) + 1
        for index, hop in enumerate(route.hops):
            ingress = index == 0
            marks: tuple[Action, ...] = marking if ingress else ()
            if delivered and index == len(route.hops) - 1 and hop.out_port is not None:
                marks = (SetField("ip_dscp", 0),)  # Tegu's reset where it is delivered
            goto: int | None = None
            if hop.out_port is None:  # to an outside address: leave the way base forwarding sends
                actions, goto = marks, Table.FORWARDING
            else:
                actions = (*marks, Output(hop.out_port))
            flow = Flow(
                priority=priority,
                match=match(**fields, in_port=hop.in_port),
                actions=actions,
                cookie=reservation_cookie(reservation),
                table=Table.RESERVATIONS,
                meter=reservation_meter_id(reservation, direction) if ingress else None,
                goto=goto,
                until=reservation.window.end,
                description=f"reservation {reservation.id} {direction.value} hop {index}",
            )
            result.append((hop.dpid, flow))
    return result
