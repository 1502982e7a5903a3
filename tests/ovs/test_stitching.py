"""A stitched reservation on real ovs-vswitchd bridges: siteA's controller drives b1 - b2,
whose port 9 is the stitch point toward siteB (a second controller, static topology only).

Traffic from h1 to siteB's host leaves the stitch port tagged with the reservation's VLAN
id, through its meter; tagged traffic arriving there is popped and delivered to h1; h1's
ARP for the far host is answered with the MAC siteB reported; a cancel removes it all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from controller_process import ControllerProcess, free_port
from os_ken.lib.packet import arp, ether_types, ethernet, ipv4, packet, udp, vlan
from privateovs import PrivateOvs, captured

from tegu_ryu.openflow.flows import COOKIE_TAG, COOKIE_TAG_MASK

from ..unit.test_packet_in import arp_request

pytestmark = pytest.mark.ovs

H1 = ("00:00:00:00:00:01", "10.0.0.1")
HB = ("00:00:00:00:00:b3", "10.0.1.3")
STITCH = "wan:0000000000000002:9 peer={peer} vlan=100-199 capacity=100M"
SITE_A = {
    "switches": ["0000000000000001", "0000000000000002"],
    "hosts": [{"name": "h1", "mac": H1[0], "ips": [H1[1]], "attach": "0000000000000001:1"}],
}
SITE_B = {
    "switches": ["0000000000000002"],
    "hosts": [{"name": "hB", "mac": HB[0], "ips": [HB[1]], "attach": "0000000000000002:1"}],
}


@dataclass
class Sites:
    ovs: PrivateOvs
    a: ControllerProcess
    b: ControllerProcess
    h1: Path
    wan: Path


def options(me: str, other: str, port: int, token: Path) -> dict[str, str]:
    return {
        "domain": me,
        "stitch": STITCH.format(peer=other),
        "peer": f"{other}=http://127.0.0.1:{port}",
        "peer_token_file": f"{other}={token}",
        "resync_interval": "1",
        "discovery_settle": "1",
    }


@pytest.fixture(scope="module")
def sites(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    workdir = tmp_path_factory.mktemp("stitching")
    token = workdir / "shared.token"
    token.write_text("a-b\n")
    port_a, port_b = free_port(), free_port()
    a = ControllerProcess(
        workdir / "a",
        api_port=port_a,
        topology=SITE_A,
        options=options("siteA", "siteB", port_b, token),
    )
    b = ControllerProcess(
        workdir / "b",
        api_port=port_b,
        topology=SITE_B,
        options=options("siteB", "siteA", port_a, token),
    )
    a.start()
    b.start()
    ovs.add_bridge("sa1", 1, a.of_port)
    ovs.add_bridge("sa2", 2, a.of_port)
    h1 = ovs.add_host_port("sa1", "sa-h1", 1)
    wan = ovs.add_host_port("sa2", "sa-wan", 9)
    ovs.add_patch("sa1", 2, "sa2", 2)
    a.wait_for_sync(2, 2)
    yield Sites(ovs, a, b, h1, wan)
    a.stop()
    b.stop()
    ovs.del_bridge("sa1")
    ovs.del_bridge("sa2")


def udp_frame(src: tuple[str, str], dst: tuple[str, str], payload: bytes, tag: int | None) -> bytes:
    pkt = packet.Packet()
    if tag is None:
        pkt.add_protocol(
            ethernet.ethernet(dst=dst[0], src=src[0], ethertype=ether_types.ETH_TYPE_IP)
        )
    else:
        pkt.add_protocol(
            ethernet.ethernet(dst=dst[0], src=src[0], ethertype=ether_types.ETH_TYPE_8021Q)
        )
        pkt.add_protocol(vlan.vlan(vid=tag, ethertype=ether_types.ETH_TYPE_IP))
    pkt.add_protocol(ipv4.ipv4(src=src[1], dst=dst[1], proto=17))
    pkt.add_protocol(udp.udp(src_port=4000, dst_port=5000))
    pkt.add_protocol(payload)
    pkt.serialize()
    return bytes(pkt.data)


def carrying(pcap: Path, payload: bytes) -> list[packet.Packet]:
    return [p for p in captured(pcap) if p.protocols[-1] == payload]


def installed(site: ControllerProcess, rid: str) -> bool:
    status, body = site.get(f"/v1/reservations/{rid}")
    return status == 200 and body["enforcement"]["status"] == "installed"


def test_a_stitched_reservation_tags_toward_the_wan_and_pops_from_it(sites: Sites) -> None:
    a, ovs = sites.a, sites.ovs
    status, made = a.request(
        "POST",
        "/v1/reservations",
        {"src": "h1", "dst": "siteB/hB", "bandwidth": "10M", "duration": 600},
    )
    assert status == 201, made
    rid, label = made["id"], made["stitch"]["label"]
    assert label == 100 and made["dst"]["mac"] == HB[0]
    a.wait_for(lambda: installed(a, rid), timeout=10, what="stitched reservation installed")

    ovs.inject("sa-h1", udp_frame(H1, HB, b"to the wan", None))
    a.wait_for(lambda: bool(carrying(sites.wan, b"to the wan")), timeout=5, what="tagged at wan")
    (out,) = carrying(sites.wan, b"to the wan")
    assert out.get_protocol(vlan.vlan).vid == label

    ovs.inject("sa-wan", udp_frame(HB, H1, b"from the wan", label))
    a.wait_for(lambda: bool(carrying(sites.h1, b"from the wan")), timeout=5, what="popped at h1")
    (back,) = carrying(sites.h1, b"from the wan")
    assert not back.get_protocols(vlan.vlan)

    ovs.inject("sa-wan", udp_frame(HB, H1, b"wrong label", label + 1))
    time.sleep(0.5)
    assert not carrying(sites.h1, b"wrong label")

    ovs.inject("sa-h1", arp_request(H1[0], H1[1], HB[1]))
    a.wait_for(lambda: answered_with(sites.h1, HB), timeout=5, what="ARP for the far host")

    metered = [f for f in ovs.flows("sa1") if "meter:" in f.text and "10.0.1.3" in f.text]
    assert metered, "h1's traffic to the far host is metered where it enters"

    assert a.request("DELETE", f"/v1/reservations/{rid}")[0] == 204
    status, theirs = sites.b.get(f"/v1/reservations/{made['stitch']['peer_reservation']}")
    assert status == 200 and theirs["state"] == "cancelled"

    def gone() -> bool:
        return not [
            f
            for bridge in ("sa1", "sa2")
            for f in ovs.flows(bridge)
            if f.cookie & COOKIE_TAG_MASK == COOKIE_TAG and "vlan" in f.text
        ]

    a.wait_for(gone, timeout=10, what="the stitched flows removed")


def answered_with(pcap: Path, host: tuple[str, str]) -> bool:
    """Whether ``pcap`` holds an ARP reply saying ``host``'s address is at its MAC."""
    replies = [p.get_protocol(arp.arp) for p in captured(pcap)]
    return any(
        r is not None and r.opcode == arp.ARP_REPLY and (r.src_mac, r.src_ip) == host
        for r in replies
    )
