"""Forwarding beside stitching: proxy ARP for the far host of a live stitched reservation,
and a stitch port that nothing is learnt from and nothing is flooded out of."""

from __future__ import annotations

from os_ken.lib.packet import arp, packet

from tegu_ryu.forwarding.packet_in import FloodMemory, handle_packet_in
from tegu_ryu.reservations.model import Bandwidth, RemoteEnd, StitchRole
from tegu_ryu.reservations.window import Window
from tegu_ryu.stitching import protocol
from tegu_ryu.stitching.arp import wan_facts
from tegu_ryu.stitching.protocol import SegmentRequest

from .stitch_fixtures import STITCH_PORT, M, domain
from .test_packet_in import arp_request, ipv4_packet

FAR = RemoteEnd("siteB", "hB", "00:00:00:00:0b:01", "10.1.0.1")


def test_a_local_host_gets_the_far_hosts_mac_while_its_reservation_lives() -> None:
    engine, settings, host = domain()
    request = SegmentRequest(StitchRole.ORIGIN, host.mac, FAR, Bandwidth(M, M), Window(0, 100))
    held = protocol.hold(engine, settings, 0, "acme", request)
    data = arp_request(host.mac, host.ips[0], "10.1.0.1")
    while_held = handle_packet_in(
        engine.topology, FloodMemory(), 0, host.attach, data, wan=wan_facts(settings, engine)
    )
    assert all(  # not before both domains committed: the far host is not reachable yet
        packet.Packet(o.data).get_protocol(arp.arp).opcode == arp.ARP_REQUEST
        for o in while_held.packets
    )
    protocol.commit(engine, 0.5, held.id)
    facts = wan_facts(settings, engine)
    outcome = handle_packet_in(engine.topology, FloodMemory(), 0, host.attach, data, wan=facts)
    (out,) = outcome.packets
    answer = packet.Packet(out.data).get_protocol(arp.arp)
    assert out.at == host.attach and answer.src_mac == FAR.mac and answer.src_ip == FAR.ip
    protocol.abort(engine, 1, held.id, "done")
    after = handle_packet_in(
        engine.topology, FloodMemory(), 2, host.attach, data, wan=wan_facts(settings, engine)
    )
    assert all(
        packet.Packet(o.data).get_protocol(arp.arp).opcode == arp.ARP_REQUEST for o in after.packets
    )


def test_another_local_host_is_not_told_the_far_hosts_mac() -> None:
    engine, settings, host = domain()
    request = SegmentRequest(StitchRole.ORIGIN, host.mac, FAR, Bandwidth(M, M), Window(0, 100))
    protocol.commit(engine, 0, protocol.hold(engine, settings, 0, "acme", request).id)
    stranger = "00:00:00:00:0c:01"
    data = arp_request(stranger, "10.0.0.99", "10.1.0.1")
    facts = wan_facts(settings, engine)
    outcome = handle_packet_in(engine.topology, FloodMemory(), 0, host.attach, data, wan=facts)
    assert all(
        packet.Packet(o.data).get_protocol(arp.arp).opcode == arp.ARP_REQUEST
        for o in outcome.packets
    )


def test_the_stitch_port_teaches_nothing_and_is_never_flooded() -> None:
    engine, settings, host = domain()
    facts = wan_facts(settings, engine)
    topology = engine.topology
    stray = ipv4_packet("00:00:00:00:0b:01", host.mac, "10.1.0.1", host.ips[0])
    outcome = handle_packet_in(topology, FloodMemory(), 0, STITCH_PORT, stray, wan=facts)
    assert outcome.packets == () and topology.host_by_mac("00:00:00:00:0b:01") is None
    flood = handle_packet_in(
        topology,
        FloodMemory(),
        0,
        host.attach,
        arp_request(host.mac, host.ips[0], "10.7.7.7"),
        wan=facts,
    )
    assert flood.packets and STITCH_PORT not in {o.at for o in flood.packets}
