"""Steering requests: ``POST /v1/reservations`` with ``"type": "steering"``, checked field by field.

As for the other kinds, every problem raises ``InvalidField`` naming the field
(and the entry of the chain) before anything is looked up or booked; hosts and
ports are resolved later, by admission, against the topology.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tegu_ryu.errors import InvalidField
from tegu_ryu.reservations.model import Match
from tegu_ryu.reservations.requests import (
    object_fields,
    rate_bps,
    traffic_match,
    window_of,
)
from tegu_ryu.reservations.window import Window

ANY = "any"
MAX_CHAIN = 8  # middleboxes in one chain; each leg's fabric address has room for 16
_STEERING_FIELDS = {
    "type", "src", "dst", "protocol", "src_port", "dst_port", "vlan", "chain",
    "symmetric", "bandwidth", "start", "end", "duration", "name",
}  # fmt: skip


@dataclass(frozen=True)
class MiddleboxRequest:
    """A middlebox as named: one host (one-armed), or the ports traffic enters and leaves by."""

    in_port: str
    out_port: str

    @property
    def given(self) -> str:
        return self.in_port if self.in_port == self.out_port else f"{self.in_port}>{self.out_port}"


@dataclass(frozen=True)
class SteeringRequest:
    src: str | None  # None: any source
    dst: str | None  # None: any destination
    match: Match
    chain: tuple[MiddleboxRequest, ...]
    symmetric: bool
    bandwidth: int | None
    window: Window
    name: str | None
    cookie: str | None = None  # Tegu's per-reservation secret (the /tegu/api protocol only)


def parse_steering(body: Any, now: float) -> SteeringRequest:
    """Validate a steering request received at ``now``."""
    fields = object_fields(body, _STEERING_FIELDS)
    src, dst = _end(fields, "src"), _end(fields, "dst")
    if src is None and dst is None:
        raise InvalidField("dst", 'src and dst cannot both be "any": steer whose traffic?')
    match = traffic_match(fields)
    symmetric = fields.get("symmetric", True)
    if not isinstance(symmetric, bool):
        raise InvalidField("symmetric", "expected true or false")
    bandwidth = fields.get("bandwidth")
    if bandwidth is not None and (src is None or dst is None):
        raise InvalidField(
            "bandwidth",
            'cannot be booked with an "any" end: the traffic\'s paths are not known beforehand',
        )
    name = fields.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 128):
        raise InvalidField("name", "expected a string of 1 to 128 characters")
    return SteeringRequest(
        src=src,
        dst=dst,
        match=match,
        chain=_chain(fields.get("chain"), {e for e in (src, dst) if e}),
        symmetric=symmetric,
        bandwidth=None if bandwidth is None else rate_bps(bandwidth, "bandwidth"),
        window=window_of(fields, now),
        name=name,
    )


def _end(fields: dict[str, Any], key: str) -> str | None:
    value = fields.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise InvalidField(
            key, 'is required: "any", an address, a MAC or a host name (at most 256 characters)'
        )
    text = value.strip()
    return None if text.lower() == ANY else text


def _chain(value: Any, endpoints: set[str]) -> tuple[MiddleboxRequest, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidField(
            "chain", 'is required: a non-empty list of hosts or {"in": PORT, "out": PORT}'
        )
    if len(value) > MAX_CHAIN:
        raise InvalidField("chain", f"at most {MAX_CHAIN} middleboxes per chain")
    chain: list[MiddleboxRequest] = []
    for n, entry in enumerate(value):
        field = f"chain[{n}]"
        if isinstance(entry, dict):
            arms = object_fields(entry, {"in", "out"})
            box = MiddleboxRequest(_name(arms.get("in"), field), _name(arms.get("out"), field))
        else:
            one = _name(entry, field)
            box = MiddleboxRequest(one, one)
        named = {box.in_port, box.out_port}
        if named & endpoints:
            raise InvalidField(field, f"{sorted(named & endpoints)[0]} is an end of the chain")
        if any(named & {other.in_port, other.out_port} for other in chain):
            raise InvalidField(field, f"{box.given} is already in the chain")
        chain.append(box)
    return tuple(chain)


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise InvalidField(
            field,
            'expected a host (address, MAC or name) or {"in": PORT, "out": PORT} with hosts '
            "or DPID:PORT, at most 256 characters each",
        )
    return value.strip()
