"""What to do with a packet a switch sent to the controller.

Packets reach the controller when no flow knows them: ARP (always), the first
packets to a host we have not learnt yet, broadcasts and multicasts. For each
one we learn the sender (MAC, address, attachment port), then either answer
an ARP request from the host table (proxy ARP), deliver the packet straight
to its destination's port, or flood it to the edge ports of the network, never
between switches, so loops in the topology cannot make a broadcast storm.

Until LLDP has found every link, a port between two switches can look like an
edge port; a packet we flooded out of it would come back to us from the next
switch. ``FloodMemory`` recognises those echoes and drops them.

Stitch ports (WAN stitching) lead to another domain: nothing is learnt from
what arrives there and nothing is flooded out of them; a local host's ARP
for the far host of one of its stitched reservations is answered with what
the peer domain reported about that host (``WanFacts``).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from os_ken.lib.packet import arp, ether_types, ethernet, ipv4, ipv6, packet

from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.refs import PortRef

_IGNORED_ETH_TYPES = {ether_types.ETH_TYPE_LLDP, ether_types.ETH_TYPE_CFM}
_UNSPECIFIED_IPS = {"0.0.0.0", "::"}


@dataclass(frozen=True)
class PacketOut:
    """Send ``data`` out of one switch port."""

    at: PortRef
    data: bytes


@dataclass(frozen=True)
class PacketInOutcome:
    """The packets to send, and whether what we learnt changes forwarding."""

    packets: tuple[PacketOut, ...] = ()
    replan: bool = False


@dataclass(frozen=True)
class WanFacts:
    """What packet-in handling must know of WAN stitching.

    ``remote`` maps a far host's IP to its MAC and the local hosts (MACs)
    whose live stitched reservations reach it: only they get an answer.
    """

    ports: frozenset[PortRef] = frozenset()
    remote: Mapping[str, tuple[str, frozenset[str]]] = field(default_factory=dict)


NO_WAN = WanFacts()


class FloodMemory:
    """Packets we flooded recently, to tell our own echo from a host's retry.

    A host that retries sends the same bytes from the same port; an echo of
    our flood arrives from a different one.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._seen: OrderedDict[bytes, tuple[float, PortRef]] = OrderedDict()

    def remember(self, now: float, data: bytes, origin: PortRef) -> None:
        digest = _digest(data)
        self._seen.pop(digest, None)
        self._seen[digest] = (now + self.ttl, origin)

    def is_echo(self, now: float, data: bytes, at: PortRef) -> bool:
        while self._seen:
            _, (expiry, _) = next(iter(self._seen.items()))
            if expiry > now:
                break
            self._seen.popitem(last=False)
        entry = self._seen.get(_digest(data))
        return entry is not None and entry[1] != at


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def handle_packet_in(
    topology: Topology,
    memory: FloodMemory,
    now: float,
    at: PortRef,
    data: bytes,
    *,
    wan: WanFacts = NO_WAN,
) -> PacketInOutcome:
    """Learn from a packet that arrived at ``at`` and decide where it goes."""
    pkt = packet.Packet(data)
    eth = pkt.get_protocol(ethernet.ethernet)
    if eth is None or eth.ethertype in _IGNORED_ETH_TYPES or at in wan.ports:
        return PacketInOutcome()
    if topology.is_link_port(at):
        return _deliver_in_transit(topology, eth.dst.lower(), data)
    if memory.is_echo(now, data, at):
        return PacketInOutcome()
    src_mac = eth.src.lower()
    replan = False
    if not _is_group_mac(src_mac):
        replan = topology.host_seen(src_mac, at, _sender_ip(pkt))

    arp_pkt = pkt.get_protocol(arp.arp)
    if arp_pkt is not None and arp_pkt.opcode == arp.ARP_REQUEST:
        if arp_pkt.src_ip == arp_pkt.dst_ip:
            return PacketInOutcome(replan=replan)
        target = topology.host_by_ip(arp_pkt.dst_ip)
        if target is not None and target.mac != src_mac:
            reply = _arp_reply(target.mac, arp_pkt.dst_ip, src_mac, arp_pkt.src_ip)
            return PacketInOutcome(packets=(PacketOut(at, reply),), replan=replan)
        far = wan.remote.get(arp_pkt.dst_ip)
        if far is not None and src_mac in far[1]:
            reply = _arp_reply(far[0], arp_pkt.dst_ip, src_mac, arp_pkt.src_ip)
            return PacketInOutcome(packets=(PacketOut(at, reply),), replan=replan)

    destination = topology.host_by_mac(eth.dst.lower())
    if destination is not None:
        if destination.attach == at:
            return PacketInOutcome(replan=replan)
        return PacketInOutcome(packets=(PacketOut(destination.attach, data),), replan=replan)
    memory.remember(now, data, at)
    flood = tuple(
        PacketOut(port, data)
        for port in topology.edge_ports()
        if port != at and port not in wan.ports
    )
    return PacketInOutcome(packets=flood, replan=replan)


def _deliver_in_transit(topology: Topology, dst_mac: str, data: bytes) -> PacketInOutcome:
    """A packet between switches met a switch whose flows are not there yet.

    It teaches nothing about its sender (it did not come from a host port) and
    is never flooded, but a packet for a known host is handed straight to the
    host's port so that it is not lost while flows are being installed.
    """
    destination = topology.host_by_mac(dst_mac)
    if destination is None:
        return PacketInOutcome()
    return PacketInOutcome(packets=(PacketOut(destination.attach, data),))


def _is_group_mac(mac: str) -> bool:
    return int(mac[:2], 16) & 1 == 1


def _sender_ip(pkt: packet.Packet) -> str | None:
    """The sender's own address, if the packet carries one we can trust."""
    for proto, attr in ((arp.arp, "src_ip"), (ipv4.ipv4, "src"), (ipv6.ipv6, "src")):
        header = pkt.get_protocol(proto)
        if header is not None:
            ip = str(getattr(header, attr))
            return None if ip in _UNSPECIFIED_IPS else ip
    return None


def _arp_reply(target_mac: str, target_ip: str, asker_mac: str, asker_ip: str) -> bytes:
    reply = packet.Packet()
    reply.add_protocol(
        ethernet.ethernet(ethertype=ether_types.ETH_TYPE_ARP, dst=asker_mac, src=target_mac)
    )
    reply.add_protocol(
        arp.arp(
            opcode=arp.ARP_REPLY,
            src_mac=target_mac,
            src_ip=target_ip,
            dst_mac=asker_mac,
            dst_ip=asker_ip,
        )
    )
    reply.serialize()
    return bytes(reply.data)
