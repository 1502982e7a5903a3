"""The controller against real ovs-vswitchd bridges: flows in, packets through, drift repaired.

Three bridges in a line (b1 - b2 - b3, joined by patch ports) with a host port
on b1 and b3. The dummy datapath lets the tests inject a host's packets and
read what a host port transmits.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from controller_process import ControllerProcess
from os_ken.lib.packet import arp, ether_types, ethernet, ipv4, packet, udp
from privateovs import DumpedFlow, PrivateOvs, captured

from tegu_ryu.openflow.flows import COOKIE_TAG, COOKIE_TAG_MASK

pytestmark = pytest.mark.ovs

H1 = ("00:00:00:00:00:01", "10.0.0.1")
H3 = ("00:00:00:00:00:03", "10.0.0.3")
SETTLE = 1.0


@dataclass
class Line:
    ovs: PrivateOvs
    controller: ControllerProcess
    h1_pcap: Path
    h3_pcap: Path

    def tegu_flows(self, bridge: str) -> list[DumpedFlow]:
        return [f for f in self.ovs.flows(bridge) if f.cookie & COOKIE_TAG_MASK == COOKIE_TAG]

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        self.controller.wait_for(condition, timeout=timeout, what=what)


def arp_packet(
    opcode: int, src: tuple[str, str], dst_ip: str, dst_mac: str = "ff:ff:ff:ff:ff:ff"
) -> bytes:
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=dst_mac, src=src[0], ethertype=ether_types.ETH_TYPE_ARP))
    target_mac = "00:00:00:00:00:00" if opcode == arp.ARP_REQUEST else dst_mac
    pkt.add_protocol(
        arp.arp(opcode=opcode, src_mac=src[0], src_ip=src[1], dst_mac=target_mac, dst_ip=dst_ip)
    )
    pkt.serialize()
    return bytes(pkt.data)


def udp_packet(
    src: tuple[str, str],
    dst: tuple[str, str],
    payload: bytes,
    ports: tuple[int, int] = (4000, 5000),
) -> bytes:
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=dst[0], src=src[0], ethertype=ether_types.ETH_TYPE_IP))
    pkt.add_protocol(ipv4.ipv4(src=src[1], dst=dst[1], proto=17))
    pkt.add_protocol(udp.udp(src_port=ports[0], dst_port=ports[1]))
    pkt.add_protocol(payload)
    pkt.serialize()
    return bytes(pkt.data)


def received(pcap: Path, predicate: Callable[[packet.Packet], bool]) -> bool:
    return any(predicate(p) for p in captured(pcap))


def is_arp(opcode: int, **fields: str) -> Callable[[packet.Packet], bool]:
    def check(pkt: packet.Packet) -> bool:
        header = pkt.get_protocol(arp.arp)
        return (
            bool(header)
            and header.opcode == opcode
            and all(getattr(header, k) == v for k, v in fields.items())
        )

    return check


def carries(payload: bytes) -> Callable[[packet.Packet], bool]:
    return lambda pkt: isinstance(pkt.protocols[-1], bytes) and payload in pkt.protocols[-1]


def topology_ready(controller: ControllerProcess) -> bool:
    status, topo = controller.get("/v1/topology")
    return (
        status == 200
        and sum(s["connected"] for s in topo["switches"]) == 3
        and sum(link["up"] for link in topo["links"]) == 4
    )


@pytest.fixture(scope="module")
def line(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Line]:
    controller = ControllerProcess(
        tmp_path_factory.mktemp("controller"),
        options={"resync_interval": "1", "discovery_settle": str(SETTLE)},
    )
    controller.start()
    for n in (1, 2, 3):
        ovs.add_bridge(f"b{n}", n, controller.of_port)
    h1 = ovs.add_host_port("b1", "h1", 1)
    h3 = ovs.add_host_port("b3", "h3", 1)
    ovs.add_patch("b1", 2, "b2", 2)
    ovs.add_patch("b2", 3, "b3", 2)
    controller.wait_for(
        lambda: topology_ready(controller), timeout=20, what="3 switches and 4 links"
    )
    yield Line(ovs, controller, h1, h3)
    controller.stop()
    for n in (1, 2, 3):
        ovs.del_bridge(f"b{n}")


def all_synced(controller: ControllerProcess) -> bool:
    status, topo = controller.get("/v1/topology")
    return status == 200 and all(s["sync"] == "synced" for s in topo["switches"] if s["connected"])


def learn_both_hosts(line: Line) -> None:
    """h1 asks for h3 (unknown: flooded to h3), h3 answers (delivered to h1)."""
    line.ovs.inject("h1", arp_packet(arp.ARP_REQUEST, H1, H3[1]))
    line.wait(
        lambda: received(line.h3_pcap, is_arp(arp.ARP_REQUEST, dst_ip=H3[1])),
        timeout=5,
        what="h1's ARP request flooded to h3",
    )
    line.ovs.inject("h3", arp_packet(arp.ARP_REPLY, H3, H1[1], dst_mac=H1[0]))
    line.wait(
        lambda: received(line.h1_pcap, is_arp(arp.ARP_REPLY, src_ip=H3[1])),
        timeout=5,
        what="h3's ARP reply delivered to h1",
    )


def host_flows_everywhere(line: Line) -> bool:
    return all(
        sum(1 for f in line.tegu_flows(b) if "dl_dst=" in f.text) == 2 for b in ("b1", "b2", "b3")
    )


def test_base_flows_forward_between_learnt_hosts(line: Line) -> None:
    for bridge in ("b1", "b2", "b3"):
        texts = [f.text for f in line.tegu_flows(bridge)]
        assert any("priority=0 actions=CONTROLLER" in t for t in texts), texts
        assert any("priority=300,arp actions=CONTROLLER" in t for t in texts), texts
    learn_both_hosts(line)
    line.wait(lambda: host_flows_everywhere(line), timeout=5, what="host flows on every bridge")
    payload = b"through the flows, not the controller"
    line.ovs.inject("h1", udp_packet(H1, H3, payload))
    line.wait(
        lambda: received(line.h3_pcap, carries(payload)),
        timeout=5,
        what="h1's UDP packet at h3",
    )
    b2_to_h3 = next(f for f in line.tegu_flows("b2") if f"dl_dst={H3[0]}" in f.text)
    assert b2_to_h3.n_packets >= 1, "the packet crossed b2 on its flow"
    _, topo = line.controller.get("/v1/topology")
    hosts = {h["mac"]: h for h in topo["hosts"]}
    assert hosts[H1[0]]["ips"] == [H1[1]] and (hosts[H1[0]]["dpid"], hosts[H1[0]]["port"]) == (
        "0000000000000001",
        1,
    )
    assert (hosts[H3[0]]["dpid"], hosts[H3[0]]["port"]) == ("0000000000000003", 1)


def test_known_addresses_get_proxy_arp_replies(line: Line) -> None:
    learn_both_hosts(line)
    line.ovs.inject("h3", arp_packet(arp.ARP_REQUEST, H3, H1[1]))
    reply = is_arp(arp.ARP_REPLY, src_mac=H1[0], src_ip=H1[1], dst_ip=H3[1])
    line.wait(lambda: received(line.h3_pcap, reply), timeout=5, what="proxy ARP reply for h1 at h3")
    asked = is_arp(arp.ARP_REQUEST, src_ip=H3[1], dst_ip=H1[1])
    assert not received(line.h1_pcap, asked), "the controller answered; h1 never saw the request"


def test_a_flow_deleted_by_hand_comes_back(line: Line) -> None:
    learn_both_hosts(line)
    line.wait(lambda: host_flows_everywhere(line), timeout=5, what="host flows on every bridge")
    line.ovs.ofctl("del-flows", "--strict", "b2", f"priority=100,dl_dst={H1[0]}")
    deleted = time.monotonic()
    line.wait(
        lambda: any(f"dl_dst={H1[0]}" in f.text for f in line.tegu_flows("b2")),
        timeout=5,
        what="flow restored",
    )
    restored = [f for f in line.tegu_flows("b2") if f"dl_dst={H1[0]}" in f.text]
    since = time.monotonic() - deleted  # after the dump: however slow it was, still an upper bound
    assert restored[0].duration <= since + 0.5, "the flow was added again, not left in place"


def test_foreign_flows_are_left_alone_and_stray_tegu_flows_removed(line: Line) -> None:
    line.ovs.ofctl(
        "add-flow", "b2", "cookie=0x1234,priority=50,dl_dst=02:00:00:00:00:99,actions=drop"
    )
    stray = f"cookie={COOKIE_TAG | (1 << 40):#x},priority=77,dl_dst=02:00:00:00:00:98,actions=drop"
    line.ovs.ofctl("add-flow", "b2", stray)
    line.wait(
        lambda: not any(f.priority == 77 for f in line.ovs.flows("b2")),
        timeout=5,
        what="stray tegu flow removed",
    )
    time.sleep(1.5)  # another resync has passed: the foreign flow must still be there
    assert any(f.cookie == 0x1234 for f in line.ovs.flows("b2"))
    line.ovs.ofctl("del-flows", "--strict", "b2", "priority=50,dl_dst=02:00:00:00:00:99")


def test_a_restart_with_nothing_changed_touches_no_flow(line: Line) -> None:
    learn_both_hosts(line)
    line.wait(lambda: host_flows_everywhere(line), timeout=5, what="host flows on every bridge")
    time.sleep(1.0)
    counts = {bridge: len(line.tegu_flows(bridge)) for bridge in ("b1", "b2", "b3")}
    line.controller.stop()
    stopped = time.monotonic()
    log_start = len(line.controller.log())
    line.controller.start()
    line.wait(
        lambda: topology_ready(line.controller), timeout=30, what="switches back after restart"
    )
    line.wait(lambda: all_synced(line.controller), timeout=15, what="every switch synced")
    time.sleep(2.5)  # two resync periods: any change would have been sent by now
    new_log = line.controller.log()[log_start:]
    assert "changes to" not in new_log, new_log
    elapsed = time.monotonic() - stopped
    for bridge, count in counts.items():
        after = line.tegu_flows(bridge)
        assert len(after) == count
        for flow in after:
            assert flow.duration >= elapsed - 0.5, f"{bridge}: {flow.text} was reinstalled"
