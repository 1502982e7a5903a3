"""The passthru kind's stored form: the host and the traffic whose marking is kept.

Tegu's checkpoint lost a passthru's protocol filter; here it is stored whole.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from tegu_ryu.reservations.kinds.bandwidth import (
    decode_endpoint,
    encode_endpoint,
    endpoint_ok,
    match_ok,
)
from tegu_ryu.reservations.model import Match, PassthruReservation


def encode_spec(r: PassthruReservation) -> dict[str, Any]:
    return {
        "host": encode_endpoint(r.host),
        "match": [r.match.protocol, r.match.src_port, r.match.dst_port],
        "src_ip": r.src_ip,
    }


def decode(envelope: dict[str, Any], spec: dict[str, Any]) -> PassthruReservation:
    return PassthruReservation(
        **envelope,
        host=decode_endpoint(spec["host"]),
        match=Match(*spec["match"]),
        src_ip=spec.get("src_ip"),  # absent in what was stored before it existed
    )


def problems(r: PassthruReservation) -> list[str]:
    """The kind's fields whose values have the wrong type or range."""
    return [
        what
        for what, ok in (
            ("host", endpoint_ok(r.host) and r.host.attach is not None),
            ("match", r.match.vlan is None and match_ok(r.match)),
            ("src_ip", r.src_ip is None or _is_address(r.src_ip)),
        )
        if not ok
    ]


def _is_address(value: object) -> bool:
    try:
        ipaddress.ip_address(value if isinstance(value, str) else "")
    except ValueError:
        return False
    return True
