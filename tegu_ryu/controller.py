"""The controller's state and decisions in one place, with no I/O.

The os-ken shim (``apps/tegu.py``) turns OpenFlow and discovery events into
calls here and carries out what comes back; the REST API reads from here.
Both run on their own threads, so every entry point takes ``lock``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tegu_ryu import __version__
from tegu_ryu.forwarding.base import host_attachments, plan_base_flows
from tegu_ryu.forwarding.packet_in import FloodMemory, PacketInOutcome, handle_packet_in
from tegu_ryu.openflow.flows import Flow
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.reservations.store import Store
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import PortState, Topology
from tegu_ryu.topology.refs import LinkId, PortRef, dpid_str
from tegu_ryu.topology.static import load_static_topology


@dataclass(frozen=True)
class ControllerSettings:
    """What the controller needs from configuration, already validated."""

    capacity: CapacityPolicy
    state_dir: str
    static_topology: str | None = None
    policy: Policy = field(default_factory=Policy)
    retention: float = 7 * 86400
    discovery_settle: float = 3.0


class Controller:
    """Topology, forwarding plan and (later) reservations, guarded by one lock."""

    def __init__(self, settings: ControllerSettings, now: float) -> None:
        self.lock = threading.RLock()
        self.topology = Topology(settings.capacity)
        if settings.static_topology:
            load_static_topology(settings.static_topology, self.topology)
        self.reservations = ReservationService(
            self.topology, Store(settings.state_dir), self.lock, settings.policy, settings.retention
        )
        self._flood_memory = FloodMemory()
        self._plan: tuple[int, dict[int, list[Flow]]] | None = None
        self._paths_trusted_from = now + settings.discovery_settle

    def tick(self, now: float) -> None:
        """Move reservations on in time; check their paths once discovery has settled.

        Right after a start, links are still being rediscovered, and a link not
        seen yet is not a broken one.
        """
        self.reservations.tick(now, check_paths=now >= self._paths_trusted_from)

    # ------------------------------------------------------- discovery events

    def switch_connected(self, dpid: int, ports: list[PortState]) -> None:
        with self.lock:
            self.topology.switch_connected(dpid, ports)

    def switch_disconnected(self, dpid: int) -> None:
        with self.lock:
            self.topology.switch_disconnected(dpid)

    def port_updated(self, dpid: int, state: PortState) -> None:
        with self.lock:
            self.topology.port_updated(dpid, state)

    def port_deleted(self, dpid: int, port: int) -> None:
        with self.lock:
            self.topology.port_deleted(dpid, port)

    def link_discovered(self, link_id: LinkId) -> None:
        with self.lock:
            self.topology.link_discovered(link_id)

    def link_lost(self, link_id: LinkId) -> None:
        with self.lock:
            self.topology.link_lost(link_id)

    def adopt_hosts(self, dpid: int, installed: list[Flow]) -> int:
        """Learn hosts from base flows a switch already holds; returns how many were new."""
        adopted = 0
        with self.lock:
            for mac, at in host_attachments(dpid, installed):
                if self.topology.host_by_mac(mac) is None and not self.topology.is_link_port(at):
                    self.topology.host_seen(mac, at, None)
                    adopted += 1
        return adopted

    def packet_in(self, now: float, at: PortRef, data: bytes) -> PacketInOutcome:
        with self.lock:
            return handle_packet_in(self.topology, self._flood_memory, now, at, data)

    # ---------------------------------------------------------- desired state

    @property
    def version(self) -> int:
        """Changes whenever the desired state of some switch may have changed."""
        with self.lock:
            return self.topology.version

    def desired_flows(self, dpid: int) -> list[Flow]:
        """Every tegu-owned flow that switch ``dpid`` should hold now."""
        with self.lock:
            version = self.topology.version
            if self._plan is None or self._plan[0] != version:
                self._plan = (version, plan_base_flows(self.topology))
            return self._plan[1].get(dpid, [])

    # ------------------------------------------------------------------ views

    def health(self) -> dict[str, object]:
        with self.lock:
            return {
                "status": "ok",
                "version": __version__,
                "switches": len(self.topology.connected_switch_ids()),
            }

    def topology_view(self) -> dict[str, object]:
        """The topology as ``GET /v1/topology`` shows it."""
        with self.lock:
            topo = self.topology
            return {
                "switches": [
                    {
                        "dpid": dpid_str(dpid),
                        "connected": topo.is_connected(dpid),
                        "ports": [p.as_json() for p in topo.ports(dpid)],
                    }
                    for dpid in topo.switch_ids()
                ],
                "links": [
                    {
                        "src": link.src.as_json(),
                        "dst": link.dst.as_json(),
                        "capacity_bps": link.capacity_bps,
                        "up": link.up,
                        "static": link.static,
                    }
                    for link in topo.links()
                ],
                "hosts": [
                    {
                        "name": host.name,
                        "mac": host.mac,
                        "ips": list(host.ips),
                        "dpid": dpid_str(host.attach.dpid),
                        "port": host.attach.port,
                    }
                    for host in topo.hosts()
                ],
            }
