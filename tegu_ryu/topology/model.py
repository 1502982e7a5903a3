"""The network as the controller believes it to be: switches, directed links, hosts.

Pure state, no I/O. The os-ken shim feeds it discovery events (LLDP links,
port status, packets seen from hosts); a static topology file can seed it for
fabrics that LLDP does not see, or for running admission with no switch
connected at all. Everything the controller decides is computed from here.

A link is *up* when it is known (declared in the static file, or discovered
and not since lost) and neither of its ports is known to be down: a declared
link stays usable until a switch says otherwise. A discovered link that LLDP
loses stays in the model as down, so operators see what failed, until its
switch leaves, its port is deleted, or another link is found on its port.

A restarted controller is in the same position for every switch: the links
its reservations were admitted over are expected (held up) until LLDP
confirms them or ``control_grace`` runs out, so that a busy start never
reroutes or degrades what the switches are still enforcing.

A lost control channel is not a lost link. A switch whose OpenFlow
connection drops keeps forwarding (fail_mode secure), so for ``control_grace``
seconds everything stays as it was: its ports, its links, the hosts behind
it. LLDP losing one of its links in that time (it cannot, while the switch is
unreachable or has only just come back) holds the link up until the grace
runs out; LLDP finding it again confirms it. Only a port reported down, or
the grace running out, takes such a link down; a switch still gone then is
forgotten as before.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

import networkx as nx

from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.refs import HOST_SIDE, LinkId, PortRef, from_host, to_host


@dataclass(frozen=True)
class PortState:
    """What a switch reported about one of its ports."""

    port: int
    name: str = ""
    hw_addr: str = ""
    up: bool = True
    speed_bps: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "port": self.port,
            "name": self.name,
            "mac": self.hw_addr,
            "up": self.up,
            "speed_bps": self.speed_bps,
        }


@dataclass(frozen=True)
class Link:
    """A directed link with its capacity as admission sees it."""

    id: LinkId
    capacity_bps: int
    up: bool
    static: bool

    @property
    def src(self) -> PortRef:
        return self.id.src

    @property
    def dst(self) -> PortRef:
        return self.id.dst


@dataclass(frozen=True)
class Host:
    """An end host: where it attaches and the addresses it answers to."""

    mac: str
    attach: PortRef
    ips: tuple[str, ...] = ()
    name: str | None = None
    static: bool = False
    tenant: str | None = None  # who may mirror its port (static file); None: admins only


@dataclass(frozen=True)
class LinkView:
    """What path search needs, derived once per topology version.

    ``adjacency`` lists each switch's up out-links as (neighbour, link),
    sorted so that searches break ties the same way every time.
    """

    graph: nx.MultiDiGraph
    adjacency: dict[int, tuple[tuple[int, LinkId], ...]]
    capacity: dict[LinkId, int]  # switch links, and the access links of known hosts
    up: frozenset[LinkId]
    access_capacity: Callable[[PortRef], int] = field(compare=False)
    # Switches that cannot enforce a reserved rate, and why: ``adjacency``, ``up`` and ``graph``
    # leave out their links, ``through_blocked`` has every up link (to say why no path fits).
    blocked: dict[int, str] = field(default_factory=dict)
    through_blocked: dict[int, tuple[tuple[int, LinkId], ...]] = field(default_factory=dict)
    _hops_to: dict[int, dict[int, int]] = field(default_factory=dict, compare=False)

    def capacity_of(self, link: LinkId) -> int:
        """A link's capacity; a host's access link has its switch port's, known host or not.

        (A reservation outlives its host's presence in the host table, e.g.
        across a restart before the host has sent a packet.)
        """
        known = self.capacity.get(link)
        if known is not None:
            return known
        if link.dst == HOST_SIDE:
            return self.access_capacity(link.src)
        if link.src == HOST_SIDE:
            return self.access_capacity(link.dst)
        return 0

    def hops_to(self, target: int) -> dict[int, int]:
        """Fewest up links from each switch to ``target`` (absent: cannot reach it)."""
        if target not in self._hops_to:
            reverse = self.graph.reverse(copy=False)
            self._hops_to[target] = dict(nx.single_source_shortest_path_length(reverse, target))
        return self._hops_to[target]


@dataclass
class _Switch:
    dpid: int
    connected: bool = False
    static: bool = False
    ports: dict[int, PortState] = field(default_factory=dict)
    grace_until: float = 0.0  # its control channel dropped: nothing moves before this


@dataclass
class _LinkSource:
    discovered: bool = False
    static: bool = False
    declared_bps: int | None = None
    held_until: float = 0.0  # LLDP lost it while a switch was in grace: up until then

    @property
    def known(self) -> bool:
        """Declared, discovered and not lost since, or held up until LLDP can say."""
        return self.discovered or self.static or self.held_until > 0


class Topology:
    """Mutable model of the network; every mutation that matters bumps ``version``.

    ``version`` lets consumers (forwarding plans, path search) cache what they
    derive and recompute only when the network really changed.
    """

    def __init__(self, capacity: CapacityPolicy | None = None, control_grace: float = 30.0) -> None:
        self.capacity = capacity or CapacityPolicy()
        self.control_grace = control_grace
        self.version = 0
        self._switches: dict[int, _Switch] = {}
        self._links: dict[LinkId, _LinkSource] = {}
        self._hosts: dict[str, Host] = {}
        self._view_cache: tuple[int, LinkView] | None = None
        self._unenforceable: dict[int, str] = {}

    # ----------------------------------------------------------------- switches

    def set_unenforceable(self, dpid: int, reason: str | None) -> None:
        """A switch that cannot enforce a reserved rate (``reason``), or can again (None):
        reservations are routed around it, or degraded saying why."""
        if self._unenforceable.get(dpid) == reason:
            return
        if reason is None:
            self._unenforceable.pop(dpid, None)
        else:
            self._unenforceable[dpid] = reason
        self._changed()

    def add_static_switch(self, dpid: int) -> None:
        self._switch(dpid).static = True
        self._changed()

    def switch_connected(self, dpid: int, ports: Iterable[PortState]) -> None:
        """A switch's control channel is up, with these ports (its links are kept)."""
        switch = self._switch(dpid)
        switch.connected = True
        switch.ports = {p.port: p for p in ports}
        self._changed()

    def switch_disconnected(self, dpid: int, now: float) -> None:
        """A switch's control channel dropped: keep everything as it is for the grace period."""
        switch = self._switches.get(dpid)
        if switch is None or not switch.connected:
            return
        switch.connected = False
        switch.grace_until = now + self.control_grace
        self._changed()

    def grace_until(self, dpid: int) -> float:
        """When a switch's control-channel grace ends (0: it is in none)."""
        switch = self._switches.get(dpid)
        return 0.0 if switch is None else switch.grace_until

    def expire(self, now: float) -> bool:
        """End grace periods that ran out; True if the network changed.

        A link LLDP lost during a grace and has not found since goes down; a
        switch still disconnected is forgotten with its discovered links.
        """
        changed = False
        for link_id, source in self._links.items():
            if source.held_until and now >= source.held_until:
                grace = self._grace_of(link_id)
                if now < grace:  # an end lost its channel again since: hold it through that
                    source.held_until = grace
                    continue
                source.held_until = 0.0
                source.discovered = False
                changed = True
        for dpid, switch in list(self._switches.items()):
            if switch.grace_until and now >= switch.grace_until:
                switch.grace_until = 0.0
                if not switch.connected:
                    self._forget_switch(dpid)
                changed = True
        if changed:
            self._changed()
        return changed

    def _grace_of(self, link_id: LinkId) -> float:
        """When the later of its two switches' grace periods ends (0: neither is in one)."""
        return max(
            (self._switches[d].grace_until for d in (link_id.src.dpid, link_id.dst.dpid)
             if d in self._switches),
            default=0.0,
        )  # fmt: skip

    def _forget_switch(self, dpid: int) -> None:
        """A switch gone for good: drop its discovered links; keep a declared one as a node."""
        switch = self._switches[dpid]
        switch.ports = {}
        for link_id in [lid for lid in self._links if dpid in (lid.src.dpid, lid.dst.dpid)]:
            if self._links[link_id].static:
                self._links[link_id].discovered = False
            else:
                del self._links[link_id]
        if not switch.static and not self._links_touching(dpid):
            del self._switches[dpid]

    def port_updated(self, dpid: int, state: PortState) -> None:
        switch = self._switch(dpid)
        if switch.ports.get(state.port) == state:
            return
        switch.ports[state.port] = state
        self._changed()

    def port_deleted(self, dpid: int, port: int) -> None:
        switch = self._switches.get(dpid)
        if switch is None or port not in switch.ports:
            return
        del switch.ports[port]
        self._forget_lost_links_at(PortRef(dpid, port))
        self._changed()

    def is_connected(self, dpid: int) -> bool:
        switch = self._switches.get(dpid)
        return switch is not None and switch.connected

    def switch_ids(self) -> list[int]:
        return sorted(self._switches)

    def ports(self, dpid: int) -> list[PortState]:
        """Ports of a switch: as reported if connected, else those the static file implies."""
        switch = self._switches.get(dpid)
        if switch is None:
            return []
        if switch.connected:
            return [switch.ports[p] for p in sorted(switch.ports)]
        implied = {lid.src.port for lid in self._links if lid.src.dpid == dpid}
        implied |= {lid.dst.port for lid in self._links if lid.dst.dpid == dpid}
        implied |= {h.attach.port for h in self._hosts.values() if h.attach.dpid == dpid}
        return [PortState(port=p) for p in sorted(implied)]

    def port_state(self, ref: PortRef) -> PortState | None:
        switch = self._switches.get(ref.dpid)
        return None if switch is None else switch.ports.get(ref.port)

    # -------------------------------------------------------------------- links

    def add_static_link(self, link_id: LinkId, capacity_bps: int | None) -> None:
        self._switch(link_id.src.dpid)
        self._switch(link_id.dst.dpid)
        source = self._links.setdefault(link_id, _LinkSource())
        source.static = True
        source.declared_bps = capacity_bps
        self._drop_hosts_on_link_ports(link_id)
        self._changed()

    def link_discovered(self, link_id: LinkId) -> None:
        source = self._links.setdefault(link_id, _LinkSource())
        source.held_until = 0.0  # confirmed
        if source.discovered:
            return
        source.discovered = True
        self._forget_lost_links_at(link_id.src, link_id.dst)
        self._drop_hosts_on_link_ports(link_id)
        self._changed()

    def expect_link(self, link_id: LinkId, until: float) -> None:
        """A link known from before LLDP could look (the stored paths of a restarted
        controller's reservations): up until LLDP confirms it, or until ``until``."""
        source = self._links.setdefault(link_id, _LinkSource())
        if source.known:
            return
        source.held_until = until
        for dpid in (link_id.src.dpid, link_id.dst.dpid):
            switch = self._switch(dpid)  # a node of the graph, as if its channel had just dropped
            if not switch.connected:
                switch.grace_until = max(switch.grace_until, until)
        self._changed()

    def link_lost(self, link_id: LinkId, now: float) -> None:
        """LLDP no longer sees the link: it stays visible, as down.

        If one of its switches is in a control-channel grace period, LLDP
        could not have seen it: the link is held up until that grace ends.
        """
        source = self._links.get(link_id)
        if source is None or not source.discovered:
            return
        grace = self._grace_of(link_id)
        if now < grace:
            source.held_until = max(source.held_until, grace)
            return
        source.discovered = False
        self._changed()

    def links(self) -> list[Link]:
        return [self._link(lid) for lid in sorted(self._links)]

    def link(self, link_id: LinkId) -> Link | None:
        return self._link(link_id) if link_id in self._links else None

    def is_link_port(self, ref: PortRef) -> bool:
        """True if a known link uses the port (a lost link does not: a host may be there now)."""
        return any(ref in (lid.src, lid.dst) for lid, src in self._links.items() if src.known)

    def edge_ports(self) -> list[PortRef]:
        """Up ports of connected switches that no known link uses: where hosts live."""
        known = [lid for lid, source in self._links.items() if source.known]
        link_ports = {lid.src for lid in known} | {lid.dst for lid in known}
        return [
            PortRef(dpid, state.port)
            for dpid, switch in sorted(self._switches.items())
            if switch.connected
            for state in sorted(switch.ports.values(), key=lambda s: s.port)
            if state.up and PortRef(dpid, state.port) not in link_ports
        ]

    def graph(self) -> nx.MultiDiGraph:
        """Switches as nodes, up directed links as edges keyed by LinkId (read-only).

        Edge attribute ``capacity`` holds bit/s.
        """
        return self.view().graph

    def view(self) -> LinkView:
        """The derived link view for the current version (cached until something changes)."""
        if self._view_cache is not None and self._view_cache[0] == self.version:
            return self._view_cache[1]
        links = self.links()
        blocked = dict(self._unenforceable)
        graph = nx.MultiDiGraph()
        graph.add_nodes_from(self._switches)
        adjacency: dict[int, list[tuple[int, LinkId]]] = {dpid: [] for dpid in self._switches}
        every: dict[int, list[tuple[int, LinkId]]] = {dpid: [] for dpid in self._switches}
        usable = set()
        for link in links:
            if not link.up:
                continue
            every.setdefault(link.src.dpid, []).append((link.dst.dpid, link.id))
            if link.src.dpid in blocked or link.dst.dpid in blocked:
                continue
            usable.add(link.id)
            graph.add_edge(link.src.dpid, link.dst.dpid, key=link.id, capacity=link.capacity_bps)
            adjacency.setdefault(link.src.dpid, []).append((link.dst.dpid, link.id))
        capacity = {link.id: link.capacity_bps for link in links}
        for host in self._hosts.values():
            access = self._access_capacity(host.attach)
            capacity[to_host(host.attach)] = capacity[from_host(host.attach)] = access
        view = LinkView(
            graph=graph,
            adjacency={dpid: tuple(sorted(out)) for dpid, out in adjacency.items()},
            capacity=capacity,
            up=frozenset(usable),
            access_capacity=self._access_capacity,
            blocked=blocked,
            through_blocked={dpid: tuple(sorted(out)) for dpid, out in every.items()},
        )
        self._view_cache = (self.version, view)
        return view

    def _access_capacity(self, port: PortRef) -> int:
        """Capacity of the access link on a switch port, each way (the port's own)."""
        state = self.port_state(port)
        return self.capacity.capacity(port, None, state.speed_bps if state else None)

    # -------------------------------------------------------------------- hosts

    def add_static_host(self, host: Host) -> None:
        self._switch(host.attach.dpid)
        self._hosts[host.mac] = replace(host, static=True)
        self._changed()

    def host_seen(self, mac: str, attach: PortRef, ip: str | None) -> bool:
        """Record a packet from ``mac`` at ``attach``; True if forwarding must be replanned.

        A port that carries a known link never attaches a host: packets there
        are in transit, not from a host.
        """
        if self.is_link_port(attach):
            return False
        known = self._hosts.get(mac)
        moved = known is None or (known.attach != attach and not known.static)
        ips = known.ips if known is not None else ()
        if ip is not None and ip not in ips:
            self._release_ip(ip)
            ips = (*ips, ip)
        if known is None:
            self._hosts[mac] = Host(mac=mac, attach=attach, ips=ips)
        else:
            self._hosts[mac] = replace(known, ips=ips, attach=attach if moved else known.attach)
        if moved:
            self._changed()
        return moved

    def hosts(self) -> list[Host]:
        return [self._hosts[mac] for mac in sorted(self._hosts)]

    def host_by_mac(self, mac: str) -> Host | None:
        return self._hosts.get(mac)

    def host_by_ip(self, ip: str) -> Host | None:
        for host in self._hosts.values():
            if ip in host.ips:
                return host
        return None

    def host_named(self, text: str) -> Host | None:
        """The host ``text`` names: by an address (in any spelling), a MAC or its name."""
        try:
            address = str(ipaddress.ip_address(text))
        except ValueError:
            address = text
        return (
            self.host_by_ip(address)
            or self.host_by_mac(text.lower())
            or next((h for h in self.hosts() if h.name == text), None)
        )

    # ----------------------------------------------------------------- internal

    def _switch(self, dpid: int) -> _Switch:
        return self._switches.setdefault(dpid, _Switch(dpid))

    def _changed(self) -> None:
        self.version += 1

    def _link(self, link_id: LinkId) -> Link:
        source = self._links[link_id]
        src_state = self.port_state(link_id.src)
        dst_state = self.port_state(link_id.dst)
        ports_up = (src_state is None or src_state.up) and (dst_state is None or dst_state.up)
        up = source.known and ports_up
        capacity = self.capacity.capacity(
            link_id.src, source.declared_bps, src_state.speed_bps if src_state else None
        )
        return Link(id=link_id, capacity_bps=capacity, up=up, static=source.static)

    def _forget_lost_links_at(self, *ends: PortRef) -> None:
        for link_id, source in list(self._links.items()):
            if not source.known and ({link_id.src, link_id.dst} & set(ends)):
                del self._links[link_id]

    def _links_touching(self, dpid: int) -> bool:
        return any(dpid in (lid.src.dpid, lid.dst.dpid) for lid in self._links)

    def _drop_hosts_on_link_ports(self, link_id: LinkId) -> None:
        for mac, host in list(self._hosts.items()):
            if not host.static and host.attach in (link_id.src, link_id.dst):
                del self._hosts[mac]

    def _release_ip(self, ip: str) -> None:
        """An address moved to another MAC: the old owner no longer answers to it."""
        for mac, host in list(self._hosts.items()):
            if ip in host.ips:
                self._hosts[mac] = replace(host, ips=tuple(a for a in host.ips if a != ip))
