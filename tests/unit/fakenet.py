"""A fake OpenFlow network for unit tests: apply ``Flow`` records, then trace packets.

Tests assert behaviour ("a packet from h1 to h3 reaches h3 over these links"),
not the flow entries themselves, so they survive changes in how flows are
written. Matching is exact-field equality, highest priority first, which is
all the flows the core produces need.
"""

from __future__ import annotations

from dataclasses import dataclass

from tegu_ryu.openflow.flows import OFPP_CONTROLLER, Flow, Output
from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.refs import LinkId, PortRef

MAX_HOPS = 64


@dataclass(frozen=True)
class Trace:
    """Where a packet ended (a host MAC, "controller", "dropped" or "loop") and how."""

    outcome: str
    links: tuple[LinkId, ...]


class FakeSwitch:
    def __init__(self, flows: list[Flow]) -> None:
        self.flows = sorted(flows, key=lambda f: -f.priority)

    def lookup(self, packet: dict[str, int | str]) -> Flow | None:
        for flow in self.flows:
            if all(packet.get(name) == value for name, value in flow.match):
                return flow
        return None


class FakeNetwork:
    def __init__(self, topology: Topology, plan: dict[int, list[Flow]]) -> None:
        self.topology = topology
        self.switches = {dpid: FakeSwitch(flows) for dpid, flows in plan.items()}
        self.links = {link.src: link for link in topology.links() if link.up}
        self.hosts_at = {host.attach: host.mac for host in topology.hosts()}

    def send(self, src_mac: str, packet: dict[str, int | str]) -> Trace:
        host = self.topology.host_by_mac(src_mac)
        assert host is not None, f"unknown host {src_mac}"
        at = host.attach
        links: list[LinkId] = []
        for _ in range(MAX_HOPS):
            flow = self.switches[at.dpid].lookup({**packet, "in_port": at.port})
            if flow is None:
                return Trace("dropped", tuple(links))
            outputs = [a.port for a in flow.actions if isinstance(a, Output)]
            if not outputs:
                return Trace("dropped", tuple(links))
            port = outputs[0]
            if port == OFPP_CONTROLLER:
                return Trace("controller", tuple(links))
            out = PortRef(at.dpid, port)
            if out in self.links:
                link = self.links[out]
                links.append(link.id)
                at = link.dst
            elif out in self.hosts_at:
                return Trace(self.hosts_at[out], tuple(links))
            else:
                return Trace("dropped", tuple(links))
        return Trace("loop", tuple(links))
