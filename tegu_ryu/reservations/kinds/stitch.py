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
    HeldChange,
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
        "change": None if r.change is None else encode_change(r.change),
        "settled": r.settled,
    }


def encode_change(change: HeldChange) -> list[Any]:
    return [
        change.token,
        change.end,
        [change.bandwidth.out, change.bandwidth.in_],
        change.was_end,
        [change.was_bandwidth.out, change.was_bandwidth.in_],
        change.hold_until,
        change.committing,
    ]


def decode_change(value: list[Any] | None) -> HeldChange | None:
    """A held change as stored (absent in what was stored before changes were held)."""
    if value is None:
        return None
    token, end, rates, was_end, was_rates, hold_until, committing = value
    return HeldChange(
        token, end, Bandwidth(*rates), was_end, Bandwidth(*was_rates), hold_until, committing
    )


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
        change=decode_change(spec.get("change")),
        settled=spec.get("settled"),
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
            ("peer_pending", r.peer_pending in (None, "cancel", "change")),
            ("change", r.change is None or change_ok(r.change)),
            ("settled", r.settled is None or isinstance(r.settled, str)),
        )
        if not ok
    ]


def change_ok(change: HeldChange) -> bool:
    rates = (change.bandwidth, change.was_bandwidth)
    return (
        isinstance(change.token, str)
        and all(is_finite(t) for t in (change.end, change.was_end))
        and all(is_count(b.out) and is_count(b.in_) for b in rates)
        and (change.hold_until is None or is_finite(change.hold_until))
        and isinstance(change.committing, bool)
    )
