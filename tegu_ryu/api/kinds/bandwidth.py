"""A bandwidth reservation's own fields as the v1 API shows them."""

from __future__ import annotations

from typing import Any

from tegu_ryu.reservations.model import BandwidthReservation, Endpoint, Route
from tegu_ryu.topology.refs import dpid_str


def view(reservation: BandwidthReservation) -> dict[str, Any]:
    marking = (
        {}
        if reservation.dscp is None
        else {"dscp_on_exit": "keep" if reservation.dscp_exit else "reset"}
    )
    return {
        **marking,
        "src": endpoint_json(reservation.src),
        "dst": endpoint_json(reservation.dst),
        "bandwidth": {"out": reservation.bandwidth.out, "in": reservation.bandwidth.in_},
        "requested_bandwidth": {"out": reservation.requested.out, "in": reservation.requested.in_},
        "match": {
            "protocol": reservation.match.protocol,
            "src_port": reservation.match.src_port,
            "dst_port": reservation.match.dst_port,
            "vlan": reservation.match.vlan,
        },
        "dscp": reservation.dscp,
        "path_mode": reservation.path_mode.value,
        "path": {
            direction.value: hops_json(route) for direction, route in reservation.routes.items()
        },
    }


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "given": endpoint.given,
        "name": endpoint.name,
        "mac": endpoint.mac,
        "ip": endpoint.ip,
        "attach": None if endpoint.attach is None else endpoint.attach.as_json(),
    }


def hops_json(route: Route) -> list[dict[str, Any]]:
    return [
        {"dpid": dpid_str(hop.dpid), "in_port": hop.in_port, "out_port": hop.out_port}
        for hop in route.hops
    ]
