"""The DSCP trust boundary on real ovs-vswitchd bridges (``dscp_policy = reset``): a marked
packet from a host no reservation claims arrives with DSCP 0; with a passthru it keeps its
marking; after the passthru's window it is reset again.

b1 - b2 joined by patch ports, h1 on b1 and h2 on b2, both in the static topology.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_process import ControllerProcess
from os_ken.lib.packet import ether_types, ethernet, ipv4, packet, udp
from privateovs import PrivateOvs, captured

pytestmark = pytest.mark.ovs

H1 = ("00:00:00:00:00:01", "10.0.0.1")
H2 = ("00:00:00:00:00:02", "10.0.0.2")
TOPOLOGY = {
    "switches": ["0000000000000001", "0000000000000002"],
    "hosts": [
        {"name": "h1", "mac": H1[0], "ips": [H1[1]], "attach": "0000000000000001:1"},
        {"name": "h2", "mac": H2[0], "ips": [H2[1]], "attach": "0000000000000002:1"},
    ],
}
VOICE = 46


def marked(payload: bytes, dscp: int = VOICE) -> bytes:
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=H2[0], src=H1[0], ethertype=ether_types.ETH_TYPE_IP))
    pkt.add_protocol(ipv4.ipv4(src=H1[1], dst=H2[1], proto=17, tos=dscp << 2))
    pkt.add_protocol(udp.udp(src_port=4000, dst_port=5000))
    pkt.add_protocol(payload)
    pkt.serialize()
    return bytes(pkt.data)


def dscp_at(pcap: Path, payload: bytes, timeout: float = 5) -> int:
    """The DSCP of the packet carrying ``payload`` that the port sent to its host."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pkt in captured(pcap):
            if isinstance(pkt.protocols[-1], bytes) and pkt.protocols[-1] == payload:
                return int(pkt.get_protocol(ipv4.ipv4).tos) >> 2
        time.sleep(0.02)
    raise AssertionError(f"{payload!r} never arrived")


@pytest.fixture(scope="module")
def fabric(
    ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[PrivateOvs, ControllerProcess, Path]]:
    controller = ControllerProcess(
        tmp_path_factory.mktemp("controller"),
        topology=TOPOLOGY,
        options={"resync_interval": "1", "discovery_settle": "1", "dscp_policy": "reset"},
    )
    controller.start()
    ovs.add_bridge("d1", 1, controller.of_port)
    ovs.add_bridge("d2", 2, controller.of_port)
    ovs.add_host_port("d1", "dh1", 1)
    pcap = ovs.add_host_port("d2", "dh2", 1)
    ovs.add_patch("d1", 2, "d2", 2)
    controller.wait_for_sync(2, 2)
    yield ovs, controller, pcap
    controller.stop()
    ovs.del_bridge("d1")
    ovs.del_bridge("d2")


def test_markings_are_reset_unless_a_passthru_lets_them_through_for_its_window(
    fabric: tuple[PrivateOvs, ControllerProcess, Path],
) -> None:
    ovs, controller, pcap = fabric
    ovs.inject("dh1", marked(b"unreserved"))
    assert dscp_at(pcap, b"unreserved") == 0
    body = {"type": "passthru", "host": "h1", "protocol": "udp", "dst_port": 5000, "duration": 3}
    status, made = controller.request("POST", "/v1/reservations?wait=10", body)
    assert status == 201 and made["enforcement"]["status"] == "installed", made
    assert [f for f in ovs.flows("d1") if f"dl_src={H1[0]}" in f.text], "its entry is there"
    ovs.inject("dh1", marked(b"passed through"))
    assert dscp_at(pcap, b"passed through") == VOICE
    controller.wait_for(
        lambda: controller.get(f"/v1/reservations/{made['id']}")[1]["state"] == "expired",
        timeout=10,
        what="the passthru's window over",
    )
    controller.wait_for(
        lambda: not [f for f in ovs.flows("d1") if f"dl_src={H1[0]}" in f.text],
        timeout=5,
        what="the passthru's entry removed at the window's end",
    )
    ovs.inject("dh1", marked(b"after the window"))
    assert dscp_at(pcap, b"after the window") == 0
