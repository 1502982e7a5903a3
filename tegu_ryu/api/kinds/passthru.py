"""A passthru's own fields as the v1 API shows them."""

from __future__ import annotations

from typing import Any

from tegu_ryu.api.kinds.bandwidth import endpoint_json
from tegu_ryu.reservations.model import PassthruReservation


def view(passthru: PassthruReservation) -> dict[str, Any]:
    return {
        "host": endpoint_json(passthru.host),
        "match": {
            "protocol": passthru.match.protocol,
            "src_port": passthru.match.src_port,
            "dst_port": passthru.match.dst_port,
        },
        "src_ip": passthru.src_ip,
    }
