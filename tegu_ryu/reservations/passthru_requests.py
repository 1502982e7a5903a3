"""Passthru requests: ``POST /v1/reservations`` with ``"type": "passthru"``, field by field."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from tegu_ryu.errors import InvalidField
from tegu_ryu.reservations.model import Match
from tegu_ryu.reservations.requests import choice, object_fields, port_number, window_of
from tegu_ryu.reservations.window import Window

_PASSTHRU_FIELDS = {
    "type", "host", "protocol", "src_port", "dst_port", "src_ip", "start", "end", "duration",
    "name",
}  # fmt: skip


@dataclass(frozen=True)
class PassthruRequest:
    host: str
    match: Match
    window: Window
    name: str | None
    cookie: str | None = None  # Tegu's per-reservation secret (the /tegu/api protocol only)
    src_ip: str | None = None


def parse_passthru(body: Any, now: float) -> PassthruRequest:
    """Validate a passthru request received at ``now``."""
    fields = object_fields(body, _PASSTHRU_FIELDS)
    host = fields.get("host")
    if not isinstance(host, str) or not host.strip() or len(host) > 256:
        raise InvalidField(
            "host", "is required: an address, a MAC or a host name (at most 256 characters)"
        )
    protocol = choice(fields, "protocol", ["tcp", "udp"], default=None)
    name = fields.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 128):
        raise InvalidField("name", "expected a string of 1 to 128 characters")
    return PassthruRequest(
        host=host.strip(),
        match=Match(
            protocol=protocol,
            src_port=port_number(fields, "src_port", protocol),
            dst_port=port_number(fields, "dst_port", protocol),
        ),
        window=window_of(fields, now),
        name=name,
        src_ip=source_address(fields.get("src_ip"), "src_ip"),
    )


def source_address(value: Any, field: str) -> str | None:
    """An IPv4 or IPv6 address in its canonical text, or None when not given."""
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value if isinstance(value, str) else ""))
    except ValueError:
        raise InvalidField(field, "expected an IPv4 or IPv6 address") from None
