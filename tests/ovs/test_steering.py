"""Steering chains on real ovs-vswitchd bridges: matched packets visit the middleboxes in order
(the test plays the routers: what reaches a middlebox is sent on from its port, addressed to
the destination), unmatched ones go straight, cancel puts the traffic back on its way, and a
restart sends nothing.

b1 - b2 - b3 joined by patch ports; h1 and mb2 on b1, mb1 and h2 on b2, mb3 on b3. A chain
h1 -> mb1 -> mb2 -> h2 enters b2 from b1 twice (to mb1, then to h2): the legs must stay apart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from controller_process import ControllerProcess
from os_ken.lib.packet import ether_types, ethernet, ipv4, packet, udp
from privateovs import DumpedFlow, PrivateOvs, captured

from tegu_ryu.openflow.flows import COOKIE_TAG, COOKIE_TAG_MASK

pytestmark = pytest.mark.ovs

HOSTS = {
    "h1": ("00:00:00:00:00:01", "10.0.0.1", "0000000000000001:1"),
    "mb2": ("00:00:00:00:00:22", "10.0.0.22", "0000000000000001:3"),
    "mb1": ("00:00:00:00:00:21", "10.0.0.21", "0000000000000002:1"),
    "h2": ("00:00:00:00:00:02", "10.0.0.2", "0000000000000002:4"),
    "mb3": ("00:00:00:00:00:23", "10.0.0.23", "0000000000000003:1"),
}
TOPOLOGY = {
    "switches": ["0000000000000001", "0000000000000002", "0000000000000003"],
    "hosts": [
        {"name": name, "mac": mac, "ips": [ip], "attach": attach}
        for name, (mac, ip, attach) in HOSTS.items()
    ],
}


@dataclass
class Fabric:
    ovs: PrivateOvs
    controller: ControllerProcess
    pcaps: dict[str, Path]

    def steer(self, **body: Any) -> dict[str, Any]:
        fields = {"type": "steering", "src": "h1", "dst": "h2", "duration": 600, **body}
        status, made = self.controller.request("POST", "/v1/reservations?wait=10", fields)
        assert status == 201 and made["enforcement"]["status"] == "installed", made
        return made

    def tegu_flows(self, bridge: str) -> list[DumpedFlow]:
        return [f for f in self.ovs.flows(bridge) if f.cookie & COOKIE_TAG_MASK == COOKIE_TAG]

    def cancel(self, rid: str) -> None:
        assert self.controller.request("DELETE", f"/v1/reservations/{rid}")[0] == 204

    def arrivals(self, payload: bytes) -> dict[str, list[packet.Packet]]:
        """Per host port, the packets carrying ``payload`` it has sent to its host."""
        return {
            name: [
                p
                for p in captured(pcap)
                if isinstance(p.protocols[-1], bytes) and p.protocols[-1] == payload
            ]
            for name, pcap in self.pcaps.items()
        }

    def route(
        self, sender: str, receiver: str, payload: bytes, ports: tuple[int, int]
    ) -> list[str]:
        """Send a UDP packet and play every middlebox it reaches as a router would; the hosts
        it visits in order, ending with where it stops."""
        visited = []
        addresses = (HOSTS[sender][1], HOSTS[receiver][1])
        self.ovs.inject(
            sender, frame((HOSTS[sender][0], HOSTS[receiver][0]), addresses, ports, payload)
        )
        seen: dict[str, int] = {}
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            arrived = {
                n: len(p) for n, p in self.arrivals(payload).items() if len(p) > seen.get(n, 0)
            }
            if not arrived:
                time.sleep(0.02)
                continue
            (host, count), *others = arrived.items()
            assert not others, f"one packet, several places: {arrived}"
            seen[host] = count
            visited.append(host)
            if not host.startswith("mb"):
                return visited
            got = self.arrivals(payload)[host][-1].get_protocol(ethernet.ethernet)
            assert got.dst == HOSTS[host][0], "delivered to the middlebox's own MAC"
            routed = (HOSTS[host][0], HOSTS[receiver][0])  # from the router, to the receiver
            self.ovs.inject(host, frame(routed, addresses, ports, payload))
            deadline = time.monotonic() + 5
        raise AssertionError(f"the packet stopped after {visited}")


def frame(
    eth: tuple[str, str], ip: tuple[str, str], ports: tuple[int, int], payload: bytes
) -> bytes:
    """A UDP frame: ``eth`` and ``ip`` are (source, destination)."""
    pkt = packet.Packet()
    pkt.add_protocol(ethernet.ethernet(dst=eth[1], src=eth[0], ethertype=ether_types.ETH_TYPE_IP))
    pkt.add_protocol(ipv4.ipv4(src=ip[0], dst=ip[1], proto=17))
    pkt.add_protocol(udp.udp(src_port=ports[0], dst_port=ports[1]))
    pkt.add_protocol(payload)
    pkt.serialize()
    return bytes(pkt.data)


def _meter(text: str) -> str | None:
    found = re.search(r"meter:(\d+)", text)
    return found.group(1) if found else None


@pytest.fixture(scope="module")
def fabric(ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fabric]:
    controller = ControllerProcess(
        tmp_path_factory.mktemp("controller"),
        topology=TOPOLOGY,
        options={"resync_interval": "1", "discovery_settle": "1"},
    )
    controller.start()
    for n in (1, 2, 3):
        ovs.add_bridge(f"b{n}", n, controller.of_port)
    pcaps = {}
    for name, (_, _, attach) in HOSTS.items():
        dpid, port = attach.split(":")
        pcaps[name] = ovs.add_host_port(f"b{int(dpid)}", name, int(port))
    ovs.add_patch("b1", 2, "b2", 2)
    ovs.add_patch("b2", 3, "b3", 2)
    controller.wait_for_sync(3, 4)
    yield Fabric(ovs, controller, pcaps)
    controller.stop()
    for n in (1, 2, 3):
        ovs.del_bridge(f"b{n}")


def test_a_chain_is_visited_in_order_both_ways_and_cancel_puts_traffic_back(
    fabric: Fabric,
) -> None:
    made = fabric.steer(protocol="udp", dst_port=5000, chain=["mb1", "mb2"])
    assert fabric.route("h1", "h2", b"steered", (4000, 5000)) == ["mb1", "mb2", "h2"]
    assert fabric.route("h2", "h1", b"steered back", (5000, 4000)) == ["mb2", "mb1", "h1"]
    assert fabric.route("h1", "h2", b"another port", (4000, 5001)) == ["h2"]
    fabric.cancel(made["id"])
    fabric.controller.wait_for(
        lambda: not [f for f in fabric.tegu_flows("b1") if "tp_dst=5000" in f.text],
        timeout=5,  # not a latency bound: milliseconds when idle, more when the machine is busy
        what="the chain's entries removed",
    )
    assert fabric.route("h1", "h2", b"after cancel", (4000, 5000)) == ["h2"]


def test_a_bandwidth_reservation_on_the_same_traffic_meters_the_chain(fabric: Fabric) -> None:
    status, reserved = fabric.controller.request(
        "POST",
        "/v1/reservations?wait=10",
        {
            "src": "h1",
            "dst": "h2",
            "bandwidth": "5M",
            "duration": 600,
            "protocol": "udp",
            "dst_port": 6000,
        },
    )
    assert status == 201 and reserved["enforcement"]["status"] == "installed", reserved
    made = fabric.steer(protocol="udp", dst_port=6000, chain=["mb3"], symmetric=False)
    at_h1 = [
        f for f in fabric.tegu_flows("b1") if "tp_dst=6000" in f.text and "in_port=1" in f.text
    ]
    chain = [f for f in at_h1 if f.priority >= 2000]
    reservation = [f for f in at_h1 if 1000 <= f.priority < 2000]
    assert len(chain) == 1 and len(reservation) == 1, at_h1
    assert _meter(chain[0].text) is not None
    assert _meter(chain[0].text) == _meter(reservation[0].text), "the reservation's rate holds"
    assert fabric.route("h1", "h2", b"metered", (4000, 6000)) == ["mb3", "h2"]
    fabric.cancel(made["id"])
    fabric.cancel(reserved["id"])


def test_a_restart_with_a_chain_sends_nothing(fabric: Fabric) -> None:
    made = fabric.steer(protocol="udp", dst_port=7000, chain=["mb3", "mb1"])
    time.sleep(1.0)
    fabric.controller.stop()
    log_start = len(fabric.controller.log())
    fabric.controller.start()
    fabric.controller.wait_for_sync(3, 4)
    time.sleep(2.5)
    assert "changes to" not in fabric.controller.log()[log_start:]
    status, again = fabric.controller.get(f"/v1/reservations/{made['id']}")
    assert status == 200 and again["enforcement"]["status"] == "installed"
    assert fabric.route("h1", "h2", b"after restart", (4000, 7000)) == ["mb3", "mb1", "h2"]
    fabric.cancel(made["id"])
