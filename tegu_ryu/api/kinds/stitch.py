"""A stitched reservation's own fields as the v1 API shows them: both ends, the label on
the stitch point, and the peer domain's reservation id."""

from __future__ import annotations

from typing import Any

from tegu_ryu.api.kinds.bandwidth import endpoint_json, hops_json
from tegu_ryu.reservations.model import HeldChange, RemoteEnd, StitchReservation, StitchRole
from tegu_ryu.timefmt import format_time


def view(reservation: StitchReservation) -> dict[str, Any]:
    local, remote = endpoint_json(reservation.local), remote_json(reservation.remote)
    origin = reservation.role is StitchRole.ORIGIN
    return {
        "src": local if origin else remote,
        "dst": remote if origin else local,
        "bandwidth": {"out": reservation.bandwidth.out, "in": reservation.bandwidth.in_},
        "stitch": {
            "role": reservation.role.value,
            "domain": reservation.remote.domain,
            "point": reservation.point,
            "handoff": reservation.handoff,
            "label": reservation.label,
            "peer_reservation": reservation.peer_id,
            "hold_until": None
            if reservation.hold_until is None
            else format_time(reservation.hold_until),
            "peer_pending": reservation.peer_pending,
            "change": None if reservation.change is None else change_json(reservation.change),
        },
        "path": {
            direction.value: hops_json(route) for direction, route in reservation.routes.items()
        },
    }


def change_json(change: HeldChange) -> dict[str, Any]:
    """A change held on both sides (the larger terms booked meanwhile): the terms it brings,
    and until when it is held (None: until the peer says whether it committed it)."""
    return {
        "end": format_time(change.end),
        "bandwidth": {"out": change.bandwidth.out, "in": change.bandwidth.in_},
        "hold_until": None if change.hold_until is None else format_time(change.hold_until),
        "committing": change.committing,
    }


def remote_json(remote: RemoteEnd) -> dict[str, Any]:
    return {
        "given": remote.given,
        "domain": remote.domain,
        "name": remote.host,
        "mac": remote.mac,
        "ip": remote.ip,
        "attach": None,
    }
