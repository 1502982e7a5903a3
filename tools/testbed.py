"""Emulated networks for the demo and the tests: mininet on the OVS userspace datapath.

There is no openvswitch kernel module on the machines we run on, so every
bridge is ``datapath_type=netdev``; TCP through that datapath stalls unless
TX checksum offload is off on host interfaces, so we turn it off. Links are
``TCLink`` so that a bandwidth given here is really enforced by tc, and the
matching per-port capacities are handed to the controller, which cannot read
tc shaping from port speeds.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller_process import ControllerProcess, free_port
from mininet.link import TCLink
from mininet.net import Mininet
from mininet.node import OVSSwitch, RemoteController
from mininet.topo import LinearTopo, Topo
from mininet.topolib import TreeTopo


class FatTreeTopo(Topo):
    """A k-ary fat-tree: (k/2)^2 cores, k pods of k/2 aggregation and k/2 edge switches.

    Switches are s1.. (cores first, then per pod aggregation then edge) and
    hosts h1.., k/2 per edge switch, so k=4 gives 20 switches and 16 hosts.
    """

    def build(self, k: int = 4, bw: float | None = None) -> None:  # type: ignore[override]
        if k < 2 or k % 2:
            raise ValueError("fat-tree k must be an even number >= 2")
        half = k // 2
        opts = {"bw": bw} if bw else {}
        number = iter(range(1, 10**6))
        cores = [self.addSwitch(f"s{next(number)}") for _ in range(half * half)]
        host_number = iter(range(1, 10**6))
        for _pod in range(k):
            aggs = [self.addSwitch(f"s{next(number)}") for _ in range(half)]
            edges = [self.addSwitch(f"s{next(number)}") for _ in range(half)]
            for i, agg in enumerate(aggs):
                for j in range(half):
                    self.addLink(agg, cores[i * half + j], **opts)
                for edge in edges:
                    self.addLink(agg, edge, **opts)
            for edge in edges:
                for _ in range(half):
                    self.addLink(self.addHost(f"h{next(host_number)}"), edge, **opts)


class JsonTopo(Topo):
    """A topology from a JSON file.

    ``{"switches": ["s1", "s2"], "hosts": ["h1", "h2"],
    "links": [{"a": "h1", "b": "s1"}, {"a": "s1", "b": "s2", "bw": 50}]}``
    (``bw`` in Mbit/s, enforced with tc).
    """

    def build(self, spec: dict[str, Any]) -> None:  # type: ignore[override]
        for name in spec.get("switches", []):
            self.addSwitch(name)
        for name in spec.get("hosts", []):
            self.addHost(name)
        for link in spec.get("links", []):
            opts = {"bw": link["bw"]} if "bw" in link else {}
            self.addLink(link["a"], link["b"], **opts)


def parse_topo(text: str, bw: float | None) -> Topo:
    """``linear,N`` | ``tree,D,F`` | ``fattree,K`` | path to a JSON topology."""
    name, *args = text.split(",")
    numbers = [int(a) for a in args]
    opts = {"bw": bw} if bw else {}
    if name == "linear":
        return LinearTopo(k=numbers[0] if numbers else 2, lopts=opts)
    if name == "tree":
        depth, fanout = ([*numbers, 2, 2])[:2] if numbers else (2, 2)
        return TreeTopo(depth=depth, fanout=fanout, lopts=opts)
    if name == "fattree":
        return FatTreeTopo(k=numbers[0] if numbers else 4, bw=bw)
    path = Path(text)
    if path.suffix == ".json" and path.exists():
        return JsonTopo(spec=json.loads(path.read_text()))
    raise ValueError(f"unknown topology {text!r}: use linear,N tree,D,F fattree,K or a .json file")


def userspace_switch(name: str, **params: Any) -> OVSSwitch:
    return OVSSwitch(name, datapath="user", protocols="OpenFlow13", failMode="secure", **params)


@dataclass
class Testbed:
    """A built (not yet started) mininet network and what the controller must know about it."""

    __test__ = False  # not a pytest test class, whatever its name says
    net: Mininet
    servers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @classmethod
    def build(cls, topo: Topo, of_port: int) -> Testbed:
        cleanup_stale(topo)
        net = Mininet(
            topo=topo,
            switch=userspace_switch,
            link=TCLink,
            controller=None,
            autoSetMacs=True,
            build=False,
        )
        net.addController("c0", controller=RemoteController, ip="127.0.0.1", port=of_port)
        net.build()
        return cls(net)

    def capacity_overrides(self) -> list[str]:
        """``DPID:PORT=RATE`` for every switch port on a link shaped with tc."""
        overrides = []
        for link in self.net.links:
            for intf in (link.intf1, link.intf2):
                bw = intf.params.get("bw")
                node = intf.node
                if bw and node in self.net.switches:
                    overrides.append(f"{node.dpid}:{node.ports[intf]}={bw}M")
        return sorted(overrides)

    def static_topology(self) -> dict[str, Any]:
        """Switches and hosts (by name, with MAC, address and port) for the controller.

        Links are left to LLDP; declaring hosts lets reservations name them
        (``h1``) before they have sent a packet.
        """
        hosts = []
        for host in self.net.hosts:
            intf = host.defaultIntf()
            peer = intf.link.intf2 if intf.link.intf1 is intf else intf.link.intf1
            switch = peer.node
            hosts.append(
                {
                    "name": host.name,
                    "mac": host.MAC(),
                    "ips": [host.IP()],
                    "attach": f"{switch.dpid}:{switch.ports[peer]}",
                }
            )
        return {"switches": sorted(s.dpid for s in self.net.switches), "hosts": hosts}

    def switch_links(self) -> list[tuple[str, str]]:
        """The links between two switches, by the switches' names."""
        switches = set(self.net.switches)
        return [
            (link.intf1.node.name, link.intf2.node.name)
            for link in self.net.links
            if {link.intf1.node, link.intf2.node} <= switches
        ]

    def switch_link_count(self) -> int:
        return len(self.switch_links())

    def start(self) -> None:
        self.net.start()
        for host in self.net.hosts:
            for intf in host.intfList():
                host.cmd(f"ethtool -K {intf} tx off")

    def stop(self) -> None:
        for server in self.servers:
            server.terminate()
            try:
                server.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        self.net.stop()

    def router(self, name: str) -> None:
        """Make a host forward by IP, as a one-armed middlebox does, without telling senders
        of the shorter way (ICMP redirects would take traffic off a steering chain)."""
        host = self.net.get(name)
        interface = host.defaultIntf()
        for key in (
            "net.ipv4.ip_forward=1",
            "net.ipv4.conf.all.send_redirects=0",
            f"net.ipv4.conf.{interface}.send_redirects=0",
            "net.ipv4.conf.all.rp_filter=0",
            f"net.ipv4.conf.{interface}.rp_filter=0",
        ):
            host.cmd(f"sysctl -qw {key}")

    def iperf_server(self, host: str, port: int) -> None:
        """An iperf3 server on ``host``, stopped with the network.

        Not ``iperf3 -D``: a daemon outlives the host's namespace and piles up
        run after run.
        """
        node = self.net.get(host)
        if "iperf3" in node.cmd(f"ss -ltnp 'sport = :{port}'"):
            return
        self.servers.append(
            node.popen(
                ["iperf3", "-s", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        if not wait_until(lambda: "iperf3" in node.cmd(f"ss -ltnp 'sport = :{port}'"), 5):
            raise RuntimeError(f"iperf3 did not start listening on {host}:{port}")

    def link_down(self, a: str, b: str) -> None:
        self.net.configLinkStatus(a, b, "down")

    def pingall(self, timeout: str = "1") -> float:
        """Percentage of pings lost between every pair of hosts."""
        return float(self.net.pingAll(timeout=timeout))

    def dpid(self, switch: str) -> str:
        return str(self.net.get(switch).dpid)


@dataclass(frozen=True)
class MeterCounters:
    """What an OpenFlow meter has seen: bytes in, and bytes its drop band threw away."""

    bytes_in: int
    bytes_dropped: int

    def __sub__(self, earlier: MeterCounters) -> MeterCounters:
        return MeterCounters(
            self.bytes_in - earlier.bytes_in, self.bytes_dropped - earlier.bytes_dropped
        )


def meter_counters(switch: Any) -> dict[int, MeterCounters]:
    """meter id -> its counters, from ``ovs-ofctl meter-stats`` on a mininet switch.

    The switch's own count of what it metered and dropped does not depend on
    how much CPU the traffic's senders and receivers got, which is why tests
    assert on it rather than on iperf3's throughput alone.
    """
    text = switch.cmd(f"ovs-ofctl -O OpenFlow13 meter-stats {switch.name}")
    return {
        int(meter): MeterCounters(int(bytes_in), int(dropped))
        for meter, bytes_in, dropped in re.findall(
            r"meter:(\d+) .*?byte_in_count:(\d+) .*?bands:\s*0: packet_count:\d+ byte_count:(\d+)",
            text,
            flags=re.S,
        )
    }


def meter_rates(switch: Any) -> dict[int, int]:
    """meter id -> its drop band's rate in kbit/s, from ``ovs-ofctl dump-meters``."""
    text = switch.cmd(f"ovs-ofctl -O OpenFlow13 dump-meters {switch.name}")
    return {
        int(meter): int(rate)
        for meter, rate in re.findall(r"meter=(\d+)[^=]*?bands=\s*type=drop rate=(\d+)", text)
    }


def port_toward(net: Mininet, switch: str, other: str) -> int:
    """The port of ``switch`` on its link to ``other``."""
    node = net.get(switch)
    (link,) = [
        lk for lk in net.links if {lk.intf1.node.name, lk.intf2.node.name} == {switch, other}
    ]
    intf = link.intf1 if link.intf1.node is node else link.intf2
    return int(node.ports[intf])


def cleanup_stale(topo: Topo) -> None:
    """Remove bridges and veths an interrupted run of this topology left behind.

    Narrower than ``mn -c``, which also kills every process named ping or
    controller and empties /tmp/*.log: we only touch names this topology uses.
    """
    names = set(topo.switches()) | set(topo.hosts())
    for switch in topo.switches():
        subprocess.run(["ovs-vsctl", "--if-exists", "del-br", switch], check=False)
    links = subprocess.run(
        ["ip", "-o", "link", "show"], check=True, capture_output=True, text=True
    ).stdout
    for intf in re.findall(r"^\d+: ([^:@]+)", links, flags=re.M):
        if intf.partition("-eth")[0] in names and "-eth" in intf:
            subprocess.run(["ip", "link", "del", intf], check=False, stderr=subprocess.DEVNULL)


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


@contextmanager
def running_testbed(
    topo: Topo, workdir: Path, options: dict[str, str] | None = None
) -> Iterator[tuple[Testbed, ControllerProcess]]:
    """A started network under a started controller that has discovered every link.

    The controller is told the hosts and the tc-shaped capacities (which it
    cannot discover) and started first, so switches connect to a listener;
    both are stopped on the way out, whatever happened inside.
    """
    of_port = free_port()
    testbed = Testbed.build(topo, of_port=of_port)
    controller = ControllerProcess(
        workdir,
        topology=testbed.static_topology(),
        options={"capacity_override": testbed.capacity_overrides(), **(options or {})},
        of_port=of_port,
    )
    try:
        controller.start()
        testbed.start()
        # Every switch connected and synced too, not only every link up: with no links to
        # discover (one switch) the first ping could otherwise beat the switch's flows.
        controller.wait_for_sync(len(testbed.net.switches), 2 * testbed.switch_link_count())
        yield testbed, controller
    finally:
        testbed.stop()
        controller.stop()
