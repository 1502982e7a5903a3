"""What switches hold for a steering chain: each leg's entries, told apart by a fabric MAC.

A chain's traffic keeps its IP addresses all the way, so on a switch that two
legs of one chain cross through the same port (a middlebox on another switch
sends the traffic back the way it came) ``in_port`` and addresses cannot say
which leg a packet is on. The destination MAC does: the first switch of a leg
rewrites it to an address of that leg alone (``fabric_mac``: locally
administered, from the reservation's serial, the direction and the leg's
index), every further switch matches it, and the last one rewrites it again
to the MAC the traffic is delivered with (the middlebox's own, so that a
router accepts it; the destination's at the end). Traffic that does not match
is untouched, and nothing is rewritten for a leg that stays on one switch.

In table 0, at ``STEERING_PRIORITY`` + the number of match fields: above
bandwidth reservations (so that a chain and a reservation on the same
traffic compose: ``composed`` gives the chain's first entry the
reservation's meter) and below mirror copies in transit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

from tegu_ryu.enforcement.classify import RESERVATION_PRIORITY, classifiers
from tegu_ryu.openflow.flows import (
    BEST_EFFORT_METERS,
    Action,
    Flow,
    FlowKey,
    Output,
    SetField,
    Table,
    match,
)
from tegu_ryu.reservations.model import Direction, Endpoint, Match, SteeringReservation

STEERING_PRIORITY = 2000  # + number of match fields
_BAND = 1000  # steering priorities lie in [STEERING_PRIORITY, STEERING_PRIORITY + _BAND)


def fabric_mac(serial: int, direction: Direction, leg: int) -> str:
    """The destination MAC a leg's packets carry between switches (02: locally administered)."""
    low = (0x10 if direction is Direction.IN else 0) | leg
    value = (0x02 << 40) | ((serial & 0xFFFF_FFFF) << 8) | low
    return ":".join(f"{(value >> shift) & 0xFF:02x}" for shift in range(40, -8, -8))


def steering_flows(
    steering: SteeringReservation, cookie: int, meters: Mapping[Direction, int]
) -> dict[int, tuple[Flow, ...]]:
    """The chain's entries on every switch its legs cross; ``meters`` (per direction, when
    the chain has a rate) go on the entries where its traffic enters."""
    flows: defaultdict[int, dict[FlowKey, Flow]] = defaultdict(dict)
    for direction, legs in steering.legs.items():
        start, end = (
            (steering.src, steering.dst)
            if direction is Direction.OUT
            else (steering.dst, steering.src)
        )
        traffic = steering.match if direction is Direction.OUT else steering.match.reversed()
        for fields in _selectors(start, end, traffic):
            for leg in legs:
                address = fabric_mac(steering.serial, direction, leg.index)
                hops = leg.route.hops
                for n, hop in enumerate(hops):
                    first, last = n == 0, n == len(hops) - 1
                    selector = dict(fields, in_port=hop.in_port)
                    if not first:
                        selector["eth_dst"] = address
                    actions: tuple[Action, ...] = ()
                    if hop.out_port is not None:
                        rewrite = leg.deliver_mac if last else (address if first else None)
                        actions = (
                            *(() if rewrite is None else (SetField("eth_dst", rewrite),)),
                            Output(hop.out_port),
                        )
                    flow = Flow(
                        priority=STEERING_PRIORITY + len(selector),
                        match=match(**selector),
                        actions=actions,
                        cookie=cookie,
                        table=Table.RESERVATIONS,
                        meter=meters.get(direction) if first and leg.index == 0 else None,
                        goto=Table.FORWARDING if hop.out_port is None else None,
                        until=steering.window.end,
                        description=(
                            f"steering {steering.id} {direction.value} leg {leg.index} hop {n}"
                        ),
                    )
                    flows[hop.dpid].setdefault(flow.key, flow)  # legs 0 of "any" may meet
    return {dpid: tuple(by_key.values()) for dpid, by_key in flows.items()}


def _selectors(
    start: Endpoint | None, end: Endpoint | None, traffic: Match
) -> list[dict[str, int | str]]:
    """Match fields for the direction's traffic; an "any" end adds no address."""
    if start is not None and end is not None:
        return classifiers(start, end, traffic)
    known = start if start is not None else end
    assert known is not None
    both = classifiers(known, known, traffic)  # the known end's address on both sides,
    side = "dst" if start is not None else "src"  # of which the "any" side's is dropped
    return [
        {k: v for k, v in fields.items() if k not in (f"ipv4_{side}", f"ipv6_{side}")}
        for fields in both
    ]


def is_steering(key: FlowKey) -> bool:
    table, priority, _ = key
    return table == Table.RESERVATIONS and STEERING_PRIORITY <= priority < STEERING_PRIORITY + _BAND


def partner_key(key: FlowKey) -> FlowKey:
    """The key a bandwidth reservation's entry for exactly this traffic at this port has
    (its priority counts the same fields plus one; in_port is one of this entry's)."""
    table, priority, fields = key
    return table, priority - STEERING_PRIORITY + RESERVATION_PRIORITY, fields


def steering_key_of(reservation_key: FlowKey) -> FlowKey:
    """The inverse of ``partner_key``: where a chain's entry for the same traffic would be."""
    table, priority, fields = reservation_key
    return table, priority - RESERVATION_PRIORITY + STEERING_PRIORITY, fields


def composed(flow: Flow, flows: Mapping[FlowKey, Flow]) -> Flow:
    """A chain's entry where a bandwidth reservation selects exactly the same traffic at the
    same port: it takes that reservation's meter, so the rate still holds (its own meter, when
    the chain has a bandwidth, wins)."""
    partner = flows.get(partner_key(flow.key))
    if partner is None or partner.meter is None or flow.meter == partner.meter:
        return flow
    if flow.meter is not None and flow.meter != partner.meter and not _best_effort(flow.meter):
        return flow
    return replace(flow, meter=partner.meter)


def _best_effort(meter: int) -> bool:
    return meter >= BEST_EFFORT_METERS
