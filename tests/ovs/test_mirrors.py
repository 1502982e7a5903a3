"""Mirrors on real ovs-vswitchd bridges: copies reach a collector two switches away while the
mirror lasts and stop when it ends; a restart sends nothing; drift is repaired.

b1 - b2 - b3 joined by patch ports; h1 and h2 on b1, the collector c on b3.
The hosts are in the static topology, so base forwarding needs no ARP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from controller_process import ControllerProcess
from os_ken.lib.packet import ethernet, packet, vlan
from privateovs import DumpedFlow, PrivateOvs, captured

from tegu_ryu.openflow.flows import COOKIE_TAG, COOKIE_TAG_MASK

from .test_switch_sync import udp_packet

pytestmark = pytest.mark.ovs

H1 = ("00:00:00:00:00:01", "10.0.0.1")
H2 = ("00:00:00:00:00:02", "10.0.0.2")
C = ("00:00:00:00:00:0c", "10.0.0.12")
TOPOLOGY = {
    "switches": ["0000000000000001", "0000000000000002", "0000000000000003"],
    "hosts": [
        {"name": "h1", "mac": H1[0], "ips": [H1[1]], "attach": "0000000000000001:1"},
        {"name": "h2", "mac": H2[0], "ips": [H2[1]], "attach": "0000000000000001:3"},
        {"name": "c", "mac": C[0], "ips": [C[1]], "attach": "0000000000000003:1"},
    ],
}


@dataclass
class Fabric:
    ovs: PrivateOvs
    controller: ControllerProcess
    pcaps: dict[str, Path]

    def tegu_flows(self, bridge: str) -> list[DumpedFlow]:
        return [f for f in self.ovs.flows(bridge) if f.cookie & COOKIE_TAG_MASK == COOKIE_TAG]

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        self.controller.wait_for(condition, timeout=timeout, what=what)


def carrying(pcap: Path, payload: bytes) -> list[packet.Packet]:
    """The packets ``pcap`` holds whose payload is ``payload``."""
    return [
        p
        for p in captured(pcap)
        if isinstance(p.protocols[-1], bytes) and p.protocols[-1] == payload
    ]


@pytest.fixture(scope="module")
def fabric(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fabric]:
    controller = ControllerProcess(
        tmp_path_factory.mktemp("controller"),
        topology=TOPOLOGY,
        options={"resync_interval": "1", "discovery_settle": "1", "mirror_min_duration": "1"},
    )
    controller.start()
    for n in (1, 2, 3):
        ovs.add_bridge(f"b{n}", n, controller.of_port)
    pcaps = {
        "h1": ovs.add_host_port("b1", "h1", 1),
        "h2": ovs.add_host_port("b1", "h2", 3),
        "c": ovs.add_host_port("b3", "c", 1),
    }
    ovs.add_patch("b1", 2, "b2", 2)
    ovs.add_patch("b2", 3, "b3", 2)
    controller.wait_for_sync(3, 4)
    yield Fabric(ovs, controller, pcaps)
    controller.stop()
    for n in (1, 2, 3):
        ovs.del_bridge(f"b{n}")


def installed(fabric: Fabric, rid: str) -> bool:
    status, body = fabric.controller.get(f"/v1/reservations/{rid}")
    return status == 200 and body["enforcement"]["status"] == "installed"


def mirror(fabric: Fabric, **body: object) -> str:
    status, made = fabric.controller.request(
        "POST",
        "/v1/reservations",
        {"type": "mirror", "ports": ["h1"], "output": "c", "duration": 600, **body},
    )
    assert status == 201, made
    rid = str(made["id"])
    fabric.wait(lambda: installed(fabric, rid), timeout=10, what="mirror installed")
    return rid


def test_copies_reach_the_collector_while_the_mirror_lasts_and_stop_when_it_ends(
    fabric: Fabric,
) -> None:
    rid = mirror(fabric, direction="ingress", bandwidth="10M")
    seen = udp_packet(H1, H2, b"mirrored once")
    fabric.ovs.inject("h1", seen)
    fabric.wait(
        lambda: len(carrying(fabric.pcaps["c"], b"mirrored once")) == 1,
        timeout=5,
        what="one copy at the collector",
    )
    assert len(carrying(fabric.pcaps["h2"], b"mirrored once")) == 1, "h2 still gets its packet"
    (copy,) = carrying(fabric.pcaps["c"], b"mirrored once")
    assert not copy.get_protocols(vlan.vlan), "the fabric tag is removed at the collector"
    assert copy.get_protocol(ethernet.ethernet).dst == H2[0]
    fabric.ovs.inject("h2", udp_packet(H2, H1, b"not selected"))
    time.sleep(0.5)
    assert not carrying(fabric.pcaps["c"], b"not selected"), "ingress only: h1 receiving is not"
    assert fabric.controller.request("DELETE", f"/v1/reservations/{rid}")[0] == 204
    fabric.wait(
        lambda: not any("table=2" in f.text and f.priority > 0 for f in fabric.tegu_flows("b1")),
        timeout=5,  # not a latency bound: milliseconds when idle, more when the machine is busy
        what="mirror flows gone",
    )
    fabric.ovs.inject("h1", udp_packet(H1, H2, b"after the end"))
    fabric.wait(
        lambda: len(carrying(fabric.pcaps["h2"], b"after the end")) == 1,
        timeout=5,
        what="h2 gets packets after the mirror",
    )
    time.sleep(0.3)
    assert not carrying(fabric.pcaps["c"], b"after the end")


def test_a_restart_with_a_mirror_sends_nothing_and_drift_is_repaired(fabric: Fabric) -> None:
    rid = mirror(fabric, direction="both")
    time.sleep(1.0)
    counts = {b: len(fabric.tegu_flows(b)) for b in ("b1", "b2", "b3")}
    assert any("push_vlan" in f.text for f in fabric.tegu_flows("b1"))
    assert any("pop_vlan" in f.text for f in fabric.tegu_flows("b3"))
    fabric.controller.stop()
    stopped = time.monotonic()
    log_start = len(fabric.controller.log())
    fabric.controller.start()
    fabric.controller.wait_for_sync(3, 4)
    fabric.wait(lambda: installed(fabric, rid), timeout=10, what="mirror installed again")
    time.sleep(2.5)  # two resync periods: any change would have been sent by now
    assert "changes to" not in fabric.controller.log()[log_start:]
    elapsed = time.monotonic() - stopped
    for bridge, count in counts.items():
        after = fabric.tegu_flows(bridge)
        assert len(after) == count
        for flow in after:
            assert flow.duration >= elapsed - 0.5, f"{bridge}: {flow.text} was reinstalled"
    fabric.ovs.ofctl("del-flows", "b2", "vlan_tci=0x1000/0x1000")
    fabric.wait(
        lambda: any("dl_vlan" in f.text for f in fabric.tegu_flows("b2")),
        timeout=5,
        what="the copy's transit flow restored",
    )
    fabric.ovs.inject("h2", udp_packet(H2, H1, b"sent to h1"))
    fabric.wait(
        lambda: len(carrying(fabric.pcaps["c"], b"sent to h1")) == 1,
        timeout=5,
        what="egress copy at the collector",
    )
    assert fabric.controller.request("DELETE", f"/v1/reservations/{rid}")[0] == 204
