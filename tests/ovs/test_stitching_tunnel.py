"""A stitched reservation with a GRE handoff on real ovs-vswitchd bridges: siteA's controller
drives ta1 - ta2, whose stitch point is a GRE tunnel (OpenFlow port 63000) to 10.99.0.3.

The tunnel port appears tagged as tegu_ryu's while the segment is active, with ``key=flow``
(and later syncs leave it alone); h1's traffic to the far host leaves through it encapsulated
with the reservation's label as the GRE key (seen on the underlay: a bridge of the same
ovs-vswitchd holding the tunnel's local address); GRE arriving with that key is decapsulated
and delivered to h1, with another key it is not; a cancel removes the flows and the port.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from controller_process import ControllerProcess, free_port
from os_ken.lib.packet import ethernet, gre, ipv4, packet
from privateovs import PrivateOvs, captured

from .test_stitching import H1, HB, carrying, installed, udp_frame

pytestmark = pytest.mark.ovs

TUNNEL_PORT = 63000
LOCAL, REMOTE, REMOTE_MAC = "10.99.0.1", "10.99.0.3", "aa:bb:cc:00:00:03"
STITCH = "wan:0000000000000072:{port} peer={peer} gre={remote} keys=5000-5099 capacity=100M"
SITE_A = {
    "switches": ["0000000000000071", "0000000000000072"],
    "hosts": [{"name": "h1", "mac": H1[0], "ips": [H1[1]], "attach": "0000000000000071:1"}],
}
SITE_B = {
    "switches": ["0000000000000072"],
    "hosts": [{"name": "hB", "mac": HB[0], "ips": [HB[1]], "attach": "0000000000000072:1"}],
}
UNDERLAY = "tu0"


@dataclass
class Sites:
    ovs: PrivateOvs
    a: ControllerProcess
    h1: Path
    underlay: Path  # what the underlay bridge sends toward the tunnel's far end


def options(me: str, other: str, port: int, token: Path, remote: str) -> dict[str, str]:
    return {
        "domain": me,
        "stitch": STITCH.format(port=TUNNEL_PORT, peer=other, remote=remote),
        "peer": f"{other}=http://127.0.0.1:{port}",
        "peer_token_file": f"{other}={token}",
        "resync_interval": "1",
        "discovery_settle": "1",
    }


@pytest.fixture(scope="module")
def tunnelling_ovs(
    ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PrivateOvs]:
    """A private ovs-vswitchd of its own whose GRE ports really encapsulate (the session's
    one makes every tunnel port a dummy)."""
    instance = PrivateOvs(tmp_path_factory.mktemp("ovs-tunnels"), dummy_tunnels=False)
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def sites(tunnelling_ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    ovs = tunnelling_ovs
    workdir = tmp_path_factory.mktemp("stitching-gre")
    token = workdir / "shared.token"
    token.write_text("a-b\n")
    port_a, port_b = free_port(), free_port()
    a = ControllerProcess(
        workdir / "a",
        api_port=port_a,
        topology=SITE_A,
        options={
            **options("siteA", "siteB", port_b, token, REMOTE),
            "ovsdb_remotes": f"unix:{ovs.rundir / 'db.sock'}",
        },
    )
    b = ControllerProcess(
        workdir / "b",
        api_port=port_b,
        topology=SITE_B,
        options=options("siteB", "siteA", port_a, token, LOCAL),
    )
    a.start()
    b.start()
    ovs.vsctl("add-br", UNDERLAY, "--", "set", "bridge", UNDERLAY, "datapath_type=dummy")
    underlay = ovs.add_host_port(UNDERLAY, "tu0-wan", 1)
    ovs.appctl("netdev-dummy/ip4addr", UNDERLAY, f"{LOCAL}/24")
    ovs.appctl("ovs/route/add", f"{REMOTE}/24", UNDERLAY)
    ovs.appctl("tnl/arp/set", UNDERLAY, REMOTE, REMOTE_MAC)
    ovs.add_bridge("ta1", 0x71, a.of_port)
    ovs.add_bridge("ta2", 0x72, a.of_port)
    h1 = ovs.add_host_port("ta1", "ta-h1", 1)
    ovs.add_patch("ta1", 2, "ta2", 2)
    a.wait_for_sync(2, 2)
    yield Sites(ovs, a, h1, underlay)
    a.stop()
    b.stop()
    for bridge in ("ta1", "ta2", UNDERLAY):
        ovs.del_bridge(bridge)
    ovs.appctl("ovs/route/del", f"{REMOTE}/24")


def gre_frame(sites: Sites, key: int, inner: bytes) -> bytes:
    """What the far end sends: ``inner`` in GRE with ``key``, to the underlay's address."""
    mac = sites.ovs.vsctl("get", "interface", UNDERLAY, "mac_in_use").strip().strip('"')
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=mac, src=REMOTE_MAC, ethertype=0x0800))
    pkt.add_protocol(ipv4.ipv4(src=REMOTE, dst=LOCAL, proto=47))
    pkt.add_protocol(gre.gre(protocol=0x6558, key=key))
    pkt.add_protocol(inner)
    pkt.serialize()
    return bytes(pkt.data)


