"""A fake OpenFlow network for unit tests: apply planned flows, then trace packets.

Tests assert behaviour ("a packet from h1 to h3 reaches h3 over these links,
through meter 7, marked DSCP 46"), not the flow entries themselves, so they
survive changes in how flows are written. Matching is exact-field equality,
highest priority first, per table, following goto-table instructions (with
the metadata they write), which is all the flows the core produces need.
A tunnel key (``tunnel_id``) is the switch's metadata, as in Open vSwitch:
set before an output it is what a tunnel port would carry (it stays in the
trace of a packet that ends there), but it never crosses a link.

An output to the port the packet arrived on sends nothing, as on a real
switch; ``OFPP_IN_PORT`` sends it back there.

Every output of a flow sends a copy of the packet as it is at that point of
the action list (a mirrored packet leaves towards its destination and its
collector), so one packet sent may end in several places: ``deliveries``
traces them all; ``send`` gives the first, the packet as forwarded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tegu_ryu.openflow.flows import (
    OFPP_CONTROLLER,
    OFPP_IN_PORT,
    Flow,
    Output,
    PopVlan,
    PushVlan,
    SetField,
    SetQueue,
)
from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.refs import LinkId, PortRef

MAX_HOPS = 64
Headers = dict[str, int | str]


@dataclass(frozen=True)
class Trace:
    """Where a packet ended (a host MAC, "controller", "dropped" or "loop") and how."""

    outcome: str
    links: tuple[LinkId, ...]
    meters: tuple[tuple[int, int], ...] = ()  # (dpid, meter id) in the order passed
    fields: tuple[tuple[str, int | str], ...] = ()  # header values when it arrived
    queues: tuple[tuple[int, int, int], ...] = ()  # (dpid, port, queue id) where one was set


@dataclass
class _Copy:
    at: PortRef
    headers: Headers
    vlans: list[int]  # tags under the outermost one (``headers["vlan_vid"]``)
    links: list[LinkId]
    meters: list[tuple[int, int]]
    queues: list[tuple[int, int, int]] = field(default_factory=list)


class FakeSwitch:
    def __init__(self, flows: Iterable[Flow]) -> None:
        self.flows = sorted(flows, key=lambda f: (f.table, -f.priority))

    def lookup(self, packet: Headers, table: int) -> Flow | None:
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

    def send(self, src_mac: str, packet: Headers) -> Trace:
        """What happens to the packet as forwarded (the first copy of it that ends)."""
        return self.deliveries(src_mac, packet)[0]

    def deliveries(self, src_mac: str, packet: Headers) -> list[Trace]:
        """Every place the packet and the copies made of it end, in the order they leave."""
        host = self.topology.host_by_mac(src_mac)
        assert host is not None, f"unknown host {src_mac}"
        return self.arriving(host.attach, packet)

    def arriving(self, at: PortRef, packet: Headers) -> list[Trace]:
        """``deliveries`` of a packet that arrives at switch port ``at`` (a stitch port, say:
        a VLAN tag is ``vlan_vid`` in ``packet``)."""
        done: list[Trace] = []
        pending = [_Copy(at, dict(packet), [], [], [])]
        while pending:
            copy = pending.pop(0)
            if len(copy.links) > MAX_HOPS:
                done.append(Trace("loop", tuple(copy.links), tuple(copy.meters)))
                continue
            leaving = self._through_switch(copy)
            if not leaving:
                done.append(self._end("dropped", copy))
            for port, out in leaving:
                if port == OFPP_CONTROLLER:
                    done.append(self._end("controller", out))
                    continue
                ref = PortRef(out.at.dpid, port)
                if ref in self.links:
                    link = self.links[ref]
                    pending.append(
                        _Copy(
                            link.dst,
                            {k: v for k, v in out.headers.items() if k != "tunnel_id"},
                            out.vlans,
                            [*out.links, link.id],
                            out.meters,
                            out.queues,
                        )
                    )
                else:
                    done.append(self._end(self.hosts_at.get(ref, "dropped"), out))
        return done

    @staticmethod
    def _end(outcome: str, copy: _Copy) -> Trace:
        return Trace(
            outcome,
            tuple(copy.links),
            tuple(copy.meters),
            tuple(sorted(copy.headers.items())),
            tuple(copy.queues),
        )

    def _through_switch(self, copy: _Copy) -> list[tuple[int, _Copy]]:
        """Run the pipeline of one switch: (port, packet as it leaves) for every output."""
        leaving = []
        headers, vlans, meters = dict(copy.headers), list(copy.vlans), list(copy.meters)
        metadata = 0
        queue: int | None = None  # set_queue applies to this switch's outputs only
        table: int | None = 0
        while table is not None:
            packet = {**headers, "in_port": copy.at.port, "metadata": metadata}
            flow = self.switches[copy.at.dpid].lookup(packet, table)
            if flow is None:
                break
            if flow.meter is not None:
                meters.append((copy.at.dpid, flow.meter))
            for action in flow.actions:
                if isinstance(action, SetField):
                    headers[action.field] = action.value
                elif isinstance(action, PushVlan):
                    if "vlan_vid" in headers:
                        vlans.insert(0, int(headers["vlan_vid"]))
                    headers["vlan_vid"] = 0x1000
                elif isinstance(action, PopVlan):
                    headers.pop("vlan_vid", None)
                    if vlans:
                        headers["vlan_vid"] = vlans.pop(0)
                elif isinstance(action, SetQueue):
                    queue = action.queue_id
                elif isinstance(action, Output):
                    if action.port == copy.at.port:
                        continue  # OpenFlow sends nothing back out of the in_port but by IN_PORT
                    port = copy.at.port if action.port == OFPP_IN_PORT else action.port
                    queues = list(copy.queues)
                    if queue is not None:
                        queues.append((copy.at.dpid, port, queue))
                    out = _Copy(copy.at, dict(headers), list(vlans), copy.links, list(meters))
                    out.queues = queues
                    leaving.append((port, out))
            if flow.metadata is not None:
                metadata = flow.metadata
            table = flow.goto
        return leaving
