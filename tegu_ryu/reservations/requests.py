"""Reservation requests: JSON bodies checked field by field into typed values.

Every problem raises ``InvalidField`` naming the field, before anything is
looked up or booked, so a bad request changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tegu_ryu.errors import InvalidField, RequestError, clipped
from tegu_ryu.reservations.model import DSCP_CLASSES, Bandwidth, Kind, Match
from tegu_ryu.reservations.paths import PathMode
from tegu_ryu.reservations.window import (
    Window,
    WindowError,
    requested_end,
    requested_window,
)
from tegu_ryu.timefmt import finite_seconds, parse_time
from tegu_ryu.units import UnitError, parse_bitrate

PORTED_PROTOCOLS = ("tcp", "udp")

_RESERVATION_FIELDS = {
    "type", "src", "dst", "bandwidth", "start", "end", "duration", "protocol",
    "src_port", "dst_port", "vlan", "dscp", "dscp_on_exit", "path", "name",
}  # fmt: skip
_MODIFICATION_FIELDS = {"end", "bandwidth"}


@dataclass(frozen=True)
class ReservationRequest:
    kind: Kind
    src: str
    dst: str
    bandwidth: Bandwidth
    window: Window
    match: Match
    dscp: int | None
    path_mode: PathMode
    name: str | None
    cookie: str | None = None  # Tegu's per-reservation secret (the /tegu/api protocol only)
    dscp_exit: bool = True  # keep the marking where the traffic is delivered


@dataclass(frozen=True)
class Modification:
    end: float | None
    bandwidth: Bandwidth | None


def parse_reservation(body: Any, now: float) -> ReservationRequest:
    """Validate a ``POST /v1/reservations`` body received at ``now``."""
    fields = object_fields(body, _RESERVATION_FIELDS)
    kind = choice(fields, "type", [k.value for k in Kind], default=Kind.BANDWIDTH.value)
    src = _endpoint(fields, "src")
    dst = _endpoint(fields, "dst")
    match = traffic_match(fields)
    name = fields.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 128):
        raise InvalidField("name", "expected a string of 1 to 128 characters")
    return ReservationRequest(
        kind=Kind(kind),
        src=src,
        dst=dst,
        bandwidth=parse_bandwidth(fields.get("bandwidth"), Kind(kind)),
        window=window_of(fields, now),
        match=match,
        dscp=_dscp(fields.get("dscp")),
        path_mode=PathMode(choice(fields, "path", [m.value for m in PathMode], default="shortest")),
        name=name,
        dscp_exit=choice(fields, "dscp_on_exit", ["keep", "reset"], default="keep") == "keep",
    )


def parse_modification(body: Any, now: float, kind: Kind) -> Modification:
    """Validate a ``PATCH /v1/reservations/{id}`` body (new ``end`` and/or ``bandwidth``)."""
    fields = object_fields(body, _MODIFICATION_FIELDS)
    if not fields:
        raise RequestError("nothing to change: give end and/or bandwidth")
    end = None
    if "end" in fields:
        try:
            end = requested_end(time_of(fields, "end"), now)
        except WindowError as exc:
            raise InvalidField(exc.field, exc.message) from exc
    bandwidth = parse_bandwidth(fields["bandwidth"], kind) if "bandwidth" in fields else None
    return Modification(end=end, bandwidth=bandwidth)


def parse_bandwidth(value: Any, kind: Kind) -> Bandwidth:
    """``"20M"`` (both directions) or ``{"out": "20M", "in": "5M"}``; one-way has only ``out``."""
    if value is None:
        raise InvalidField("bandwidth", 'is required, e.g. "20M" or {"out": "20M", "in": "5M"}')
    if isinstance(value, dict):
        unknown = set(value) - {"out", "in"}
        if unknown:
            raise InvalidField("bandwidth", f"unknown keys {sorted(unknown)}; use out and in")
        if kind is Kind.ONEWAY and "in" in value:
            raise InvalidField("bandwidth.in", "one-way reservations carry no inbound traffic")
        out = rate_bps(value.get("out"), "bandwidth.out")
        inbound = 0 if kind is Kind.ONEWAY else rate_bps(value.get("in"), "bandwidth.in")
        return Bandwidth(out=out, in_=inbound)
    rate = rate_bps(value, "bandwidth")
    return Bandwidth(out=rate, in_=0 if kind is Kind.ONEWAY else rate)


def rate_bps(value: Any, field: str) -> int:
    if value is None:
        raise InvalidField(field, "is required")
    try:
        bps = parse_bitrate(value)
    except UnitError as exc:
        raise InvalidField(field, str(exc)) from exc
    if bps <= 0:
        raise InvalidField(field, "must be more than zero")
    return bps


def object_fields(body: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidField(
            unknown[0], f"unknown field; expected one of {', '.join(sorted(allowed))}"
        )
    return body


def choice(fields: dict[str, Any], key: str, choices: list[str], default: str | None) -> Any:
    """One of ``choices``; absent or null means ``default``."""
    value = fields.get(key)
    if value is None:
        return default
    if value not in choices:
        raise InvalidField(key, f"{clipped(repr(value))} is not one of {', '.join(choices)}")
    return value


def _endpoint(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise InvalidField(
            key, "is required: an IPv4/IPv6 address, a MAC or a host name (at most 256 characters)"
        )
    return value.strip()


def integer(fields: dict[str, Any], key: str, low: int, high: int) -> int | None:
    value = fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidField(key, f"expected an integer from {low} to {high}")
    return value


def traffic_match(fields: dict[str, Any]) -> Match:
    """The protocol, ports and VLAN a request selects (bandwidth and steering alike)."""
    protocol = choice(fields, "protocol", ["tcp", "udp", "icmp"], default=None)
    return Match(
        protocol=protocol,
        src_port=port_number(fields, "src_port", protocol),
        dst_port=port_number(fields, "dst_port", protocol),
        vlan=integer(fields, "vlan", 1, 4094),
    )


def port_number(fields: dict[str, Any], key: str, protocol: str | None) -> int | None:
    port = integer(fields, key, 1, 65535)
    if port is not None and protocol not in (*PORTED_PROTOCOLS, None):
        raise InvalidField(key, "ports need protocol tcp or udp (or none: both)")
    return port


def _dscp(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value in DSCP_CLASSES:
        return DSCP_CLASSES[value]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 63:
        return value
    raise InvalidField("dscp", "expected voice, control, data or an integer from 0 to 63")


def time_of(fields: dict[str, Any], key: str) -> float:
    try:
        return parse_time(fields[key])
    except ValueError as exc:
        raise InvalidField(key, str(exc)) from exc


def window_of(fields: dict[str, Any], now: float) -> Window:
    """Start defaults to now and is never earlier; exactly one of end or duration."""
    if ("end" in fields) == ("duration" in fields):
        raise InvalidField("end", "give exactly one of end or duration")
    start = time_of(fields, "start") if "start" in fields else None
    end = time_of(fields, "end") if "end" in fields else None
    duration = None
    if "duration" in fields:
        value = fields["duration"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidField("duration", "expected a positive number of seconds")
        try:
            duration = finite_seconds(value)
        except ValueError as exc:
            raise InvalidField("duration", str(exc)) from exc
    try:
        return requested_window(start, end, duration, now)
    except WindowError as exc:
        raise InvalidField(exc.field, exc.message) from exc
