"""A fake OpenFlow network for unit tests: apply planned flows, then trace packets.

Tests assert behaviour ("a packet from h1 to h3 reaches h3 over these links,
through meter 7, marked DSCP 46"), not the flow entries themselves, so they
survive changes in how flows are written. Matching is exact-field equality,
highest priority first, per table, following goto-table instructions, which
is all the flows the core produces need.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tegu_ryu.openflow.flows import OFPP_CONTROLLER, Flow, Output, SetField
from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.refs import LinkId, PortRef

MAX_HOPS = 64


@dataclass(frozen=True)
class Trace:
    """Where a packet ended (a host MAC, "controller", "dropped" or "loop") and how."""

    outcome: str
    links: tuple[LinkId, ...]
    meters: tuple[tuple[int, int], ...] = ()  # (dpid, meter id) in the order passed
    fields: tuple[tuple[str, int | str], ...] = ()  # header values when it arrived


class FakeSwitch:
    def __init__(self, flows: Iterable[Flow]) -> None:
        self.flows = sorted(flows, key=lambda f: (f.table, -f.priority))

    def lookup(self, packet: dict[str, int | str], table: int) -> Flow | None:
        for flow in self.flows:
            if flow.table == table and all(packet.get(name) == value for name, value in flow.match):
                return flow
        return None


class FakeNetwork:
    def __init__(self, topology: Topology, plan: dict[int, Iterable[Flow]]) -> None:
        self.topology = topology
        self.switches = {dpid: FakeSwitch(flows) for dpid, flows in plan.items()}
        self.links = {link.src: link for link in topology.links() if link.up}
        self.hosts_at = {host.attach: host.mac for host in topology.hosts()}

    def send(self, src_mac: str, packet: dict[str, int | str]) -> Trace:
        host = self.topology.host_by_mac(src_mac)
        assert host is not None, f"unknown host {src_mac}"
        at = host.attach
        headers = dict(packet)
        links: list[LinkId] = []
        meters: list[tuple[int, int]] = []
        for _ in range(MAX_HOPS):
            port = self._through_switch(at, headers, meters)
            if port is None:
                return Trace("dropped", tuple(links), tuple(meters), tuple(sorted(headers.items())))
            if port == OFPP_CONTROLLER:
                return Trace(
                    "controller", tuple(links), tuple(meters), tuple(sorted(headers.items()))
                )
            out = PortRef(at.dpid, port)
            if out in self.links:
                link = self.links[out]
                links.append(link.id)
                at = link.dst
            else:
                outcome = self.hosts_at.get(out, "dropped")
                return Trace(outcome, tuple(links), tuple(meters), tuple(sorted(headers.items())))
        return Trace("loop", tuple(links), tuple(meters))

    def _through_switch(
        self, at: PortRef, headers: dict[str, int | str], meters: list[tuple[int, int]]
    ) -> int | None:
        """Run the pipeline of one switch; the output port, or None if dropped."""
        table: int | None = 0
        while table is not None:
            flow = self.switches[at.dpid].lookup({**headers, "in_port": at.port}, table)
            if flow is None:
                return None
            if flow.meter is not None:
                meters.append((at.dpid, flow.meter))
            for action in flow.actions:
                if isinstance(action, SetField):
                    headers[action.field] = action.value
                elif isinstance(action, Output):
                    return action.port
            table = flow.goto
        return None
