"""The controller's state and decisions in one place, with no I/O.

The os-ken shim (``tegu_ryu/app.py``) turns OpenFlow and discovery events into
calls here and carries out what comes back; the REST API reads from here.
Both run on their own threads, so every entry point takes ``lock``.

Keeping switches right is one loop: the desired state of every switch is a
function of the topology, the reservations and the time (``plan``); what each
switch holds is known from read-backs (``SwitchSync``); ``next_pass`` returns
the changes of the earliest phase any switch still needs (see
``openflow.reconcile``), and the next pass waits until every switch has
confirmed the last one with a barrier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tegu_ryu import __version__
from tegu_ryu.enforcement.desired import DesiredState
from tegu_ryu.enforcement.planner import MeterSettings, ReservationPlan
from tegu_ryu.forwarding.base import host_attachments
from tegu_ryu.forwarding.packet_in import FloodMemory, PacketInOutcome, handle_packet_in
from tegu_ryu.openflow.flows import FlowKey, Meter
from tegu_ryu.openflow.reconcile import Changes, InstalledFlow
from tegu_ryu.openflow.sync import SwitchSync
from tegu_ryu.reservations.mirror_admission import MirrorSettings
from tegu_ryu.reservations.model import Reservation, State
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.reservations.service import ReservationService
from tegu_ryu.timefmt import format_time
from tegu_ryu.topology.capacity import CapacityPolicy
from tegu_ryu.topology.model import PortState, Topology
from tegu_ryu.topology.refs import LinkId, PortRef, dpid_str

LOG = logging.getLogger(__name__)

BARRIER_PATIENCE = 10.0  # seconds before an unanswered barrier means the switch needs a re-read
CONFIRMED_PER_SECOND = 2000  # changes a switch is given a second for, beyond that patience
SLOW_ECHO = 1.0  # seconds: an echo round trip longer than this (or unanswered) is slow
READ_SPACING = 9  # a periodic re-read waits this many times as long as the last one took


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


@dataclass
class _Switch:
    sync: SwitchSync
    settle_until: float
    barrier_since: float = 0.0
    read_began: float = 0.0
    read_took: float = 0.0  # seconds, the last complete read
    barrier_patience: float = BARRIER_PATIENCE
    echo_sent: float = 0.0  # when the unanswered echo request went out (0: none is)
    echo_rtt: float | None = None  # seconds, the last answered one
    slow: bool = False


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
        self.switches: dict[int, _Switch] = {}
        self._flood_memory = FloodMemory()
        self.desired = DesiredState(settings.meters)
        self._paths_trusted_from = now + settings.discovery_settle
        self._errors: dict[str, str] = {}

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
            for switch in self.switches.values():
                if switch.settle_until and now >= switch.settle_until and switch.sync.known:
                    switch.settle_until = 0.0
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
            due = []
            for dpid, switch in self.switches.items():
                if switch.echo_sent and now - switch.echo_sent > SLOW_ECHO:
                    self._mark_slow(
                        dpid, switch, True, f"no echo reply for {now - switch.echo_sent:.1f} s"
                    )
                    continue
                due.append(dpid)
                switch.echo_sent = now
            return due

    def echo_answered(self, dpid: int, sent: float, now: float) -> None:
        """An echo reply: its round trip, as this controller sees it (its own backlog included)."""
        with self.lock:
            switch = self.switches.get(dpid)
            if switch is None:
                return
            switch.echo_sent = 0.0
            switch.echo_rtt = max(0.0, now - sent)
            self._mark_slow(
                dpid,
                switch,
                switch.echo_rtt > SLOW_ECHO,
                f"echo round trip {switch.echo_rtt * 1000:.0f} ms",
            )

    def _mark_slow(self, dpid: int, switch: _Switch, slow: bool, why: str) -> None:
        if slow and not switch.slow:
            LOG.warning(
                "switch %s is slow to answer: %s (the switch or this controller is busy)",
                dpid_str(dpid),
                why,
            )
        elif switch.slow and not slow:
            LOG.info("switch %s answers promptly again: %s", dpid_str(dpid), why)
        switch.slow = slow

    # ------------------------------------------------------- discovery events

    def switch_connected(self, dpid: int, ports: list[PortState], now: float) -> None:
        with self.lock:
            self.topology.switch_connected(dpid, ports)
            self.switches[dpid] = _Switch(SwitchSync(dpid), now + self.settings.discovery_settle)

    def switch_disconnected(self, dpid: int, now: float) -> None:
        """The control channel dropped; the switch keeps forwarding, and its links stay."""
        with self.lock:
            self.switches.pop(dpid, None)
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
            return handle_packet_in(self.topology, self._flood_memory, now, at, data)

    # ------------------------------------------------------------ read-backs

    def read_started(self, dpid: int, flow_xid: int, meter_xid: int, now: float) -> None:
        with self.lock:
            switch = self.switches.get(dpid)
            if switch is not None:
                switch.sync.read_started(flow_xid, meter_xid)
                switch.read_began = now

    def last_read(self, dpid: int) -> tuple[int, float]:
        """Tegu flows switch ``dpid`` held at its last complete read, and seconds it took."""
        with self.lock:
            switch = self.switches.get(dpid)
            if switch is None:
                return 0, 0.0
            return len(switch.sync.installed_flows()), switch.read_took

    def flows_read(
        self, dpid: int, xid: int, entries: list[InstalledFlow], more: bool, now: float
    ) -> bool:
        """One flow-stats reply; True when the switch has been read completely."""
        with self.lock:
            switch = self.switches.get(dpid)
            return switch is not None and self._read_done(
                switch, switch.sync.flows_part(xid, entries, more), now
            )

    def meters_read(self, dpid: int, xid: int, meters: list[Meter], more: bool, now: float) -> bool:
        """One meter-config reply; True when the switch has been read completely."""
        with self.lock:
            switch = self.switches.get(dpid)
            return switch is not None and self._read_done(
                switch, switch.sync.meters_part(xid, meters, more), now
            )

    def _read_done(self, switch: _Switch, done: bool, now: float) -> bool:
        """After a complete read: compare everything, and space the next periodic one.

        Reading back costs the controller about a quarter of a millisecond per
        flow; spacing periodic reads by what the last one took keeps drift
        repair to a tenth of the time however many flows a switch holds.
        """
        if done:
            switch.read_took = now - switch.read_began
            self.desired.compare_all(switch.sync.dpid)
            if not switch.sync.installed_flows():
                switch.settle_until = 0.0  # a fresh switch: nothing on it to preserve
            self._errors = {
                rid: why
                for rid, why in self._errors.items()
                if not self._touches(rid, switch.sync.dpid)
            }
        return done

    def resync_due(self, now: float) -> list[int]:
        """Switches to re-read now (drift repair), including any whose barrier never came back."""
        with self.lock:
            due = []
            for dpid, switch in self.switches.items():
                if (
                    switch.sync.barrier is not None
                    and now - switch.barrier_since > switch.barrier_patience
                ):
                    LOG.warning(
                        "switch %s did not confirm %d s of changes; reading it back",
                        dpid_str(dpid),
                        now - switch.barrier_since,
                    )
                    switch.sync.barrier = None
                    switch.sync.distrust()
                spaced = now >= switch.read_began + (1 + READ_SPACING) * switch.read_took
                if (
                    not switch.sync.reading
                    and switch.sync.barrier is None
                    and (spaced or not switch.sync.known)  # distrusted: read it now
                ):
                    due.append(dpid)
            return due

    # ------------------------------------------------------------ the passes

    def next_pass(self, now: float) -> dict[int, Changes]:
        """Changes of the earliest phase any ready switch needs; empty while one is unconfirmed.

        Only what changed since a switch was last compared is looked at, except
        after a read-back, when everything is.
        """
        with self.lock:
            if any(s.sync.barrier is not None for s in self.switches.values()):
                return {}
            engine = self.reservations.engine
            self.desired.update(
                self.topology, engine.reservations, engine.policy, self.reservations.paused
            )
            needed = {}
            for dpid, switch in self.switches.items():
                if switch.sync.known and not switch.sync.reading and not switch.settle_until:
                    needed[dpid] = self._changes(dpid, switch.sync, now)
            phases = [changes.phase() for changes, _ in needed.values() if changes.phase()]
            phase = min(phases, default=0)
            work = {}
            for dpid, (changes, looked_at) in needed.items():
                sent, left = changes.only(phase), changes.without(phase)
                if looked_at is None:
                    if not len(left):
                        self.desired.taken(dpid, None, None)
                else:
                    keys, meter_ids = looked_at
                    self.desired.taken(dpid, keys - left.flow_keys(), meter_ids - left.meter_ids())
                if len(sent):
                    work[dpid] = sent
            return work

    def _changes(
        self, dpid: int, sync: SwitchSync, now: float
    ) -> tuple[Changes, tuple[set[FlowKey], set[int]] | None]:
        """What switch ``dpid`` needs, and which keys were compared (None: all of them)."""
        flows = self.desired.flows.get(dpid, {})
        meters = self.desired.meters.get(dpid, {})
        changed = self.desired.changed(dpid)
        if changed is None:
            return sync.changes(flows.values(), meters.values(), now), None
        keys, meter_ids = set(changed[0]), set(changed[1])
        return sync.changes_for(flows, meters, keys, meter_ids, now), (keys, meter_ids)

    def pass_sent(
        self, dpid: int, changes: Changes, barrier_xid: int, now: float, sent_at: float
    ) -> None:
        """``changes`` (planned at ``now``) went out to ``dpid``, its barrier at ``sent_at``.

        The switch has a while to confirm them, longer for more of them.
        """
        with self.lock:
            switch = self.switches.get(dpid)
            if switch is not None:
                switch.sync.applied(changes, now)
                switch.sync.barrier = barrier_xid
                switch.barrier_since = sent_at
                switch.barrier_patience = BARRIER_PATIENCE + len(changes) / CONFIRMED_PER_SECOND

    def barrier_replied(self, dpid: int, xid: int) -> bool:
        """True when this reply confirms the last outstanding barrier (a new pass may start)."""
        with self.lock:
            switch = self.switches.get(dpid)
            if switch is None or switch.sync.barrier != xid:
                return False
            switch.sync.barrier = None
            return all(s.sync.barrier is None for s in self.switches.values())

    def switch_error(self, dpid: int, serial: int | None, detail: str) -> None:
        """A switch refused something we sent; the reservation it was for says so."""
        with self.lock:
            switch = self.switches.get(dpid)
            if switch is not None:
                switch.sync.distrust()
            if serial is not None:
                for reservation in self.reservations.engine.reservations.values():
                    if reservation.serial == serial:
                        self._errors[reservation.id] = f"switch {dpid_str(dpid)}: {detail}"

    # ------------------------------------------------------------------ views

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
            for dpid in sorted(cached[1].flows):
                missing = self._missing_on(dpid, cached[1])
                if missing:
                    return {"status": "pending", "detail": missing}
            return {
                "status": "installed",
                "detail": "flows and meters confirmed on every switch of the path",
            }

    def _missing_on(self, dpid: int, planned: ReservationPlan) -> str | None:
        switch = self.switches.get(dpid)
        if switch is None:
            return f"switch {dpid_str(dpid)} is not connected"
        if not switch.sync.known or switch.sync.barrier is not None:
            return f"switch {dpid_str(dpid)} has not confirmed its flows yet"
        # As the switch must hold them: through best-effort meters and on to the mirror table
        # where that applies, which the reservation's own plan does not say.
        desired = self.desired.flows.get(dpid, {})
        wanted = [desired.get(flow.key, flow) for flow in planned.flows.get(dpid, ())]
        if not switch.sync.holds(wanted, planned.meters.get(dpid, ())):
            return f"switch {dpid_str(dpid)} does not hold all of its flows yet"
        return None

    def _liveness(self, dpid: int) -> dict[str, object]:
        switch = self.switches.get(dpid)
        rtt = (
            None if switch is None or switch.echo_rtt is None else round(switch.echo_rtt * 1000, 1)
        )
        return {"echo_ms": rtt, "slow": switch is not None and switch.slow}

    def _grace_until(self, dpid: int) -> str | None:
        """Until when a switch whose control channel dropped leaves everything as it was."""
        until = self.topology.grace_until(dpid)
        return format_time(until) if until else None

    def _sync_state(self, dpid: int) -> str | None:
        """How far the controller is in making switch ``dpid`` right (None: not connected)."""
        switch = self.switches.get(dpid)
        if switch is None:
            return None
        if switch.sync.reading or not switch.sync.known:
            return "reading"
        if switch.settle_until:
            return "settling"
        if switch.sync.barrier is not None:
            return "confirming"
        return "synced"

    def _touches(self, reservation_id: str, dpid: int) -> bool:
        reservation = self.reservations.engine.reservations.get(reservation_id)
        return reservation is not None and dpid in reservation.switches()

    def _adopt_hosts(self) -> None:
        """Learn hosts from base flows switches already hold (after a controller restart)."""
        for dpid, switch in self.switches.items():
            for mac, at in host_attachments(dpid, switch.sync.installed_flows()):
                if self.topology.host_by_mac(mac) is None and not self.topology.is_link_port(at):
                    self.topology.host_seen(mac, at, None)

    def health(self) -> dict[str, object]:
        """Without the lock: a health check must answer while a big pass is being planned."""
        problem = self.reservations.store.problem
        return {
            "status": "ok" if problem is None else "degraded",
            "version": __version__,
            "switches": len(self.switches),
            "storage": {"writable": problem is None, "problem": problem},
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
                        "grace_until": self._grace_until(dpid),
                        "sync": self._sync_state(dpid),
                        **self._liveness(dpid),
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
