"""Names for switches and switch ports, and their text forms.

Datapath ids are ints inside the controller and 16 hex digits at every
boundary (API, files, config), the form ovs-ofctl and os-ken print.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_PORT = 0xFFFFFF00  # OFPP_MAX: higher numbers are reserved ports


class RefError(ValueError):
    """A datapath id or port reference that cannot be parsed."""


def dpid_str(dpid: int) -> str:
    """The canonical 16-hex-digit form of a datapath id."""
    return f"{dpid:016x}"


def parse_dpid(text: str) -> int:
    """Parse a datapath id written in hex, with or without colons or 0x."""
    cleaned = text.strip().lower().replace(":", "")
    cleaned = cleaned.removeprefix("0x")
    if not cleaned or len(cleaned) > 16:
        raise RefError(f"{text!r} is not a datapath id (up to 16 hex digits)")
    try:
        return int(cleaned, 16)
    except ValueError as exc:
        raise RefError(f"{text!r} is not a datapath id (up to 16 hex digits)") from exc


class PortRef(NamedTuple):
    """One port of one switch: the end of a link or a host attachment point.

    A named tuple rather than a dataclass: these are dictionary keys on the
    admission hot path, and tuples hash in C.
    """

    dpid: int
    port: int

    def __str__(self) -> str:
        return f"{dpid_str(self.dpid)}:{self.port}"

    def as_json(self) -> dict[str, object]:
        return {"dpid": dpid_str(self.dpid), "port": self.port}


def parse_port_ref(text: str) -> PortRef:
    """Parse ``DPID:PORT`` (the DPID part may itself contain colons)."""
    dpid_text, sep, port_text = text.strip().rpartition(":")
    if not sep:
        raise RefError(f"{text!r} is not a port reference: expected DPID:PORT")
    dpid = parse_dpid(dpid_text)
    try:
        port = int(port_text)
    except ValueError as exc:
        raise RefError(f"{text!r}: port {port_text!r} is not a number") from exc
    if not 0 < port <= MAX_PORT:
        raise RefError(f"{text!r}: port {port} is out of range")
    return PortRef(dpid, port)


class LinkId(NamedTuple):
    """A directed link: traffic leaves ``src`` and arrives at ``dst``."""

    src: PortRef
    dst: PortRef

    def reversed(self) -> LinkId:
        return LinkId(self.dst, self.src)

    def __str__(self) -> str:
        return f"{self.src}->{self.dst}"


HOST_SIDE = PortRef(0, 0)  # the host end of an access link; no switch has datapath id 0


def to_host(attach: PortRef) -> LinkId:
    """The access link from a switch port down to the host on it."""
    return LinkId(attach, HOST_SIDE)


def from_host(attach: PortRef) -> LinkId:
    """The access link from a host up into the switch port it is on."""
    return LinkId(HOST_SIDE, attach)


def is_access(link: LinkId) -> bool:
    return HOST_SIDE in (link.src, link.dst)
