"""The bandwidth kind's stored form: endpoints, rates, traffic match and admitted paths."""

from __future__ import annotations

from typing import Any

from tegu_ryu.reservations.model import (
    Bandwidth,
    BandwidthReservation,
    Direction,
    Endpoint,
    Kind,
    Match,
    Route,
)
from tegu_ryu.reservations.paths import Hop, PathMode
from tegu_ryu.reservations.validity import is_count
from tegu_ryu.topology.refs import LinkId, PortRef


def encode_spec(r: BandwidthReservation) -> dict[str, Any]:
    return {
        "kind": r.kind.value,
        "src": encode_endpoint(r.src),
        "dst": encode_endpoint(r.dst),
        "requested": [r.requested.out, r.requested.in_],
        "bandwidth": [r.bandwidth.out, r.bandwidth.in_],
        "match": [r.match.protocol, r.match.src_port, r.match.dst_port, r.match.vlan],
        "dscp": r.dscp,
        "dscp_exit": r.dscp_exit,
        "path_mode": r.path_mode.value,
        "routes": {d.value: encode_route(route) for d, route in r.routes.items()},
    }


def decode(envelope: dict[str, Any], spec: dict[str, Any]) -> BandwidthReservation:
    return BandwidthReservation(
        **envelope,
        kind=Kind(spec["kind"]),
        src=decode_endpoint(spec["src"]),
        dst=decode_endpoint(spec["dst"]),
        requested=Bandwidth(*spec["requested"]),
        bandwidth=Bandwidth(*spec["bandwidth"]),
        match=Match(*spec["match"]),
        dscp=spec["dscp"],
        dscp_exit=spec.get("dscp_exit", True),  # records from before it was asked
        path_mode=PathMode(spec["path_mode"]),
        routes={
            Direction(direction): decode_route(route) for direction, route in spec["routes"].items()
        },
    )


def problems(r: BandwidthReservation) -> list[str]:
    """The kind's fields whose values have the wrong type or range."""
    rates = (r.bandwidth.out, r.bandwidth.in_, r.requested.out, r.requested.in_)
    return [
        what
        for what, ok in (
            ("bandwidth", all(is_count(b) for b in rates)),
            ("dscp", r.dscp is None or (is_count(r.dscp) and r.dscp <= 63)),
            ("dscp_exit", isinstance(r.dscp_exit, bool)),
            ("match", match_ok(r.match)),
            ("endpoints", all(endpoint_ok(e) for e in (r.src, r.dst))),
            ("routes", all(route_ok(route) for route in r.routes.values())),
        )
        if not ok
    ]


def match_ok(match: Match) -> bool:
    return (
        match.protocol in (None, "tcp", "udp", "icmp")
        and all(
            p is None or (is_count(p) and 1 <= p <= 65535) for p in (match.src_port, match.dst_port)
        )
        and (match.vlan is None or (is_count(match.vlan) and 1 <= match.vlan <= 4094))
    )


def endpoint_ok(e: Endpoint) -> bool:
    return (
        isinstance(e.given, str)
        and all(v is None or isinstance(v, str) for v in (e.mac, e.ip, e.name))
        and (e.attach is None or (is_count(e.attach.dpid) and is_count(e.attach.port)))
    )


def route_ok(route: Route) -> bool:
    return all(
        is_count(h.dpid) and is_count(h.in_port) and (h.out_port is None or is_count(h.out_port))
        for h in route.hops
    ) and all(
        is_count(end.dpid) and is_count(end.port)
        for link in route.links
        for end in (link.src, link.dst)
    )


def encode_endpoint(e: Endpoint) -> list[Any]:
    attach = None if e.attach is None else [e.attach.dpid, e.attach.port]
    return [e.given, e.mac, e.ip, attach, e.name]


def decode_endpoint(v: list[Any]) -> Endpoint:
    given, mac, ip, attach, name = v
    return Endpoint(given, mac, ip, None if attach is None else PortRef(*attach), name)


def encode_route(route: Route) -> dict[str, Any]:
    return {
        "hops": [[h.dpid, h.in_port, h.out_port] for h in route.hops],
        "links": [[lk.src.dpid, lk.src.port, lk.dst.dpid, lk.dst.port] for lk in route.links],
    }


def decode_route(value: dict[str, Any]) -> Route:
    return Route(
        hops=tuple(Hop(*hop) for hop in value["hops"]),
        links=tuple(LinkId(PortRef(a, b), PortRef(c, e)) for a, b, c, e in value["links"]),
    )
