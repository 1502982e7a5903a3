"""Topologies built straight into the pure model, for tests with no switches."""

from __future__ import annotations

from collections import defaultdict

from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import Host, PortState, Topology
from tegu_ryu.topology.refs import LinkId, PortRef


class Builder:
    """Adds connected switches, bidirectional links and hosts with consecutive ports."""

    def __init__(self, capacity: CapacityPolicy | None = None) -> None:
        self.topology = Topology(capacity)
        self._next_port: defaultdict[int, int] = defaultdict(lambda: 1)
        self._hosts = 0

    def _port(self, dpid: int) -> int:
        port = self._next_port[dpid]
        self._next_port[dpid] += 1
        return port

    def link(self, a: int, b: int) -> LinkId:
        forward = LinkId(PortRef(a, self._port(a)), PortRef(b, self._port(b)))
        self.topology.link_discovered(forward)
        self.topology.link_discovered(forward.reversed())
        return forward

    def host(self, dpid: int) -> Host:
        self._hosts += 1
        n = self._hosts
        mac = f"00:00:00:00:{n // 256:02x}:{n % 256:02x}"
        attach = PortRef(dpid, self._port(dpid))
        self.topology.host_seen(mac, attach, f"10.0.{n // 256}.{n % 256}")
        host = self.topology.host_by_mac(mac)
        assert host is not None
        return host

    def connect_all(self) -> Topology:
        """Mark every switch connected with the ports the links and hosts use."""
        for dpid in sorted(self._next_port):
            ports = [PortState(port=p) for p in range(1, self._next_port[dpid])]
            self.topology.switch_connected(dpid, ports)
        return self.topology


def fat_tree(k: int) -> tuple[Topology, dict[str, list[int]]]:
    """A k-ary fat-tree; returns the model and the dpids by role (core, agg, edge)."""
    half = k // 2
    builder = Builder()
    ids = iter(range(1, 10**6))
    cores = [next(ids) for _ in range(half * half)]
    roles: dict[str, list[int]] = {"core": cores, "agg": [], "edge": []}
    for _ in range(k):
        aggs = [next(ids) for _ in range(half)]
        edges = [next(ids) for _ in range(half)]
        roles["agg"] += aggs
        roles["edge"] += edges
        for i, agg in enumerate(aggs):
            for j in range(half):
                builder.link(agg, cores[i * half + j])
            for edge in edges:
                builder.link(agg, edge)
    for edge in roles["edge"]:
        for _ in range(half):
            builder.host(edge)
    return builder.connect_all(), roles
