"""Mirror requests: ``POST /v1/reservations`` with ``"type": "mirror"``, checked field by field.

As for bandwidth requests, every problem raises ``InvalidField`` naming the
field (and the entry of a list) before anything is looked up or booked.
Ports are resolved later, by admission, against the topology. The output is
a collector's port, or a tunnel to a remote collector:
``{"tunnel": "gre"|"vxlan", "remote_ip": IP, "key": INT}``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from tegu_ryu.errors import InvalidField
from tegu_ryu.reservations.model import Match, MirrorDirection
from tegu_ryu.reservations.requests import (
    PORTED_PROTOCOLS,
    choice,
    object_fields,
    rate_bps,
    window_of,
)
from tegu_ryu.reservations.window import Window

MAX_PORTS = 64
MAX_VLANS = 64
_MIRROR_FIELDS = {
    "type", "ports", "direction", "vlan", "match", "output", "bandwidth",
    "start", "end", "duration", "name",
}  # fmt: skip
_MATCH_FIELDS = {"protocol", "src_port", "dst_port", "src", "dst"}
_TUNNEL_FIELDS = {"tunnel", "remote_ip", "key"}
TUNNEL_KEYS = {"gre": 2**32 - 1, "vxlan": 2**24 - 1}  # the largest key (VNI) each carries


@dataclass(frozen=True)
class TunnelRequest:
    """Copies sent encapsulated to ``remote_ip`` (checked against the allowed remotes later)."""

    kind: str
    remote_ip: str
    key: int | None

    def describe(self) -> str:
        return f"{self.kind}:{self.remote_ip}"


@dataclass(frozen=True)
class MirrorRequest:
    ports: tuple[str, ...]
    direction: MirrorDirection
    output: str | TunnelRequest
    vlans: tuple[int, ...]
    match: Match
    src: str | None
    dst: str | None
    bandwidth: int | None
    window: Window
    name: str | None
    cookie: str | None = None  # Tegu's per-mirror secret (its mirror API only)


def parse_mirror(body: Any, now: float, min_duration: float) -> MirrorRequest:
    """Validate a mirror request received at ``now``; its window must last ``min_duration``."""
    fields = object_fields(body, _MIRROR_FIELDS)
    ports = _ports(fields.get("ports"))
    output = _output(fields.get("output"))
    if output in ports:
        raise InvalidField("output", "is one of the mirrored ports: the copies would go back out")
    traffic = object_fields(fields.get("match") or {}, _MATCH_FIELDS)
    protocol = choice(traffic, "protocol", ["tcp", "udp", "icmp"], default=None)
    match = Match(
        protocol=protocol,
        src_port=_filter_port(traffic, "src_port", protocol),
        dst_port=_filter_port(traffic, "dst_port", protocol),
    )
    window = window_of(fields, now)
    if window.end - window.start < min_duration:
        raise InvalidField(
            "end",
            f"a mirror lasts at least {min_duration:g} s (mirror_min_duration); "
            f"this one lasts {window.end - window.start:g} s",
        )
    name = fields.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 128):
        raise InvalidField("name", "expected a string of 1 to 128 characters")
    bandwidth = fields.get("bandwidth")
    return MirrorRequest(
        ports=ports,
        direction=MirrorDirection(
            choice(fields, "direction", [d.value for d in MirrorDirection], default="both")
        ),
        output=output,
        vlans=_vlans(fields.get("vlan")),
        match=match,
        src=_address(traffic, "src"),
        dst=_address(traffic, "dst"),
        bandwidth=None if bandwidth is None else rate_bps(bandwidth, "bandwidth"),
        window=window,
        name=name,
    )


def _ports(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidField("ports", "is required: a non-empty list of hosts or DPID:PORT")
    if len(value) > MAX_PORTS:
        raise InvalidField("ports", f"at most {MAX_PORTS} ports per mirror")
    ports = tuple(_port_text(entry, f"ports[{n}]") for n, entry in enumerate(value))
    for n, port in enumerate(ports):
        if port in ports[:n]:
            raise InvalidField(f"ports[{n}]", f"{port} is given twice")
    return ports


def _port_text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise InvalidField(
            field, "expected a host (address, MAC or name) or DPID:PORT, at most 256 characters"
        )
    return value.strip()


def _output(value: Any) -> str | TunnelRequest:
    if not isinstance(value, dict):
        return _port_text(value, "output")
    unknown = sorted(set(value) - _TUNNEL_FIELDS)
    if unknown:
        raise InvalidField(
            f"output.{unknown[0]}", f"unknown field; expected {', '.join(sorted(_TUNNEL_FIELDS))}"
        )
    kind = value.get("tunnel")
    if not isinstance(kind, str) or kind not in TUNNEL_KEYS:
        raise InvalidField("output.tunnel", "is required: gre or vxlan")
    remote = value.get("remote_ip")
    try:
        address = ipaddress.ip_address(remote if isinstance(remote, str) else "")
    except ValueError:
        raise InvalidField("output.remote_ip", "expected an IPv4 or IPv6 address") from None
    key = value.get("key")
    if key is not None and not _whole(key, 0, TUNNEL_KEYS[kind]):
        raise InvalidField("output.key", f"expected an integer from 0 to {TUNNEL_KEYS[kind]}")
    return TunnelRequest(kind, str(address), key)


def _filter_port(traffic: dict[str, Any], key: str, protocol: str | None) -> int | None:
    value = traffic.get(key)
    if value is None:
        return None
    if not _whole(value, 1, 65535):
        raise InvalidField(f"match.{key}", "expected an integer from 1 to 65535")
    if protocol not in (*PORTED_PROTOCOLS, None):
        raise InvalidField(f"match.{key}", "ports need protocol tcp or udp (or none: both)")
    return int(value)


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _address(traffic: dict[str, Any], key: str) -> str | None:
    value = traffic.get(key)
    if value is None:
        return None
    return _port_text(value, f"match.{key}")


def _vlans(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_VLANS:
        raise InvalidField("vlan", f"expected a list of at most {MAX_VLANS} VLAN ids")
    vlans: list[int] = []
    for n, entry in enumerate(value):
        if not _whole(entry, 1, 4094):
            raise InvalidField(f"vlan[{n}]", "expected an integer from 1 to 4094")
        if entry in vlans:
            raise InvalidField(f"vlan[{n}]", f"VLAN {entry} is given twice")
        vlans.append(int(entry))
    return tuple(vlans)
