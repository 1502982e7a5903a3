"""Flow entries as plain values: what the core wants on a switch.

The core never builds os-ken messages; it returns ``Flow`` records, which are
hashable and comparable so that desired and installed state can be diffed.
Matches use os-ken's OXM field names and the value forms os-ken parses back
from a switch (MAC strings in lower case, ints for everything numeric), so
that a flow read back from a switch compares equal to the one we asked for.

Cookies say who owns a flow. The top 16 bits tag the flow as tegu_ryu's, the
next 8 bits name the layer (base forwarding, reservations, ...), the low 40
bits identify the object within the layer. Flows without the tag are never
touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

COOKIE_TAG = 0x7E90 << 48
COOKIE_TAG_MASK = 0xFFFF << 48
COOKIE_OBJECT_MASK = (1 << 40) - 1

OFPP_IN_PORT = 0xFFFFFFF8  # "back out of the port it came in by": a plain output there is dropped
OFPP_CONTROLLER = 0xFFFFFFFD
OFPCML_NO_BUFFER = 0xFFFF


class Layer(IntEnum):
    """The part of the controller that owns a flow."""

    BASE = 1
    RESERVATION = 2


class Table(IntEnum):
    """The pipeline: reservations classify first, then everything is forwarded.

    Table 0 holds reservation flows (meter, DSCP, output along the admitted
    path), the fabric path of mirror copies, and a miss entry that continues
    to table 1; table 1 is base forwarding (hosts, ARP and misses to the
    controller). On a switch where a mirror selects ports, the flows whose
    packets it may select also continue to table 2, carrying the port they
    sent the packet out of as metadata; table 2 copies what a mirror selects
    (by in_port or that metadata) towards its collector and drops the rest.
    """

    RESERVATIONS = 0
    FORWARDING = 1
    MIRROR = 2


IP_PROTOCOLS = {"tcp": 6, "udp": 17, "icmp": 1}  # ip_proto of the protocols reservations name
ICMPV6 = 58  # what "icmp" means in an IPv6 match

# Meter ids tegu_ryu owns; meters outside this range are never touched.
METER_FIRST = 0x1000_0000
METER_LAST = 0x7FFF_FFFF
BEST_EFFORT_METERS = 0x7000_0000  # + egress port number


def cookie(layer: Layer, object_id: int = 0) -> int:
    """The cookie for flows that ``layer`` installs for one of its objects."""
    if not 0 <= object_id <= COOKIE_OBJECT_MASK:
        raise ValueError(f"cookie object id {object_id} does not fit in 40 bits")
    return COOKIE_TAG | (int(layer) << 40) | object_id


def cookie_layer(value: int) -> Layer | None:
    """The layer that owns a cookie, or None if the flow is not ours."""
    if value & COOKIE_TAG_MASK != COOKIE_TAG:
        return None
    try:
        return Layer((value >> 40) & 0xFF)
    except ValueError:
        return None


@dataclass(frozen=True)
class Output:
    """Send the packet out of ``port`` (OFPP_CONTROLLER sends it to us, unbuffered).

    A switch drops an output to the port the packet arrived on: that needs
    ``OFPP_IN_PORT`` instead.
    """

    port: int


@dataclass(frozen=True)
class SetField:
    """Rewrite one header field, e.g. ``SetField("ip_dscp", 46)``."""

    field: str
    value: int | str


@dataclass(frozen=True)
class PushVlan:
    """Push a VLAN header (an 802.1Q tag; set its id with ``SetField("vlan_vid", ...)``)."""

    ethertype: int = 0x8100


@dataclass(frozen=True)
class PopVlan:
    """Remove the outermost VLAN header."""


@dataclass(frozen=True)
class SetQueue:
    """Send the packet through queue ``queue_id`` of the port it is output to (linux-htb
    queues set up through OVSDB; the userspace datapath ignores it)."""

    queue_id: int


@dataclass(frozen=True)
class Opaque:
    """An instruction or action read from a switch that tegu_ryu never installs.

    It never equals anything we want, so the reconciler replaces or removes
    the entry that carries it.
    """

    text: str


Action = Output | SetField | PushVlan | PopVlan | SetQueue | Opaque


FlowKey = tuple[int, int, tuple[tuple[str, int | str], ...]]


@dataclass(frozen=True)
class Flow:
    """One flow entry: where it lives, what it matches, what it does, who owns it.

    ``until`` (Unix seconds) asks for a hard timeout that removes the entry
    then even if the controller is gone; it is turned into a timeout when the
    flow is sent (at most 65535 s, refreshed before it runs out) and is not
    part of what makes two flows equal.
    """

    priority: int
    match: tuple[tuple[str, int | str], ...]
    actions: tuple[Action, ...]
    cookie: int
    table: int = 0
    meter: int | None = None
    goto: int | None = None
    metadata: int | None = None  # written (whole, unmasked) for the table ``goto`` names
    until: float | None = field(default=None, compare=False)
    description: str = field(default="", compare=False)

    @property
    def key(self) -> FlowKey:
        """What identifies the entry on a switch (OpenFlow's strict match)."""
        return (self.table, self.priority, self.match)

    def output_ports(self) -> list[int]:
        """The ports the entry sends out of, in order (``OFPP_IN_PORT`` as the port it matches)."""
        in_port = dict(self.match).get("in_port")
        return [
            int(in_port) if action.port == OFPP_IN_PORT and in_port is not None else action.port
            for action in self.actions
            if isinstance(action, Output)
        ]


@dataclass(frozen=True)
class Meter:
    """An OpenFlow meter with one drop band: traffic beyond ``rate_kbps`` is dropped."""

    id: int
    rate_kbps: int
    burst_kbit: int
    description: str = field(default="", compare=False)


def match(**fields: int | str) -> tuple[tuple[str, int | str], ...]:
    """A canonical (sorted, lower-cased MAC) match tuple from OXM field names."""
    return tuple(sorted((name, _canonical(value)) for name, value in fields.items()))


def _canonical(value: int | str) -> int | str:
    return value.lower() if isinstance(value, str) else value


def by_key(flows: Iterable[Flow]) -> dict[FlowKey, Flow]:
    """Index flows by their strict-match key."""
    return {flow.key: flow for flow in flows}


MAX_HARD_TIMEOUT = 65535  # the largest OpenFlow allows; longer flows are refreshed


def hard_timeout(flow: Flow, now: float) -> int:
    """Seconds until ``flow.until``, capped by OpenFlow's maximum; 0 means none."""
    if flow.until is None:
        return 0
    return max(1, min(MAX_HARD_TIMEOUT, math.ceil(flow.until - now)))
