"""Packet-in handling: learning, proxy ARP, delivery and loop-free flooding."""

from __future__ import annotations

from os_ken.lib.packet import arp, ether_types, ethernet, ipv4, ipv6, packet

from tegu_ryu.forwarding.packet_in import FloodMemory, handle_packet_in
from tegu_ryu.topology.model import PortState
from tegu_ryu.topology.refs import PortRef

from .topologies import Builder

BROADCAST = "ff:ff:ff:ff:ff:ff"


def arp_request(src_mac: str, src_ip: str, target_ip: str) -> bytes:
    pkt = packet.Packet()
    pkt.add_protocol(
        ethernet.ethernet(dst=BROADCAST, src=src_mac, ethertype=ether_types.ETH_TYPE_ARP)
    )
    pkt.add_protocol(
        arp.arp(opcode=arp.ARP_REQUEST, src_mac=src_mac, src_ip=src_ip, dst_ip=target_ip)
    )
    pkt.serialize()
    return bytes(pkt.data)


def ipv4_packet(src_mac: str, dst_mac: str, src_ip: str, dst_ip: str) -> bytes:
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=dst_mac, src=src_mac, ethertype=ether_types.ETH_TYPE_IP))
    pkt.add_protocol(ipv4.ipv4(src=src_ip, dst=dst_ip, proto=17))
    pkt.serialize()
    return bytes(pkt.data)


def two_switch_network() -> Builder:
    builder = Builder()
    builder.link(1, 2)
    builder.host(1)
    builder.host(2)
    builder.connect_all()
    return builder


def test_arp_request_for_a_known_host_is_answered_by_the_controller() -> None:
    topology = two_switch_network().topology
    asker, target = topology.hosts()
    data = arp_request(asker.mac, asker.ips[0], target.ips[0])
    outcome = handle_packet_in(topology, FloodMemory(), 0.0, asker.attach, data)
    assert len(outcome.packets) == 1
    reply_out = outcome.packets[0]
    assert reply_out.at == asker.attach
    reply = packet.Packet(reply_out.data)
    eth = reply.get_protocol(ethernet.ethernet)
    answer = reply.get_protocol(arp.arp)
    assert (eth.src, eth.dst) == (target.mac, asker.mac)
    assert answer.opcode == arp.ARP_REPLY
    assert (answer.src_mac, answer.src_ip) == (target.mac, target.ips[0])
    assert (answer.dst_mac, answer.dst_ip) == (asker.mac, asker.ips[0])


def test_unknown_target_is_flooded_to_edge_ports_only() -> None:
    builder = two_switch_network()
    topology = builder.topology
    asker = topology.hosts()[0]
    topology.port_updated(2, PortState(port=9))
    data = arp_request(asker.mac, asker.ips[0], "10.9.9.9")
    outcome = handle_packet_in(topology, FloodMemory(), 0.0, asker.attach, data)
    ports = {out.at for out in outcome.packets}
    edge = set(topology.edge_ports()) - {asker.attach}
    assert ports == edge
    assert PortRef(2, 9) in ports
    assert not any(topology.is_link_port(port) for port in ports)


def test_a_new_host_is_learnt_and_forwarding_replanned() -> None:
    topology = two_switch_network().topology
    at = PortRef(2, 7)
    topology.port_updated(2, PortState(port=7))
    data = arp_request("0a:00:00:00:00:07", "10.0.0.77", "10.9.9.9")
    outcome = handle_packet_in(topology, FloodMemory(), 0.0, at, data)
    assert outcome.replan
    host = topology.host_by_ip("10.0.0.77")
    assert host is not None and host.mac == "0a:00:00:00:00:07" and host.attach == at
    again = handle_packet_in(topology, FloodMemory(), 1.0, at, data)
    assert not again.replan


def test_packets_arriving_on_links_teach_nothing_and_are_never_flooded() -> None:
    builder = two_switch_network()
    topology = builder.topology
    link = topology.links()[0]
    data = arp_request("0a:00:00:00:00:08", "10.0.0.88", "10.9.9.9")
    outcome = handle_packet_in(topology, FloodMemory(), 0.0, link.dst, data)
    assert outcome.packets == () and not outcome.replan
    assert topology.host_by_mac("0a:00:00:00:00:08") is None


def test_a_packet_in_transit_to_a_known_host_is_delivered() -> None:
    """Flows are still being installed on the next switch: the packet must not be lost."""
    topology = two_switch_network().topology
    a, b = topology.hosts()
    link = topology.links()[0]
    data = ipv4_packet(a.mac, b.mac, a.ips[0], b.ips[0])
    outcome = handle_packet_in(topology, FloodMemory(), 0.0, link.dst, data)
    assert [(o.at, o.data) for o in outcome.packets] == [(b.attach, data)]
    assert not outcome.replan


def test_our_own_flood_coming_back_is_dropped_but_a_retry_is_not() -> None:
    topology = two_switch_network().topology
    asker = topology.hosts()[0]
    memory = FloodMemory(ttl=2.0)
    data = arp_request(asker.mac, asker.ips[0], "10.9.9.9")
    first = handle_packet_in(topology, memory, 0.0, asker.attach, data)
    assert first.packets
    elsewhere = PortRef(2, 42)
    echo = handle_packet_in(topology, memory, 0.5, elsewhere, data)
    assert echo.packets == ()
    assert topology.host_by_mac(asker.mac).attach == asker.attach  # type: ignore[union-attr]
    retry = handle_packet_in(topology, memory, 1.0, asker.attach, data)
    assert {o.at for o in retry.packets} == {o.at for o in first.packets}
    late = handle_packet_in(topology, memory, 10.0, elsewhere, data)
    assert late.packets  # the memory forgets after its ttl


def test_unicast_to_a_known_host_is_delivered_at_its_port() -> None:
    topology = two_switch_network().topology
    a, b = topology.hosts()
    data = ipv4_packet(a.mac, b.mac, a.ips[0], b.ips[0])
    outcome = handle_packet_in(topology, FloodMemory(), 0.0, a.attach, data)
    assert [(o.at, o.data) for o in outcome.packets] == [(b.attach, data)]


def test_ipv6_sender_address_is_learnt() -> None:
    topology = two_switch_network().topology
    pkt = packet.Packet()
    pkt.add_protocol(
        ethernet.ethernet(
            dst="33:33:00:00:00:01", src="0a:00:00:00:00:06", ethertype=ether_types.ETH_TYPE_IPV6
        )
    )
    pkt.add_protocol(ipv6.ipv6(src="fd00::6", dst="ff02::1", nxt=59))
    pkt.serialize()
    at = PortRef(1, 5)
    handle_packet_in(topology, FloodMemory(), 0.0, at, bytes(pkt.data))
    host = topology.host_by_mac("0a:00:00:00:00:06")
    assert host is not None and host.ips == ("fd00::6",) and host.attach == at


def test_gratuitous_arp_teaches_without_flooding() -> None:
    topology = two_switch_network().topology
    data = arp_request("0a:00:00:00:00:05", "10.0.0.55", "10.0.0.55")
    outcome = handle_packet_in(topology, FloodMemory(), 0.0, PortRef(1, 5), data)
    assert outcome.packets == () and outcome.replan
