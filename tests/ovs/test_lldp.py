"""LLDP on real ovs-vswitchd bridges: it keeps going out of the network's own ports, and
never out of a stitch point or a tegu tunnel port (our topology is no peer's business).

la1 - la2 (patch ports 2), a host port on la1, and on la2 the stitch point toward siteB
(port 9) and a port named as tegu_ryu names its tunnel ports, at a mirror's number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from controller_process import ControllerProcess, free_port
from os_ken.lib.packet import ether_types, ethernet
from privateovs import PrivateOvs, captured

pytestmark = pytest.mark.ovs

TOPOLOGY = {"switches": ["0000000000000081", "0000000000000082"], "hosts": []}
STITCH = "wan:0000000000000082:9 peer=siteB vlan=100-199 capacity=100M"
TUNNEL_PORT = 64005


@dataclass
class Ports:
    controller: ControllerProcess
    host: Path
    stitch: Path
    tunnel: Path


@pytest.fixture(scope="module")
def ports(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ports]:
    workdir = tmp_path_factory.mktemp("lldp")
    token = workdir / "siteB.token"
    token.write_text("a-b\n")
    controller = ControllerProcess(
        workdir,
        topology=TOPOLOGY,
        options={
            "domain": "siteA",
            "stitch": STITCH,
            "peer": f"siteB=http://127.0.0.1:{free_port()}",
            "peer_token_file": f"siteB={token}",
        },
    )
    controller.start()
    ovs.add_bridge("la1", 0x81, controller.of_port)
    ovs.add_bridge("la2", 0x82, controller.of_port)
    host = ovs.add_host_port("la1", "la-h1", 1)
    stitch = ovs.add_host_port("la2", "la-wan", 9)
    tunnel = ovs.add_host_port("la2", "tegu-m77", TUNNEL_PORT)
    ovs.add_patch("la1", 2, "la2", 2)
    try:
        controller.wait_for_sync(2, 2)
        yield Ports(controller, host, stitch, tunnel)
    finally:
        controller.stop()
        ovs.del_bridge("la1")
        ovs.del_bridge("la2")


def lldp_frames(pcap: Path) -> int:
    return sum(
        1
        for p in captured(pcap)
        if p.get_protocol(ethernet.ethernet).ethertype == ether_types.ETH_TYPE_LLDP
    )


def test_lldp_keeps_going_out_of_fabric_ports_and_never_out_of_stitch_or_tunnel_ports(
    ports: Ports,
) -> None:
    # Three LLDP rounds out of the host port: each other port has had as many chances.
    ports.controller.wait_for(lambda: lldp_frames(ports.host) >= 3, 30, "3 LLDP frames to h1")
    assert lldp_frames(ports.stitch) == 0
    assert lldp_frames(ports.tunnel) == 0
    log = ports.controller.log()
    assert "no LLDP out of 0000000000000082:9 (la-wan)" in log
    assert f"no LLDP out of 0000000000000082:{TUNNEL_PORT} (tegu-m77)" in log
