"""A steering chain's own fields as the v1 API shows them."""

from __future__ import annotations

from typing import Any

from tegu_ryu.api.kinds.bandwidth import endpoint_json, hops_json
from tegu_ryu.reservations.model import Middlebox, SteeringReservation


def view(steering: SteeringReservation) -> dict[str, Any]:
    return {
        "src": "any" if steering.src is None else endpoint_json(steering.src),
        "dst": "any" if steering.dst is None else endpoint_json(steering.dst),
        "match": {
            "protocol": steering.match.protocol,
            "src_port": steering.match.src_port,
            "dst_port": steering.match.dst_port,
            "vlan": steering.match.vlan,
        },
        "chain": [_middlebox_json(box) for box in steering.chain],
        "symmetric": steering.symmetric,
        "bandwidth": steering.bandwidth,
        "legs": {
            direction.value: [
                {
                    "leg": leg.index,
                    "from": leg.source.as_json(),
                    "to": None if leg.target is None else leg.target.as_json(),
                    "path": hops_json(leg.route),
                }
                for leg in legs
            ]
            for direction, legs in steering.legs.items()
        },
    }


def _middlebox_json(box: Middlebox) -> dict[str, Any]:
    return {
        "given": box.given,
        "in": box.in_port.as_json(),
        "out": box.out_port.as_json(),
        "mac": box.in_mac,
    }
