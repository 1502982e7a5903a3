"""The mirror kind's stored form: mirrored ports, filters, collector, copy path and tag."""

from __future__ import annotations

from typing import Any

from tegu_ryu.ovsdb.rows import TUNNEL_KINDS
from tegu_ryu.reservations.kinds.bandwidth import (
    decode_endpoint,
    decode_route,
    encode_endpoint,
    encode_route,
    endpoint_ok,
    match_ok,
    route_ok,
)
from tegu_ryu.reservations.model import (
    Match,
    MirrorDirection,
    MirrorReservation,
    PortChoice,
    TunnelSink,
)
from tegu_ryu.reservations.validity import is_count
from tegu_ryu.topology.refs import PortRef


def encode_spec(r: MirrorReservation) -> dict[str, Any]:
    return {
        "ports": [_encode_choice(choice) for choice in r.ports],
        "direction": r.direction.value,
        "output": _encode_choice(r.output),
        "vlans": list(r.vlans),
        "match": [r.match.protocol, r.match.src_port, r.match.dst_port],
        "src": None if r.src is None else encode_endpoint(r.src),
        "dst": None if r.dst is None else encode_endpoint(r.dst),
        "bandwidth": r.bandwidth,
        "route": None if r.route is None else encode_route(r.route),
        "tag": r.tag,
        "tunnel": None
        if r.tunnel is None
        else [r.tunnel.kind, r.tunnel.remote_ip, r.tunnel.key, r.tunnel.ofport],
    }


def decode(envelope: dict[str, Any], spec: dict[str, Any]) -> MirrorReservation:
    return MirrorReservation(
        **envelope,
        ports=tuple(_decode_choice(choice) for choice in spec["ports"]),
        direction=MirrorDirection(spec["direction"]),
        output=_decode_choice(spec["output"]),
        vlans=tuple(spec["vlans"]),
        match=Match(*spec["match"]),
        src=None if spec["src"] is None else decode_endpoint(spec["src"]),
        dst=None if spec["dst"] is None else decode_endpoint(spec["dst"]),
        bandwidth=spec["bandwidth"],
        route=None if spec["route"] is None else decode_route(spec["route"]),
        tag=spec["tag"],
        tunnel=None if spec.get("tunnel") is None else TunnelSink(*spec["tunnel"]),
    )


def problems(r: MirrorReservation) -> list[str]:
    """The kind's fields whose values have the wrong type or range."""
    return [
        what
        for what, ok in (
            ("ports", bool(r.ports) and all(_choice_ok(c) for c in (*r.ports, r.output))),
            ("vlans", all(is_count(v) and 1 <= v <= 4094 for v in r.vlans)),
            ("match", r.match.vlan is None and match_ok(r.match)),
            ("endpoints", all(e is None or endpoint_ok(e) for e in (r.src, r.dst))),
            ("bandwidth", r.bandwidth is None or is_count(r.bandwidth)),
            ("route", r.route is None or _copy_route_ok(r)),
            ("tag", is_count(r.tag) and 1 <= r.tag <= 4094),
            ("tunnel", r.tunnel is None or _tunnel_ok(r.tunnel, r.output)),
        )
        if not ok
    ]


def _copy_route_ok(r: MirrorReservation) -> bool:
    """A path the planner can use: hops from the mirrored switch, each leaving by a port."""
    route = r.route
    return (
        route is not None
        and route_ok(route)
        and bool(route.hops)
        and all(hop.out_port is not None for hop in route.hops)
        and bool(r.ports)
        and route.hops[0].dpid == r.ports[0].port.dpid
        and len({choice.port.dpid for choice in r.ports}) == 1
    )


def _tunnel_ok(tunnel: TunnelSink, output: PortChoice) -> bool:
    return (
        tunnel.kind in TUNNEL_KINDS
        and isinstance(tunnel.remote_ip, str)
        and (tunnel.key is None or is_count(tunnel.key))
        and is_count(tunnel.ofport)
        and output.port.port == tunnel.ofport
    )


def _encode_choice(choice: PortChoice) -> list[Any]:
    return [choice.given, choice.port.dpid, choice.port.port]


def _decode_choice(value: list[Any]) -> PortChoice:
    given, dpid, port = value
    return PortChoice(given, PortRef(dpid, port))


def _choice_ok(choice: PortChoice) -> bool:
    return (
        isinstance(choice.given, str) and is_count(choice.port.dpid) and is_count(choice.port.port)
    )
