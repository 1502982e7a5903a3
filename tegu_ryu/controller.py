"""The controller's state and decisions in one place, with no I/O.

The os-ken shim (``tegu_ryu/app.py``) turns OpenFlow and discovery events into
calls here and carries out what comes back; the REST API reads from here.
Both run on their own threads, so every entry point takes ``lock``.

Keeping switches right is one loop: the desired state of every switch is a
function of the topology, the reservations and the time (``DesiredState``);
the one reconciler (``openflow.reconciler``) knows what each switch holds and
returns the changes of the earliest phase any switch still needs; the next
pass waits until every switch has confirmed the last one with a barrier.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tegu_ryu import __version__
from tegu_ryu.enforcement.backends import Backend, MeterFeatures, SwitchFacts, choose
from tegu_ryu.enforcement.conformance import Conformance, MeterCount
from tegu_ryu.enforcement.desired import DesiredState
from tegu_ryu.enforcement.planner import MeterSettings, serial_of_meter
from tegu_ryu.enforcement.row_plan import plan_rows
from tegu_ryu.enforcement.unmetered import DSCP, QUEUES
from tegu_ryu.forwarding.base import host_attachments
from tegu_ryu.forwarding.packet_in import (
    FloodMemory,
    PacketInOutcome,
    WanFacts,
    handle_packet_in,
)
from tegu_ryu.metrics import Metrics
from tegu_ryu.openflow.flows import Meter
from tegu_ryu.openflow.reconcile import Changes, InstalledFlow
from tegu_ryu.openflow.reconciler import Reconciler, SwitchState
from tegu_ryu.ovsdb.rows import BridgeRows, RowChanges
from tegu_ryu.reservations.mirror_admission import MirrorSettings
from tegu_ryu.reservations.model import Direction, Reservation, State
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.stitching.arp import wan_facts
from tegu_ryu.stitching.points import StitchSettings
from tegu_ryu.timefmt import format_time
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import PortState, Topology
from tegu_ryu.topology.refs import LinkId, PortRef, dpid_str

LOG = logging.getLogger(__name__)


# What ``Controller.enforcement`` can say, from before the start to after the end.
ENFORCEMENT_STATUSES = ("scheduled", "pending", "installed", "error", "removed")


@dataclass(frozen=True)
class ControllerSettings:
    """What the controller needs from configuration, already validated."""

    capacity: CapacityPolicy
    state_dir: str
    static_topology: str | None = None
    policy: Policy = field(default_factory=Policy)
    retention: float = 7 * 86400
    discovery_settle: float = 3.0
    control_grace: float = 30.0
    meters: MeterSettings = field(default_factory=MeterSettings)
    mirrors: MirrorSettings = field(default_factory=MirrorSettings)
    reset_dscp: bool = False  # dscp_policy = reset: markings reset where traffic enters
    enforcement: str = "auto"  # how switches enforce rates (enforcement/backends.py)
    enforcement_overrides: dict[int, str] = field(default_factory=dict)  # per datapath id
    queue_borrow: bool = False  # a reservation's queue may use idle capacity beyond its rate
    stitching: StitchSettings = field(default_factory=StitchSettings)  # WAN: domain, peers


class Controller:
    """Topology, reservations and what the switches hold, guarded by one lock."""

    def __init__(
        self,
        settings: ControllerSettings,
        topology: Topology,
        reservations: ReservationService,
        now: float,
    ) -> None:
        """``reservations`` works on ``topology``; its lock is the controller's one lock."""
        self.lock = reservations.lock
        self.settings = settings
        self.topology = topology
        self.reservations = reservations
        for reservation in self.reservations.engine.reservations.values():
            if not reservation.state.final:
                for link in reservation.path_links():
                    self.topology.expect_link(link, now + settings.control_grace)
        self._flood_memory = FloodMemory()
        self._wan: tuple[int, WanFacts] = (-1, WanFacts())
        self.desired = DesiredState(
            settings.meters,
            reset_dscp=settings.reset_dscp,
            closed_ports=frozenset(p.port for p in settings.stitching.points.values()),
        )
        self.reconciler = Reconciler(self.desired, settle=settings.discovery_settle)
        self._paths_trusted_from = now + settings.discovery_settle
        self._errors: dict[str, str] = {}
        self._facts: dict[int, SwitchFacts] = {}  # what each switch said it can do
        self.conformance = Conformance()
        self._warned: dict[str, float] = {}  # reservation id -> when its drops were last logged
        self.metrics = Metrics()
        self.metrics.watch(self)  # the API watches again with its own clock
        reservations.on_admission = self.metrics.record_admission
        self._planned_version = -1  # the engine's version the desired state follows
        self._rows: tuple[object, dict[int, BridgeRows]] = (None, {})
        self._row_problems: dict[int, str] = {}  # per switch: why its OVSDB rows are not right
        self.agent_dpids: Callable[[], frozenset[int]] = frozenset  # bridges agents write
        # Notified whenever what the switches hold may have moved on: clients waiting to
        # hear that their reservation is installed wake up instead of polling.
        self._enforcement_moved = threading.Condition(self.lock)

    @property
    def switches(self) -> dict[int, SwitchState]:
        """The connected switches, as the reconciler keeps them."""
        return self.reconciler.switches

    @property
    def on_change(self) -> Callable[[], None]:
        """Called (from any thread) after an API change that switches must follow."""
        return self.reservations.on_change

    @on_change.setter
    def on_change(self, callback: Callable[[], None]) -> None:
        self.reservations.on_change = callback

    def tick(self, now: float) -> bool:
        """Move reservations on in time; True if switches may need changes.

        Reservations' paths are only checked once discovery has settled after a
        start: a link not seen yet is not a broken one. Switches whose settle
        time ends adopt the hosts their flows point at.
        """
        with self.lock:
            changed = self.topology.expire(now)
            changed |= bool(
                self.reservations.tick(now, check_paths=now >= self._paths_trusted_from)
            )
            if self.reconciler.settled(now):
                self._adopt_hosts()
                changed = True
            return changed

    def next_edge(self, now: float) -> float | None:
        """When a reservation starts or ends next (the timer wakes the tick then)."""
        with self.lock:
            return self.reservations.engine.next_edge(now)

    # ------------------------------------------------------------ liveness

    def echo_due(self, now: float) -> list[int]:
        """Switches to send an echo request to now; one still unanswered makes its switch slow."""
        with self.lock:
            return self.reconciler.echo_due(now)

    def echo_answered(self, dpid: int, sent: float, now: float) -> None:
        """An echo reply: its round trip, as this controller sees it (its own backlog included)."""
        with self.lock:
            self.reconciler.echo_answered(dpid, sent, now)

    # ------------------------------------------------------- discovery events

    def switch_connected(self, dpid: int, ports: list[PortState], now: float) -> None:
        with self.lock:
            self.topology.switch_connected(dpid, ports)
            self.reconciler.connected(dpid, now)

    def switch_disconnected(self, dpid: int, now: float) -> None:
        """The control channel dropped; the switch keeps forwarding, and its links stay."""
        with self.lock:
            self.reconciler.disconnected(dpid)
            self.topology.switch_disconnected(dpid, now)

    def port_updated(self, dpid: int, state: PortState) -> None:
        with self.lock:
            self.topology.port_updated(dpid, state)

    def port_deleted(self, dpid: int, port: int) -> None:
        with self.lock:
            self.topology.port_deleted(dpid, port)

    def link_discovered(self, link_id: LinkId) -> None:
        with self.lock:
            self.topology.link_discovered(link_id)

    def link_lost(self, link_id: LinkId, now: float) -> None:
        with self.lock:
            self.topology.link_lost(link_id, now)

    def packet_in(self, now: float, at: PortRef, data: bytes) -> PacketInOutcome:
        with self.lock:
            return handle_packet_in(
                self.topology, self._flood_memory, now, at, data, wan=self._wan_facts()
            )

    def _wan_facts(self) -> WanFacts:
        """Stitch ports and the far hosts of live stitched reservations (for proxy ARP),
        worked out again only when the reservations changed."""
        engine = self.reservations.engine
        if self._wan[0] != engine.version:
            self._wan = (engine.version, wan_facts(self.settings.stitching, engine))
        return self._wan[1]

    # ------------------------------------------------------------ read-backs

    def read_started(self, dpid: int, flow_xid: int, meter_xid: int, now: float) -> None:
        with self.lock:
            self.reconciler.read_started(dpid, flow_xid, meter_xid, now)

    def last_read(self, dpid: int) -> tuple[int, float]:
        """Tegu flows switch ``dpid`` held at its last complete read, and seconds it took."""
        with self.lock:
            return self.reconciler.last_read(dpid)

    def flows_read(
        self, dpid: int, xid: int, entries: list[InstalledFlow], more: bool, now: float
    ) -> bool:
        """One flow-stats reply; True when the switch has been read completely."""
        with self.lock:
            return self._read_done(dpid, self.reconciler.flows_read(dpid, xid, entries, more, now))

    def meters_read(self, dpid: int, xid: int, meters: list[Meter], more: bool, now: float) -> bool:
        """One meter-config reply; True when the switch has been read completely."""
        with self.lock:
            return self._read_done(dpid, self.reconciler.meters_read(dpid, xid, meters, more, now))

    def _read_done(self, dpid: int, done: bool) -> bool:
        """After a complete read, errors seen on that switch are history: it holds what it holds."""
        if done:
            self._errors = {
                rid: why for rid, why in self._errors.items() if not self._touches(rid, dpid)
            }
            self._enforcement_moved.notify_all()
        return done

    def resync_due(self, now: float) -> list[int]:
        """Switches to re-read now (drift repair), including any whose barrier never came back."""
        with self.lock:
            return self.reconciler.resync_due(now)

    # ------------------------------------------------------------ the passes

    def next_pass(self, now: float) -> dict[int, Changes]:
        """Changes of the earliest phase any ready switch needs; empty while one is unconfirmed."""
        with self.lock:
            if self.reconciler.confirming:
                return {}
            engine = self.reservations.engine
            self.desired.update(
                self.topology,
                engine.reservations,
                engine.policy,
                self.reservations.paused,
                engine.changed_since(self._planned_version),
                modes=self.unmetered(),
            )
            self._planned_version = engine.version
            self._enforcement_moved.notify_all()  # a conflict may have been found
            return self.reconciler.next_pass(now)

    def pass_sent(
        self, dpid: int, changes: Changes, barrier_xid: int, now: float, sent_at: float
    ) -> None:
        """``changes`` (planned at ``now``) went out to ``dpid``, its barrier at ``sent_at``."""
        with self.lock:
            self.reconciler.pass_sent(dpid, changes, barrier_xid, now, sent_at)

    def barrier_replied(self, dpid: int, xid: int) -> bool:
        """True when this reply confirms the last outstanding barrier (a new pass may start)."""
        with self.lock:
            last = self.reconciler.barrier_replied(dpid, xid)
            self._enforcement_moved.notify_all()
            return last

    def switch_error(self, dpid: int, serial: int | None, detail: str) -> None:
        """A switch refused something we sent; the reservation it was for says so."""
        with self.lock:
            self.reconciler.refused(dpid)
            if serial is not None:
                for reservation in self.reservations.engine.reservations.values():
                    if reservation.serial == serial:
                        self._errors[reservation.id] = f"switch {dpid_str(dpid)}: {detail}"
            self._enforcement_moved.notify_all()

    # ------------------------------------------------------------------ views

    def await_enforcement(self, reservation_id: str, timeout: float) -> None:
        """Return once the reservation is no longer being installed, or after ``timeout`` s.

        Nothing to wait for (returns at once): a reservation that is gone,
        degraded (it waits for the network, not the switches) or while
        enforcement is paused.
        """
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                reservation = self.reservations.engine.reservations.get(reservation_id)
                if (
                    reservation is None
                    or reservation.state is State.DEGRADED
                    or self.reservations.paused
                    or self.enforcement(reservation)["status"] != "pending"
                ):
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._enforcement_moved.wait(remaining)

    def enforcement(self, reservation: Reservation) -> dict[str, Any]:
        """``{"status", "detail"}``: whether the switches hold what this reservation needs."""
        with self.lock:
            state = reservation.state
            if state is State.PENDING:
                return {
                    "status": "scheduled",
                    "detail": f"enforced from {format_time(reservation.window.start)}",
                }
            if state.final:
                return {"status": "removed", "detail": f"reservation {state.value}"}
            if state is State.DEGRADED:
                return {"status": "pending", "detail": reservation.reason or "no path"}
            if self.reservations.paused:
                return {"status": "pending", "detail": "enforcement is paused"}
            # The state the switches are being driven to; API threads never update it.
            conflict = self.desired.conflicts.get(reservation.id)
            if conflict is not None:
                return {"status": "error", "detail": conflict}
            cached = self.desired.planned.get(reservation.id)
            if cached is None or cached[0] is not reservation:
                return {"status": "pending", "detail": "being planned"}
            if reservation.id in self._errors:
                return {"status": "error", "detail": self._errors[reservation.id]}
            plan = cached[1]
            for dpid in sorted(plan.flows):
                missing = self.reconciler.missing(
                    dpid, plan.flows.get(dpid, ()), plan.meters.get(dpid, ())
                )
                if missing:
                    return {"status": "pending", "detail": missing}
            backends = sorted({self.backend(dpid).name for dpid in plan.flows})
            return {
                "status": "installed",
                "detail": "flows and meters confirmed on every switch of the path "
                f"(enforced with {', '.join(backends) or 'nothing'})",
            }

    def _grace_until(self, dpid: int) -> str | None:
        """Until when a switch whose control channel dropped leaves everything as it was."""
        until = self.topology.grace_until(dpid)
        return format_time(until) if until else None

    def _touches(self, reservation_id: str, dpid: int) -> bool:
        reservation = self.reservations.engine.reservations.get(reservation_id)
        return reservation is not None and dpid in reservation.switches()

    def _adopt_hosts(self) -> None:
        """Learn hosts from base flows switches already hold (after a controller restart)."""
        for dpid, flows in self.reconciler.installed_flows():
            for mac, at in host_attachments(dpid, flows):
                if self.topology.host_by_mac(mac) is None and not self.topology.is_link_port(at):
                    self.topology.host_seen(mac, at, None)

    def health(self) -> dict[str, object]:
        """Without the lock: a health check must answer while a big pass is being planned."""
        problem = self.reservations.store.problem
        return {
            "status": "ok" if problem is None else "degraded",
            "version": __version__,
            "switches": len(self.reconciler.switches),
            "storage": {"writable": problem is None, "problem": problem},
        }

    def meter_features(self, dpid: int, features: MeterFeatures, now: float) -> bool:
        """A switch said what meters it has; True if that changed where reservations can go
        (a switch that cannot meter is routed around, its reservations moved or degraded)."""
        with self.lock:
            self._facts[dpid] = replace(self._facts.get(dpid, SwitchFacts()), meters=features)
        return self._backend_known(dpid, now)

    def datapath_facts(
        self, dpid: int, datapath_type: str, ovs_version: str | None, now: float
    ) -> bool:
        """What an OVSDB server says of the bridge with this datapath id; True if that changed
        how the switch enforces (the switches must then follow)."""
        with self.lock:
            known = self._facts.get(dpid, SwitchFacts())
            self._facts[dpid] = replace(known, datapath_type=datapath_type, ovs_version=ovs_version)
            if self._facts[dpid] == known:
                return False
        return self._backend_known(dpid, now)

    def _backend_known(self, dpid: int, now: float) -> bool:
        """A switch's backend may have changed: one that can enforce nothing is routed around
        (its reservations moved or degraded); True if the switches must follow."""
        with self.lock:
            backend = self.backend(dpid)
            before = self.topology.version
            self.topology.set_unenforceable(
                dpid, backend.reason if backend.name == "none" else None
            )
            moved = self.topology.version != before
            changed = moved or self.unmetered() != self.desired.modes
        if moved:
            self.tick(now)
        return changed

    # ------------------------------------------------------------ OVSDB rows

    def desired_rows(self, dpid: int, *, by_agent: bool = False) -> BridgeRows | None:
        """The tegu_ryu rows bridge ``dpid`` should hold; None unless it is connected to this
        controller (an OVSDB server may hold bridges of other controllers: not ours to touch).

        A bridge a connected host agent reports is written by that agent (``by_agent``), not
        by the controller's own OVSDB remotes: one writer per bridge.
        """
        with self.lock:
            if dpid not in self.reconciler.switches or by_agent != (dpid in self.agent_dpids()):
                return None
            setting = self.settings.enforcement_overrides.get(dpid, self.settings.enforcement)
            if setting == "auto" and self._facts.get(dpid, SwitchFacts()).meters is None:
                return None  # its backend, hence its queues, is not known yet: touch nothing
            return self.planned_rows().get(dpid, BridgeRows())

    def planned_rows(self) -> dict[int, BridgeRows]:
        """Every switch's desired rows, planned again only when the reservations changed."""
        with self.lock:
            engine = self.reservations.engine
            modes = self.unmetered()
            key = (engine.version, self.reservations.paused, modes, self.topology.version)
            if self._rows[0] != key:
                active = () if self.reservations.paused else engine.reservations.values()
                queued = {
                    dpid: self.settings.queue_borrow
                    for dpid, mode in modes.items()
                    if mode == QUEUES
                }
                self._rows = (
                    key,
                    plan_rows(
                        active,
                        queued,
                        self.topology.view().capacity_of,
                        self.settings.stitching.points,
                    ),
                )
            return self._rows[1]

    def unmetered(self) -> dict[int, str]:
        """The switches that enforce with queues or DSCP marks instead of meters."""
        with self.lock:
            known = set(self.reconciler.switches) | set(self._facts)
            modes = {dpid: self.backend(dpid).name for dpid in known}
            return {dpid: mode for dpid, mode in modes.items() if mode in (QUEUES, DSCP)}

    def rows_written(self, dpid: int, changes: RowChanges | None, problem: str | None) -> None:
        """What the OVSDB sync did on switch ``dpid``; a problem is shown in the topology."""
        with self.lock:
            if problem is None:
                self._row_problems.pop(dpid, None)
            else:
                self._row_problems[dpid] = problem
            self.metrics.record_rows(len(changes) if changes else 0)

    def backend(self, dpid: int) -> Backend:
        """How switch ``dpid`` enforces reservations, and why (its facts and the settings)."""
        setting = self.settings.enforcement_overrides.get(dpid, self.settings.enforcement)
        with self.lock:
            return choose(self._facts.get(dpid, SwitchFacts()), setting)

    # ----------------------------------------------------------- conformance

    def counter_targets(self) -> list[int]:
        """Connected switches holding a reservation's meter: whose counters are worth reading."""
        with self.lock:
            live = {
                r.serial
                for r in self.reservations.engine.reservations.values()
                if not r.state.final
            }
            self.conformance.forget(live)
            return [
                dpid
                for dpid, meters in self.desired.meters.items()
                if dpid in self.reconciler.switches
                and any(serial_of_meter(meter_id) is not None for meter_id in meters)
            ]

    def meters_counted(self, dpid: int, counts: list[MeterCount], now: float) -> None:
        """One switch's meter counters; a reservation dropping traffic while under its rate is
        a bug signal, logged (at most once a minute per reservation)."""
        with self.lock:
            done = self.conformance.counted(dpid, counts, now)
            if not done:
                return
            by_serial = {r.serial: r for r in self.reservations.engine.reservations.values()}
            for serial, direction, measured in done:
                reservation = by_serial.get(serial)
                reserved = 0 if reservation is None else reservation.rate(direction)
                if (
                    reservation is not None
                    and measured.dropped_bps > 0
                    and measured.rate_bps < 0.9 * reserved
                    and now - self._warned.get(reservation.id, -math.inf) >= 60
                ):
                    self._warned[reservation.id] = now
                    LOG.warning(
                        "reservation %s (%s) dropped %d bit/s while carrying %d of its %d bit/s",
                        reservation.id,
                        direction.value,
                        measured.dropped_bps,
                        measured.rate_bps,
                        reserved,
                    )

    def measured(self, reservation: Reservation) -> dict[str, Any]:
        """Per direction, what its meter passed and dropped over the last interval."""
        with self.lock:
            shown = {}
            for direction in (Direction.OUT, Direction.IN):
                last = self.conformance.measured(reservation.serial, direction)
                if last is not None:
                    shown[direction.value] = {
                        "rate_bps": last.rate_bps,
                        "dropped_bps": last.dropped_bps,
                        "since": format_time(last.since),
                        "recent_bps": self.conformance.recent(reservation.serial, direction),
                    }
            return shown

    def topology_view(self) -> dict[str, object]:
        """The topology as ``GET /v1/topology`` shows it."""
        with self.lock:
            topo = self.topology
            return {
                "switches": [
                    {
                        "dpid": dpid_str(dpid),
                        "connected": topo.is_connected(dpid),
                        "grace_until": self._grace_until(dpid),
                        "sync": self.reconciler.sync_state(dpid),
                        **self.reconciler.liveness(dpid),
                        "enforcement": self.backend(dpid).as_json()
                        | {"problem": self._row_problems.get(dpid)},
                        "datapath_type": self._facts.get(dpid, SwitchFacts()).datapath_type,
                        "ovs_version": self._facts.get(dpid, SwitchFacts()).ovs_version,
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
