"""The stitched kind's stored form: the local segment, the label and the peer's side."""

from __future__ import annotations

from typing import Any

from tegu_ryu.reservations.kinds.bandwidth import (
    decode_endpoint,
    decode_route,
    encode_endpoint,
    encode_route,
    endpoint_ok,
    route_ok,
)
from tegu_ryu.reservations.model import (
    Bandwidth,
    Direction,
    RemoteEnd,
    StitchReservation,
    StitchRole,
)
from tegu_ryu.reservations.validity import is_count, is_finite
from tegu_ryu.topology.refs import PortRef


def encode_spec(r: StitchReservation) -> dict[str, Any]:
    return {
        "role": r.role.value,
        "local": encode_endpoint(r.local),
        "remote": [r.remote.domain, r.remote.host, r.remote.mac, r.remote.ip],
        "point": r.point,
        "port": [r.port.dpid, r.port.port],
        "handoff": r.handoff,
        "label": r.label,
        "bandwidth": [r.bandwidth.out, r.bandwidth.in_],
        "routes": {d.value: encode_route(route) for d, route in r.routes.items()},
        "peer_id": r.peer_id,
        "hold_until": r.hold_until,
        "peer_pending": r.peer_pending,
    }


def decode(envelope: dict[str, Any], spec: dict[str, Any]) -> StitchReservation:
    return StitchReservation(
        **envelope,
        role=StitchRole(spec["role"]),
        local=decode_endpoint(spec["local"]),
        remote=RemoteEnd(*spec["remote"]),
        point=spec["point"],
        port=PortRef(*spec["port"]),
        handoff=spec["handoff"],
        label=spec["label"],
        bandwidth=Bandwidth(*spec["bandwidth"]),
        routes={Direction(d): decode_route(route) for d, route in spec["routes"].items()},
        peer_id=spec["peer_id"],
        hold_until=spec["hold_until"],
        peer_pending=spec["peer_pending"],
    )


def problems(r: StitchReservation) -> list[str]:
    """The kind's fields whose values have the wrong type or range."""
    texts = (r.remote.domain, r.remote.host, r.point, r.handoff)
    return [
        what
        for what, ok in (
            ("bandwidth", all(is_count(b) for b in (r.bandwidth.out, r.bandwidth.in_))),
            ("label", is_count(r.label)),
            ("remote", all(isinstance(t, str) for t in texts)),
            ("local", endpoint_ok(r.local)),
            ("port", is_count(r.port.dpid) and is_count(r.port.port)),
            ("routes", all(route_ok(route) for route in r.routes.values())),
            ("hold_until", r.hold_until is None or is_finite(r.hold_until)),
            ("peer_pending", r.peer_pending in (None, "cancel")),
        )
        if not ok
    ]
