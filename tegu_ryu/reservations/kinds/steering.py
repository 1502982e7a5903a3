"""The steering kind's stored form: ends, traffic, the chain and every leg's path."""

from __future__ import annotations

from typing import Any

from tegu_ryu.reservations.kinds.bandwidth import (
    decode_endpoint,
    decode_route,
    encode_endpoint,
    encode_route,
    endpoint_ok,
    match_ok,
    route_ok,
)
from tegu_ryu.reservations.model import Direction, Leg, Match, Middlebox, SteeringReservation
from tegu_ryu.reservations.validity import is_count
from tegu_ryu.topology.refs import PortRef


def encode_spec(r: SteeringReservation) -> dict[str, Any]:
    return {
        "src": None if r.src is None else encode_endpoint(r.src),
        "dst": None if r.dst is None else encode_endpoint(r.dst),
        "match": [r.match.protocol, r.match.src_port, r.match.dst_port, r.match.vlan],
        "chain": [
            [box.given, _port(box.in_port), _port(box.out_port), box.in_mac, box.out_mac]
            for box in r.chain
        ],
        "symmetric": r.symmetric,
        "bandwidth": r.bandwidth,
        "legs": {
            d.value: [
                [
                    leg.index,
                    _port(leg.source),
                    None if leg.target is None else _port(leg.target),
                    leg.deliver_mac,
                    encode_route(leg.route),
                ]
                for leg in legs
            ]
            for d, legs in r.legs.items()
        },
    }


def decode(envelope: dict[str, Any], spec: dict[str, Any]) -> SteeringReservation:
    return SteeringReservation(
        **envelope,
        src=None if spec["src"] is None else decode_endpoint(spec["src"]),
        dst=None if spec["dst"] is None else decode_endpoint(spec["dst"]),
        match=Match(*spec["match"]),
        chain=tuple(
            Middlebox(given, PortRef(*in_port), PortRef(*out_port), in_mac, out_mac)
            for given, in_port, out_port, in_mac, out_mac in spec["chain"]
        ),
        symmetric=spec["symmetric"],
        bandwidth=spec["bandwidth"],
        legs={
            Direction(direction): tuple(
                Leg(
                    index,
                    PortRef(*source),
                    None if target is None else PortRef(*target),
                    deliver_mac,
                    decode_route(route),
                )
                for index, source, target, deliver_mac, route in legs
            )
            for direction, legs in spec["legs"].items()
        },
    )


def problems(r: SteeringReservation) -> list[str]:
    """The kind's fields whose values have the wrong type or range."""
    return [
        what
        for what, ok in (
            ("endpoints", all(e is None or endpoint_ok(e) for e in (r.src, r.dst))),
            ("match", match_ok(r.match)),
            ("chain", bool(r.chain) and all(_box_ok(box) for box in r.chain)),
            ("symmetric", isinstance(r.symmetric, bool)),
            ("bandwidth", r.bandwidth is None or is_count(r.bandwidth)),
            ("legs", all(_leg_ok(leg) for legs in r.legs.values() for leg in legs)),
        )
        if not ok
    ]


def _port(port: PortRef) -> list[int]:
    return [port.dpid, port.port]


def _port_ok(port: PortRef | None) -> bool:
    return port is None or (is_count(port.dpid) and is_count(port.port))


def _box_ok(box: Middlebox) -> bool:
    return (
        isinstance(box.given, str)
        and _port_ok(box.in_port)
        and _port_ok(box.out_port)
        and all(mac is None or isinstance(mac, str) for mac in (box.in_mac, box.out_mac))
    )


def _leg_ok(leg: Leg) -> bool:
    """A leg the planner can use: hops from its source, each leaving by a port but the last
    of a leg handed to base forwarding."""
    hops = leg.route.hops
    return (
        is_count(leg.index)
        and _port_ok(leg.source)
        and _port_ok(leg.target)
        and (leg.deliver_mac is None or isinstance(leg.deliver_mac, str))
        and route_ok(leg.route)
        and bool(hops)
        and hops[0].dpid == leg.source.dpid
        and all(hop.out_port is not None for hop in hops[:-1])
        and (hops[-1].out_port is None) == (leg.target is None)
    )
