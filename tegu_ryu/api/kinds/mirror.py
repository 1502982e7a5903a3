"""A mirror's own fields as the v1 API shows them."""

from __future__ import annotations

from typing import Any

from tegu_ryu.api.kinds.bandwidth import endpoint_json, hops_json
from tegu_ryu.reservations.model import MirrorReservation, PortChoice


def view(mirror: MirrorReservation) -> dict[str, Any]:
    return {
        "ports": [port_json(choice) for choice in mirror.ports],
        "direction": mirror.direction.value,
        "vlan": list(mirror.vlans),
        "match": {
            "protocol": mirror.match.protocol,
            "src_port": mirror.match.src_port,
            "dst_port": mirror.match.dst_port,
            "src": None if mirror.src is None else endpoint_json(mirror.src),
            "dst": None if mirror.dst is None else endpoint_json(mirror.dst),
        },
        "output": port_json(mirror.output)
        | (
            {}
            if mirror.tunnel is None
            else {
                "tunnel": mirror.tunnel.kind,
                "remote_ip": mirror.tunnel.remote_ip,
                "key": mirror.tunnel.key,
                "port_name": mirror.tunnel_port,
            }
        ),
        "bandwidth": mirror.bandwidth,
        "path": None if mirror.route is None else hops_json(mirror.route),
        "tag": mirror.tag,
    }


def port_json(choice: PortChoice) -> dict[str, Any]:
    return {"given": choice.given, **choice.port.as_json()}