def encapsulated(pcap: Path, payload: bytes) -> list[gre.gre]:
    """The GRE headers of what went out on the underlay carrying ``payload``."""
    return [
        p.get_protocol(gre.gre)
        for p in captured(pcap)
        if p.get_protocol(gre.gre) is not None and payload in bytes(p.data)
    ]


def flows_text(sites: Sites) -> str:
    return "\n".join(flow.text for flow in sites.ovs.flows("ta2"))


def test_a_gre_stitched_reservation_goes_through_its_own_tunnel_port_by_key(
    sites: Sites,
) -> None:
    a, ovs = sites.a, sites.ovs
    status, made = a.request(
        "POST",
        "/v1/reservations",
        {"src": "h1", "dst": "siteB/hB", "bandwidth": "10M", "duration": 600},
    )
    assert status == 201, made
    rid, label = made["id"], made["stitch"]["label"]
    assert label == 5000 and made["stitch"]["handoff"] == "gre"
    a.wait_for(lambda: installed(a, rid), timeout=10, what="stitched reservation installed")

    ports = lambda: set(ovs.vsctl("list-ports", "ta2").split())  # noqa: E731
    a.wait_for(
        lambda: (
            "tegu-swan" in ports()
            and ovs.vsctl("get", "interface", "tegu-swan", "ofport").strip() == str(TUNNEL_PORT)
        ),
        timeout=10,
        what="the tunnel port made (its ofport written back by ovs-vswitchd)",
    )
    interface = {
        column: ovs.vsctl("get", "interface", "tegu-swan", column).strip()
        for column in ("type", "options", "ofport", "external_ids")
    }
    assert interface["type"] == "gre" and interface["ofport"] == str(TUNNEL_PORT)
    assert interface["options"] == f'{{key=flow, remote_ip="{REMOTE}"}}'
    assert "tegu-owner=tegu_ryu" in interface["external_ids"]
    uuid = ovs.vsctl("get", "port", "tegu-swan", "_uuid")
    syncs = a.metric("tegu_ovsdb_bridge_syncs_total")
    a.wait_for(
        lambda: a.metric("tegu_ovsdb_bridge_syncs_total") >= syncs + 2,
        timeout=10,
        what="two more OVSDB syncs",
    )
    assert ovs.vsctl("get", "port", "tegu-swan", "_uuid") == uuid  # read back as equal: kept
    text = flows_text(sites)
    assert re.search(rf"set_field:0x1388->tun_id,output:{TUNNEL_PORT}\b", text), text
    assert re.search(rf"tun_id=0x1388,in_port={TUNNEL_PORT}\b", text), text

    ovs.inject("ta-h1", udp_frame(H1, HB, b"into the tunnel", None))
    a.wait_for(
        lambda: bool(encapsulated(sites.underlay, b"into the tunnel")),
        timeout=5,
        what="GRE on the underlay",
    )
    (header,) = encapsulated(sites.underlay, b"into the tunnel")
    assert header.key == label

    ovs.inject("tu0-wan", gre_frame(sites, label, udp_frame(HB, H1, b"out of the tunnel", None)))
    a.wait_for(lambda: bool(carrying(sites.h1, b"out of the tunnel")), timeout=5, what="h1 reached")
    ovs.inject("tu0-wan", gre_frame(sites, label + 1, udp_frame(HB, H1, b"other key", None)))
    time.sleep(0.5)
    assert not carrying(sites.h1, b"other key")

    assert a.request("DELETE", f"/v1/reservations/{rid}")[0] == 204
    a.wait_for(lambda: "tegu-swan" not in ports(), timeout=10, what="the tunnel port removed")
    a.wait_for(
        lambda: "tun_id" not in flows_text(sites), timeout=10, what="the keyed flows removed"
    )
