"""What a switch holds for a passthru: the host's IP traffic skips the DSCP reset.

At the host's port, in table 0, above the reset (``DSCP_RESET_PRIORITY``) and
below reservations: the host's frames (by its MAC, IPv4 and IPv6, narrowed
to the protocol, ports and source address asked for) go straight on to
forwarding, marking untouched.
"""

from __future__ import annotations

import ipaddress

from tegu_ryu.forwarding.base import ETH_TYPE_IPV4, ETH_TYPE_IPV6
from tegu_ryu.openflow.flows import ICMPV6, IP_PROTOCOLS, Flow, Table, match
from tegu_ryu.reservations.model import PassthruReservation

PASSTHRU_PRIORITY = 20  # + number of match fields; the DSCP reset is at 10


def passthru_flows(passthru: PassthruReservation, cookie: int) -> dict[int, tuple[Flow, ...]]:
    attach = passthru.host.attach
    if attach is None or passthru.host.mac is None:
        return {}
    traffic = passthru.match
    ported = (traffic.src_port, traffic.dst_port) != (None, None)
    protocols = [traffic.protocol] if traffic.protocol or not ported else ["tcp", "udp"]
    flows = []
    for eth_type, source in _families(passthru.src_ip):
        for protocol in protocols:
            fields: dict[str, int | str] = {
                "in_port": attach.port,
                "eth_src": passthru.host.mac,
                "eth_type": eth_type,
                **source,
            }
            if protocol is not None:
                number = IP_PROTOCOLS[protocol]
                fields["ip_proto"] = ICMPV6 if number == 1 and eth_type == ETH_TYPE_IPV6 else number
                if traffic.src_port is not None:
                    fields[f"{protocol}_src"] = traffic.src_port
                if traffic.dst_port is not None:
                    fields[f"{protocol}_dst"] = traffic.dst_port
            flows.append(
                Flow(
                    priority=PASSTHRU_PRIORITY + len(fields),
                    match=match(**fields),
                    actions=(),
                    cookie=cookie,
                    table=Table.RESERVATIONS,
                    goto=Table.FORWARDING,
                    until=passthru.window.end,
                    description=f"passthru {passthru.id}: marking kept",
                )
            )
    return {attach.dpid: tuple(flows)}


def _families(src_ip: str | None) -> list[tuple[int, dict[str, int | str]]]:
    """The IP families the entries select, each with its source address field if one is set."""
    if src_ip is None:
        return [(ETH_TYPE_IPV4, {}), (ETH_TYPE_IPV6, {})]
    if ipaddress.ip_address(src_ip).version == 4:
        return [(ETH_TYPE_IPV4, {"ipv4_src": src_ip})]
    return [(ETH_TYPE_IPV6, {"ipv6_src": src_ip})]
