"""Which packets a reservation's entries select: OXM match fields from its ends and traffic.

Shared by every kind that selects a tenant's traffic by its addresses
(bandwidth reservations, steering chains).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import replace

from tegu_ryu.openflow.flows import ICMPV6, IP_PROTOCOLS
from tegu_ryu.reservations.model import Endpoint, Match

RESERVATION_PRIORITY = 1000  # + number of match fields: the more specific wins


def classifiers(a: Endpoint, b: Endpoint, traffic: Match) -> list[dict[str, int | str]]:
    """The matches for traffic from ``a`` to ``b``: two when ports are given without a protocol.

    A port with no protocol means TCP and UDP alike (Tegu's reading); both
    flows go through the one reservation meter, so they share its rate.
    """
    if traffic.protocol is None and (traffic.src_port, traffic.dst_port) != (None, None):
        return [classifier(a, b, replace(traffic, protocol=p)) for p in ("tcp", "udp")]
    return [classifier(a, b, traffic)]


def classifier(a: Endpoint, b: Endpoint, traffic: Match) -> dict[str, int | str]:
    """OXM fields that pick out traffic from ``a`` to ``b`` (addresses if both have one)."""
    fields: dict[str, int | str] = {}
    family = _family(a.ip, b.ip)
    if family == 4:
        fields.update(eth_type=0x0800, ipv4_src=str(a.ip), ipv4_dst=str(b.ip))
    elif family == 6:
        fields.update(eth_type=0x86DD, ipv6_src=str(a.ip), ipv6_dst=str(b.ip))
    else:
        if a.mac is not None:
            fields["eth_src"] = a.mac
        if b.mac is not None:
            fields["eth_dst"] = b.mac
    if traffic.protocol is not None:
        fields.setdefault("eth_type", 0x0800)
        protocol = IP_PROTOCOLS[traffic.protocol]
        fields["ip_proto"] = ICMPV6 if protocol == 1 and fields["eth_type"] == 0x86DD else protocol
        if traffic.src_port is not None:
            fields[f"{traffic.protocol}_src"] = traffic.src_port
        if traffic.dst_port is not None:
            fields[f"{traffic.protocol}_dst"] = traffic.dst_port
    if traffic.vlan is not None:
        fields["vlan_vid"] = 0x1000 | traffic.vlan
    return fields


def _family(a: str | None, b: str | None) -> int | None:
    if a is None or b is None:
        return None
    first, second = _version(a), _version(b)
    return first if first == second else None


@functools.lru_cache(maxsize=4096)
def _version(address: str) -> int:
    """4 or 6; remembered, since the same few hosts' addresses are planned over and over."""
    return ipaddress.ip_address(address).version
