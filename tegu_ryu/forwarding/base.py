"""Base forwarding: the flows that make the network work with no reservation at all.

Every known host gets a destination tree: on every switch, packets for the
host's MAC leave towards the host's attachment switch along a shortest path.
A tree per destination cannot loop, so fat-trees and rings are safe without
a spanning tree. ARP never travels between switches; it goes to the
controller, which answers from its host table (see ``packet_in``). Anything
the tables do not know goes to the controller too.

These flows live in the forwarding table (1) under the base-layer cookie;
table 0 belongs to reservations and sends everything they do not claim on to
table 1.
"""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx

from tegu_ryu.openflow.flows import (
    OFPP_CONTROLLER,
    Flow,
    Layer,
    Output,
    SetField,
    Table,
    cookie,
    match,
)
from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.refs import LinkId, PortRef

TABLE_MISS_PRIORITY = 0
DSCP_RESET_PRIORITY = 10  # in table 0: below passthru (20+) and reservations (1000+)
HOST_PRIORITY = 100
ARP_PRIORITY = 300
CLOSED_PORT_PRIORITY = 900  # in table 0: below every reservation (1000+), above the rest
ETH_TYPE_ARP = 0x0806
ETH_TYPE_IPV4 = 0x0800
ETH_TYPE_IPV6 = 0x86DD

BASE_COOKIE = cookie(Layer.BASE)


def next_hops(graph: nx.MultiDiGraph, destination: int) -> dict[int, LinkId]:
    """For each switch that can reach ``destination``, the link it should forward on.

    Ties between equally short next hops go to the lowest datapath id, then the
    lowest port, so the plan is the same on every run.
    """
    distance = nx.single_source_shortest_path_length(graph.reverse(copy=False), destination)
    hops: dict[int, LinkId] = {}
    for switch, hops_left in distance.items():
        if switch == destination:
            continue
        candidates = [
            link_id
            for _, neighbour, link_id in graph.out_edges(switch, keys=True)
            if distance.get(neighbour) == hops_left - 1
        ]
        hops[switch] = min(candidates, key=lambda lid: (lid.dst.dpid, lid.src.port))
    return hops


def switch_flows() -> list[Flow]:
    """Flows every switch carries whatever the hosts: the pipeline, ARP and misses."""
    to_controller = (Output(OFPP_CONTROLLER),)
    return [
        Flow(
            priority=TABLE_MISS_PRIORITY,
            match=match(),
            actions=(),
            cookie=BASE_COOKIE,
            table=Table.RESERVATIONS,
            goto=Table.FORWARDING,
            description="traffic no reservation claims is forwarded as usual",
        ),
        Flow(
            priority=TABLE_MISS_PRIORITY,
            match=match(),
            actions=to_controller,
            cookie=BASE_COOKIE,
            table=Table.FORWARDING,
            description="table-miss: unknown traffic to the controller",
        ),
        Flow(
            priority=ARP_PRIORITY,
            match=match(eth_type=ETH_TYPE_ARP),
            actions=to_controller,
            cookie=BASE_COOKIE,
            table=Table.FORWARDING,
            description="ARP to the controller (proxy ARP, no broadcast between switches)",
        ),
        Flow(
            priority=TABLE_MISS_PRIORITY,
            match=match(),
            actions=(),
            cookie=BASE_COOKIE,
            table=Table.MIRROR,
            description="mirror table miss: a packet no mirror selects was forwarded; no copy",
        ),
    ]


def plan_base_flows(
    topology: Topology,
    *,
    reset_dscp: bool = False,
    closed_ports: Iterable[PortRef] = (),
) -> dict[int, list[Flow]]:
    """The base-layer flows every switch of ``topology`` should hold (with ``reset_dscp``,
    also the DSCP reset on every edge port: ``dscp_reset_flows``).

    ``closed_ports`` lead out of this network (stitch points to a peer domain): what
    arrives there is dropped unless a reservation's entry claims it, so that frames
    from the WAN reach hosts only through a stitched reservation.
    """
    graph = topology.graph()
    plan: dict[int, list[Flow]] = {dpid: switch_flows() for dpid in topology.switch_ids()}
    for port in sorted(closed_ports):
        if port.dpid in plan:
            plan[port.dpid].append(
                Flow(
                    priority=CLOSED_PORT_PRIORITY,
                    match=match(in_port=port.port),
                    actions=(),
                    cookie=BASE_COOKIE,
                    table=Table.RESERVATIONS,
                    description=f"stitch point {port}: only reservations' traffic enters",
                )
            )
    if reset_dscp:
        for dpid, flows in dscp_reset_flows(topology).items():
            plan.setdefault(dpid, []).extend(flows)
    trees: dict[int, dict[int, LinkId]] = {}
    for host in topology.hosts():
        home = host.attach.dpid
        if home not in graph:
            continue
        if home not in trees:
            trees[home] = next_hops(graph, home)
        plan[home].append(_host_flow(host.mac, host.attach.port, f"to {host.mac} (local)"))
        for switch, link_id in trees[home].items():
            plan[switch].append(
                _host_flow(host.mac, link_id.src.port, f"to {host.mac} via {link_id}")
            )
    return plan


def dscp_reset_flows(topology: Topology) -> dict[int, list[Flow]]:
    """The trust boundary (``dscp_policy = reset``): IP traffic entering the network on an edge
    port has its DSCP set to 0, unless an entry above claims it first (a reservation, which
    marks its own traffic or keeps it, or a passthru, which keeps it). A tenant cannot mark
    itself into a class that switches or the network beyond would favour."""
    ports = set(topology.edge_ports()) | {
        h.attach for h in topology.hosts() if not topology.is_link_port(h.attach)
    }
    plan: dict[int, list[Flow]] = {}
    for port in sorted(ports, key=lambda p: (p.dpid, p.port)):
        for eth_type in (ETH_TYPE_IPV4, ETH_TYPE_IPV6):
            plan.setdefault(port.dpid, []).append(
                Flow(
                    priority=DSCP_RESET_PRIORITY,
                    match=match(in_port=port.port, eth_type=eth_type),
                    actions=(SetField("ip_dscp", 0),),
                    cookie=BASE_COOKIE,
                    table=Table.RESERVATIONS,
                    goto=Table.FORWARDING,
                    description=f"DSCP reset for traffic entering at {port}",
                )
            )
    return plan


def host_attachments(dpid: int, flows: Iterable[Flow]) -> list[tuple[str, PortRef]]:
    """Where base-layer flows on switch ``dpid`` say hosts were: (MAC, port) pairs.

    A restarted controller has forgotten the hosts it learnt, but the switches
    still forward to them. Reading the attachments back from the flows lets it
    carry on without deleting working flows and relearning every host. Only
    flows that leave through a port with no link are attachments; the caller
    knows which ports carry links.
    """
    found = []
    for flow in flows:
        if (flow.cookie, flow.table, flow.priority) != (
            BASE_COOKIE,
            Table.FORWARDING,
            HOST_PRIORITY,
        ):
            continue
        fields = dict(flow.match)
        if set(fields) == {"eth_dst"} and len(flow.actions) == 1:
            action = flow.actions[0]
            if isinstance(action, Output) and action.port != OFPP_CONTROLLER:
                found.append((str(fields["eth_dst"]), PortRef(dpid, action.port)))
    return found


def _host_flow(mac: str, port: int, description: str) -> Flow:
    return Flow(
        priority=HOST_PRIORITY,
        match=match(eth_dst=mac),
        actions=(Output(port),),
        cookie=BASE_COOKIE,
        table=Table.FORWARDING,
        description=description,
    )
