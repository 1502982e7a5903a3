"""The desired state of every switch, kept up to date by small changes.

Planning every switch from scratch for every new reservation costs time in
proportion to everything already installed; with thousands of reservations
that cost would be paid on every request. ``DesiredState`` instead applies
what changed (a reservation added, ended or moved; a best-effort rate that
follows) and remembers, per switch, which flow keys and meter ids were
touched, so that the reconciler only compares those.

A topology change (a link found, a switch reconnecting: a restart brings
dozens) touches only base forwarding and the best-effort meters' rates:
reservations' flows follow their admitted paths, which are part of the
reservation. So base forwarding is planned again and compared with the
last plan, and the best-effort meters of booked links are set again; what
differs is marked changed. A policy change, a pause, and any reservation
whose traffic collides with another's fall back to planning everything
(``planner.plan_switches``), which stays the reference for what "right" means.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping

from tegu_ryu.enforcement.mirror_plan import Selection, guard_flows, selecting, selections
from tegu_ryu.enforcement.planner import (
    MIN_BEST_EFFORT_KBPS,
    NO_MODES,
    MeterSettings,
    ReservationPlan,
    best_effort_copy,
    best_effort_meter_id,
    plan_reservation,
    plan_switches,
    reservation_cookie,
    through_meter,
)
from tegu_ryu.enforcement.steering_plan import composed, is_steering, steering_key_of
from tegu_ryu.forwarding.base import plan_base_flows
from tegu_ryu.openflow.flows import Flow, FlowKey, Meter
from tegu_ryu.reservations.model import MirrorReservation, Reservation, State
from tegu_ryu.reservations.policy import Policy
from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.refs import HOST_SIDE, LinkId, PortRef


class DesiredState:
    """Per-switch flows and meters, and which of them changed since each switch last looked."""

    def __init__(
        self,
        meters: MeterSettings,
        *,
        reset_dscp: bool = False,
        closed_ports: frozenset[PortRef] = frozenset(),
    ) -> None:
        self.settings = meters
        self.reset_dscp = reset_dscp
        self.closed_ports = closed_ports  # stitch points: only reservations' traffic enters
        self.flows: dict[int, dict[FlowKey, Flow]] = {}
        self.meters: dict[int, dict[int, Meter]] = {}
        self.conflicts: dict[str, str] = {}
        self.planned: dict[str, tuple[Reservation, ReservationPlan]] = {}
        self._changed_flows: defaultdict[int, set[FlowKey]] = defaultdict(set)
        self._changed_meters: defaultdict[int, set[int]] = defaultdict(set)
        self._everything_changed: set[int] = set()
        self._live: dict[str, Reservation] = {}
        self._booked: Counter[LinkId] = Counter()
        self._reserved_kbps: Counter[LinkId] = Counter()
        self._base: dict[int, list[Flow]] = {}
        self._copies: defaultdict[int, dict[FlowKey, Flow]] = defaultdict(dict)  # best effort
        self._chosen: dict[int, Selection] = {}  # ports mirrors select, per switch
        self._guards: dict[int, dict[FlowKey, Flow]] = {}  # drop frames faking mirror copies
        self._mirrors: dict[str, MirrorReservation] = {}  # the planned ones (few; kept apart)
        self.modes: Mapping[int, str] = NO_MODES  # switches enforcing without meters
        # (policy, paused, modes) the last full plan was for
        self._key: tuple[int, bool, tuple[tuple[int, str], ...]] | None = None
        self._topology_version = -1

    # ------------------------------------------------------------ updating

    def update(
        self,
        topology: Topology,
        reservations: Mapping[str, Reservation],
        policy: Policy,
        paused: bool,
        changed: Collection[str] | None = None,
        *,
        modes: Mapping[int, str] = NO_MODES,
    ) -> None:
        """Bring the desired state in line with the reservations (records are immutable).

        ``changed``: the ids that may differ since the last update, when the
        caller knows (else every reservation is compared). ``modes``: the switches that
        enforce with queues or DSCP marks instead of meters; a change plans everything.
        """
        key = (id(policy), paused, tuple(sorted(modes.items())))
        if self._key != key or self.conflicts:
            self.modes = dict(modes)
            self._rebuild(topology, reservations, policy, paused)
            self._key = key
            self._topology_version = topology.version
            self._chosen = self._selections()
            self._guards = self._wanted_guards(topology)
            return
        view = topology.view()
        touched: set[LinkId] = set()
        if topology.version != self._topology_version:
            self._replan_base(topology)
            self._topology_version = topology.version
            touched |= {link for link, count in self._booked.items() if count > 0}
        for rid in set(self._live) | set(reservations) if changed is None else changed:
            before, after = self._live.get(rid), reservations.get(rid)
            if before is after:
                continue
            if before is not None:
                touched |= self._withdraw(before)
            if after is not None and not after.state.final:
                touched |= self._contribute(after)
        for link in touched:
            self._set_best_effort(link, policy.usable(view.capacity_of(link)) // 1000)
        self._compose()
        self._guard(topology)
        self._select()

    def _compose(self) -> None:
        """A chain's entries take the meter of a bandwidth reservation on exactly their
        traffic (``steering_plan.composed``): where either changed, compose them again."""
        for dpid, keys in self._changed_flows.items():
            flows = self.flows.get(dpid, {})
            ports: dict[int, int] | None = None
            for key in list(keys):
                chain_key = key if is_steering(key) else steering_key_of(key)
                if chain_key not in flows or not is_steering(chain_key):
                    continue
                planned = self._copies[dpid].get(chain_key)
                if planned is not None and ports is None:
                    ports = self._metered_ports(dpid)
                flow = flows[chain_key] if planned is None else through_meter(planned, ports or {})
                flows[chain_key] = composed(flow, flows)
                keys.add(chain_key)

    def _wanted_guards(self, topology: Topology) -> dict[int, dict[FlowKey, Flow]]:
        enforced = list(self._mirrors.values())
        return {
            dpid: {flow.key: flow for flow in guards}
            for dpid, guards in guard_flows(
                topology.switch_ids(), enforced, reservation_cookie
            ).items()
        }

    def _guard(self, topology: Topology) -> None:
        """Every switch drops frames that carry an enforced mirror's tag but are not its copies."""
        wanted = self._wanted_guards(topology)
        for dpid in set(wanted) | set(self._guards):
            old, new = self._guards.get(dpid, {}), wanted.get(dpid, {})
            flows = self.flows.setdefault(dpid, {})
            for flow_key in old.keys() - new.keys():
                flows.pop(flow_key, None)
                self._changed_flows[dpid].add(flow_key)
            for flow_key, flow in new.items():
                if old.get(flow_key) != flow:
                    flows[flow_key] = flow
                    self._changed_flows[dpid].add(flow_key)
        self._guards = wanted

    def _selections(self) -> dict[int, Selection]:
        return selections(self._mirrors.values())

    def _select(self) -> None:
        """Send flows that may carry selected packets on to the mirror table, and no others.

        Where what mirrors select changed, every flow of the switch is looked
        at again; elsewhere only the flows that changed.
        """
        chosen = self._selections()
        for dpid in set(chosen) | set(self._chosen):
            selection = chosen.get(dpid, Selection())
            if selection == self._chosen.get(dpid, Selection()):
                continue
            flows = self.flows.get(dpid, {})
            for flow_key, flow in flows.items():
                selected = selecting(flow, selection)
                if selected != flow:
                    flows[flow_key] = selected
                    self._changed_flows[dpid].add(flow_key)
        self._chosen = chosen
        for dpid, keys in self._changed_flows.items():
            if dpid not in chosen:
                continue
            flows = self.flows.get(dpid, {})
            for flow_key in keys & flows.keys():
                flows[flow_key] = selecting(flows[flow_key], chosen[dpid])

    def _rebuild(
        self,
        topology: Topology,
        reservations: Mapping[str, Reservation],
        policy: Policy,
        paused: bool,
    ) -> None:
        """Plan everything from scratch; every switch must then be compared in full."""
        cache = self.planned
        fresh: dict[str, tuple[Reservation, ReservationPlan]] = {}

        def planned(reservation: Reservation) -> ReservationPlan:
            known = cache.get(reservation.id)
            if known is None or known[0] is not reservation:
                known = (reservation, plan_reservation(reservation, self.settings, self.modes))
            fresh[reservation.id] = known
            return known[1]

        self._base = plan_base_flows(
            topology, reset_dscp=self.reset_dscp, closed_ports=self.closed_ports
        )
        plan = plan_switches(
            topology,
            reservations.values(),
            policy,
            self.settings,
            planned=planned,
            base=self._base,
            paused=paused,
            modes=self.modes,
        )
        self.flows = {dpid: {f.key: f for f in sw.flows} for dpid, sw in plan.switches.items()}
        self.meters = {dpid: {m.id: m for m in sw.meters} for dpid, sw in plan.switches.items()}
        self.conflicts = dict(plan.conflicts)
        self.planned = {rid: fresh[rid] for rid in fresh if rid not in self.conflicts}
        self._mirrors = {
            rid: r for rid, (r, _) in self.planned.items() if isinstance(r, MirrorReservation)
        }
        self._live = {rid: r for rid, r in reservations.items() if not r.state.final}
        self._booked = Counter(link for r in self._live.values() for _, link in r.bookings())
        self._copies = defaultdict(dict)
        for reservation, planned_one in self.planned.values():
            if best_effort_copy(reservation):
                for dpid, copy_flows in planned_one.flows.items():
                    self._copies[dpid].update((f.key, f) for f in copy_flows)
        self._reserved_kbps = Counter()
        for reservation, _ in self.planned.values():
            for direction, link in reservation.bookings():
                if reservation.rate(direction):
                    self._reserved_kbps[link] += self.settings.reserved_kbps(
                        reservation.rate(direction)
                    )
        self._everything_changed = set(self.flows)

    def _replan_base(self, topology: Topology) -> None:
        """Base forwarding for a changed topology: only the flows that differ are marked."""
        before = self._base
        after = plan_base_flows(
            topology, reset_dscp=self.reset_dscp, closed_ports=self.closed_ports
        )
        for dpid in set(before) | set(after):
            old = {f.key: f for f in before.get(dpid, ())}
            new = {f.key: f for f in after.get(dpid, ())}
            flows = self.flows.setdefault(dpid, {})
            for key in old.keys() - new.keys():
                flows.pop(key, None)
                self._changed_flows[dpid].add(key)
            for key, flow in new.items():
                if old.get(key) != flow:
                    flows[key] = flow  # metered again below, if its port carries bookings
                    self._changed_flows[dpid].add(key)
        self._base = after

    def _withdraw(self, reservation: Reservation) -> set[LinkId]:
        """Take a reservation's flows, meters and bookings out; the links it touched."""
        del self._live[reservation.id]
        links = {link for _, link in reservation.bookings()}
        self._booked.subtract(link for _, link in reservation.bookings())
        planned = self.planned.pop(reservation.id, None)
        self._mirrors.pop(reservation.id, None)
        if planned is None:
            return links
        record, plan = planned
        for direction, link in record.bookings():
            if record.rate(direction):
                self._reserved_kbps[link] -= self.settings.reserved_kbps(record.rate(direction))
        for dpid, flows in plan.flows.items():
            for flow in flows:
                self.flows[dpid].pop(flow.key, None)
                self._copies[dpid].pop(flow.key, None)
                self._changed_flows[dpid].add(flow.key)
        for dpid, meters in plan.meters.items():
            for meter in meters:
                self.meters[dpid].pop(meter.id, None)
                self._changed_meters[dpid].add(meter.id)
        return links

    def _contribute(self, reservation: Reservation) -> set[LinkId]:
        """Put a live reservation's bookings in, and its flows and meters if it is active."""
        self._live[reservation.id] = reservation
        links = {link for _, link in reservation.bookings()}
        self._booked.update(link for _, link in reservation.bookings())
        if reservation.state is not State.ACTIVE or self._key is None or self._key[1]:
            return links
        plan = plan_reservation(reservation, self.settings, self.modes)
        for dpid, flows in plan.flows.items():
            for flow in flows:
                if flow.key in self.flows.setdefault(dpid, {}):
                    self.conflicts[reservation.id] = (
                        "its traffic is the same as another reservation's"
                    )
        if reservation.id in self.conflicts:
            return links  # the next update plans everything and says which one wins
        self.planned[reservation.id] = (reservation, plan)
        if isinstance(reservation, MirrorReservation):
            self._mirrors[reservation.id] = reservation
        for direction, link in reservation.bookings():
            if reservation.rate(direction):
                self._reserved_kbps[link] += self.settings.reserved_kbps(
                    reservation.rate(direction)
                )
        copies = best_effort_copy(reservation)
        for dpid, flows in plan.flows.items():
            ports = self._metered_ports(dpid) if copies else {}
            for planned_flow in flows:
                flow = planned_flow
                if copies:
                    self._copies[dpid][flow.key] = flow
                    flow = through_meter(flow, ports)
                self.flows[dpid][flow.key] = flow
                self._changed_flows[dpid].add(flow.key)
        for dpid, meters in plan.meters.items():
            for meter in meters:
                self.meters.setdefault(dpid, {})[meter.id] = meter
                self._changed_meters[dpid].add(meter.id)
        return links

    def _set_best_effort(self, link: LinkId, usable_kbps: int) -> None:
        """The best-effort meter on a link's egress port, and the base flows that use it."""
        if link.src == HOST_SIDE:
            return  # a host's own sending is not ours to meter
        dpid, port = link.src.dpid, link.src.port
        meter_id = best_effort_meter_id(port)
        meters = self.meters.setdefault(dpid, {})
        attached = self._booked[link] > 0 and dpid not in self.modes
        if attached:
            rate = max(MIN_BEST_EFFORT_KBPS, usable_kbps - self._reserved_kbps[link])
            meters[meter_id] = Meter(
                meter_id,
                rate,
                self.settings.best_effort_burst_kbit,
                description=f"best effort on {link}",
            )
        else:
            meters.pop(meter_id, None)
        self._changed_meters[dpid].add(meter_id)
        ports = self._metered_ports(dpid)
        flows = self.flows.setdefault(dpid, {})
        for flow in (*self._base.get(dpid, ()), *self._copies[dpid].values()):
            if port in flow.output_ports():
                flows[flow.key] = through_meter(flow, ports)
                self._changed_flows[dpid].add(flow.key)

    def _metered_ports(self, dpid: int) -> dict[int, int]:
        """Egress ports of ``dpid`` that have a best-effort meter now, and its id."""
        return {
            link.src.port: best_effort_meter_id(link.src.port)
            for link, count in self._booked.items()
            if count > 0
            and link.src.dpid == dpid
            and link.src != HOST_SIDE
            and dpid not in self.modes
        }

    # ------------------------------------------------------------- reading

    def changed(self, dpid: int) -> tuple[set[FlowKey], set[int]] | None:
        """Keys and meter ids changed on ``dpid`` since it last took them; None: compare all."""
        if dpid in self._everything_changed:
            return None
        return self._changed_flows[dpid], self._changed_meters[dpid]

    def taken(self, dpid: int, flow_keys: set[FlowKey] | None, meter_ids: set[int] | None) -> None:
        """``dpid`` has dealt with these changes (None: with everything)."""
        if flow_keys is None or meter_ids is None:
            self._everything_changed.discard(dpid)
            self._changed_flows.pop(dpid, None)
            self._changed_meters.pop(dpid, None)
            return
        self._changed_flows[dpid] -= flow_keys
        self._changed_meters[dpid] -= meter_ids

    def compare_all(self, dpid: int) -> None:
        """The next comparison for ``dpid`` must look at everything (after a read-back)."""
        self._everything_changed.add(dpid)
