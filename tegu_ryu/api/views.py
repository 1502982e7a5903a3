"""JSON views of core records for the v1 API."""

from __future__ import annotations

from typing import Any

from tegu_ryu.reservations.model import Endpoint, Reservation
from tegu_ryu.timefmt import format_time


def reservation_json(reservation: Reservation) -> dict[str, Any]:
    """A reservation as the v1 API shows it."""
    return {
        "id": reservation.id,
        "type": reservation.kind.value,
        "state": reservation.state.value,
        "owner": reservation.owner,
        "name": reservation.name,
        "src": _endpoint_json(reservation.src),
        "dst": _endpoint_json(reservation.dst),
        "bandwidth": {"out": reservation.bandwidth.out, "in": reservation.bandwidth.in_},
        "requested_bandwidth": {"out": reservation.requested.out, "in": reservation.requested.in_},
        "start": format_time(reservation.window.start),
        "end": format_time(reservation.window.end),
        "match": {
            "protocol": reservation.match.protocol,
            "src_port": reservation.match.src_port,
            "dst_port": reservation.match.dst_port,
            "vlan": reservation.match.vlan,
        },
        "dscp": reservation.dscp,
        "path_mode": reservation.path_mode.value,
        "path": {
            direction.value: [
                {"dpid": f"{hop.dpid:016x}", "in_port": hop.in_port, "out_port": hop.out_port}
                for hop in route.hops
            ]
            for direction, route in reservation.routes.items()
        },
        "created": format_time(reservation.created),
        "reason": reservation.reason,
    }


def _endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "given": endpoint.given,
        "name": endpoint.name,
        "mac": endpoint.mac,
        "ip": endpoint.ip,
        "attach": None if endpoint.attach is None else endpoint.attach.as_json(),
    }
