"""Admission of reservations and the records of what was admitted: pure, with ``now`` passed in.

A request is admitted when, for each direction it carries traffic, some path
has room on every link over the whole window (after headroom, within the
tenant's fence); it is then booked on those links. When nothing fits, the
rejection names the bottleneck: the tightest link on the path that would have
been taken with the network empty, the interval where that link is most
booked, and how much was free there.

``readmit`` admits a live reservation again for the rest of its window (its
path broke, or its host moved): the lifecycle (``lifecycle.py``) decides
when.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import logging
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tegu_ryu.errors import Conflict, InvalidField, NotFound
from tegu_ryu.reservations.ledger import Booking, Ledger
from tegu_ryu.reservations.model import (
    Bandwidth,
    BandwidthReservation,
    Direction,
    Endpoint,
    Kind,
    Match,
    MirrorReservation,
    PassthruReservation,
    Reservation,
    Route,
    State,
    SteeringReservation,
    StitchReservation,
    access_links_between,
    cookie_digest,
)
from tegu_ryu.reservations.paths import Hop, PathMode, constrained_path, hops_along
from tegu_ryu.reservations.policy import Fence, Policy
from tegu_ryu.reservations.refusals import clash
from tegu_ryu.reservations.requests import Modification, ReservationRequest
from tegu_ryu.reservations.steering_routes import route_chain
from tegu_ryu.reservations.traffic import (
    Traffic,
    bandwidth_traffic,
    by_protocol,
    steals,
    steering_traffic,
    traffic_of_bandwidth,
)
from tegu_ryu.reservations.window import Window
from tegu_ryu.timefmt import format_time
from tegu_ryu.topology.model import Topology
from tegu_ryu.topology.refs import HOST_SIDE, LinkId, PortRef, to_host
from tegu_ryu.units import format_bitrate

LOG = logging.getLogger(__name__)
NAMED_ENDPOINTS = ("vm:", "iface:")  # endpoints named through the host agents' inventories
JOURNAL = 100_000  # changes remembered by id (beyond that, enforcement compares everything)
FoundT = TypeVar("FoundT")
KindT = TypeVar("KindT", bound=Reservation)

ALARM_MEMORY = 1000


@dataclass(frozen=True)
class Room:
    """Free bit/s on a link for one tenant over one window, and what limits it."""

    free: int
    capacity_free: int
    fence_free: int | None

    @property
    def fenced(self) -> bool:
        """True when the tenant's fence, not the link, is the tighter limit."""
        return self.fence_free is not None and self.fence_free < self.capacity_free


@dataclass(frozen=True)
class Demand:
    """What admission must find room for."""

    owner: str
    kind: Kind
    src: Endpoint
    dst: Endpoint
    bandwidth: Bandwidth
    window: Window
    mode: PathMode

    def directions(self) -> list[tuple[Direction, Endpoint, Endpoint, int]]:
        """(direction, from, to, bit/s) for each direction that carries traffic."""
        both = [
            (Direction.OUT, self.src, self.dst, self.bandwidth.out),
            (Direction.IN, self.dst, self.src, self.bandwidth.in_),
        ]
        return [entry for entry in both if entry[3] > 0]


@dataclass(frozen=True)
class Alarm:
    """A booking took a link past the alarm threshold."""

    raised: float
    link: LinkId
    reservation: str
    start: float
    end: float
    booked_bps: int
    threshold_bps: int


class Engine:
    """Reservations, the ledger they are booked in, and the policy they are admitted under."""

    def __init__(
        self,
        topology: Topology,
        policy: Policy | None = None,
        *,
        retention: float = 7 * 86400,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.topology = topology
        self.policy = policy or Policy()
        self.fences: dict[str, Fence] = {}
        self.retention = retention
        self.ledger = Ledger()
        self.reservations: dict[str, Reservation] = {}
        self.alarms: deque[Alarm] = deque(maxlen=ALARM_MEMORY)
        self._new_id = new_id or (lambda: f"r-{uuid.uuid4().hex[:12]}")
        self._by_traffic: defaultdict[TrafficKey, set[str]] = defaultdict(set)
        self._chains: set[str] = set()  # steering reservations, whose traffic may overlap ours
        self._next_serial = 1
        self.version = 0  # bumped on every change, so that plans derived from it can be cached
        # Which reservation each change was about: the ids of changes version - len .. version.
        self._journal: deque[str] = deque(maxlen=JOURNAL)
        self._edges: list[tuple[float, str]] = []  # heap of (start or end, reservation id)
        # ``vm:NAME`` / ``iface:ID`` -> MAC, from the host agents' inventories (app-wired).
        self.endpoint_names: Callable[[str], str | None] | None = None

    # ---------------------------------------------------------------- queries

    def get(self, reservation_id: str) -> Reservation:
        try:
            return self.reservations[reservation_id]
        except KeyError:
            raise NotFound(f"no reservation {reservation_id}", code="not_found") from None

    def bandwidth_reservation(self, reservation_id: str) -> BandwidthReservation:
        """The bandwidth reservation ``reservation_id``; 404 if there is none of that kind."""
        reservation = self.get(reservation_id)
        if not isinstance(reservation, BandwidthReservation):
            raise NotFound(f"no bandwidth reservation {reservation_id}", code="not_found")
        return reservation

    def next_edge(self, after: float) -> float | None:
        """The first start or end of a live reservation after ``after``: when states change next.

        A heap of every edge ever put; edges in the past, and those of
        reservations since cancelled, moved or changed, are dropped as they surface,
        and so is the start of one already active (admitted at its start: a tick
        there would change nothing, and a tick reads every reservation).
        ``after`` is the clock: it must not go backwards between calls.
        """
        edges = self._edges
        while edges:
            instant, reservation_id = edges[0]
            current = self.reservations.get(reservation_id)
            if (
                instant > after
                and current is not None
                and not current.state.final
                and (
                    instant == current.window.end
                    or (instant == current.window.start and current.state is not State.ACTIVE)
                )
            ):
                return instant
            heapq.heappop(edges)
        return None

    def changed_since(self, version: int) -> set[str] | None:
        """Ids of the reservations put or removed since ``version``; None if too long ago.

        What lets enforcement look at the one new reservation of a request
        instead of comparing every record it knows.
        """
        missed = self.version - version
        if missed > len(self._journal) or missed < 0:
            return None
        return set(itertools.islice(self._journal, len(self._journal) - missed, None))

    def fence_of(self, tenant: str) -> Fence:
        return self.fences.get(tenant, self.policy.default_fence)

    # -------------------------------------------------------------- admission

    def create(self, now: float, owner: str, request: ReservationRequest) -> BandwidthReservation:
        """Admit and book ``request`` for ``owner``, or raise saying why not (nothing changes)."""
        src = self.resolve(request.src, "src", external_ok=False)
        dst = self.resolve(request.dst, "dst", external_ok=request.kind is Kind.ONEWAY)
        if src.identity == dst.identity:
            raise InvalidField("dst", "is the same host as src")
        self._refuse_duplicate(
            owner, _traffic_keys(request.kind, src, dst, request.match), request.window
        )
        self._refuse_steered(
            owner, bandwidth_traffic(request.kind, src, dst, request.match), request.window
        )
        bandwidth = Bandwidth(
            out=self.policy.discount.apply(request.bandwidth.out),
            in_=self.policy.discount.apply(request.bandwidth.in_) if request.bandwidth.in_ else 0,
        )
        routes = self._admit(
            Demand(owner, request.kind, src, dst, bandwidth, request.window, request.path_mode)
        )
        reservation = BandwidthReservation(
            id="",
            kind=request.kind,
            owner=owner,
            src=src,
            dst=dst,
            requested=request.bandwidth,
            bandwidth=bandwidth,
            window=request.window,
            match=request.match,
            dscp=request.dscp,
            dscp_exit=request.dscp_exit,
            path_mode=request.path_mode,
            created=now,
            state=State.PENDING,
            routes=routes,
            name=request.name,
            cookie_digest=None if request.cookie is None else cookie_digest(request.cookie),
        )
        return self.admitted(now, reservation)

    @staticmethod
    def changed_window(reservation: Reservation, end: float | None) -> Window:
        """A live reservation's window with a new ``end`` (None: as it is): 409 ``ended`` for
        one that is over, 400 for an end not after its start (every kind's PATCH)."""
        if reservation.state.final:
            raise Conflict(
                f"reservation {reservation.id} already {reservation.state.value}", code="ended"
            )
        window = Window(
            reservation.window.start, end if end is not None else reservation.window.end
        )
        if window.end <= window.start:
            raise InvalidField("end", "must be after the reservation's start")
        return window

    def cancel(self, now: float, reservation_id: str) -> Reservation:
        reservation = self.get(reservation_id)
        if reservation.state.final:
            raise Conflict(
                f"reservation {reservation_id} already {reservation.state.value}", code="ended"
            )
        self.ledger.release(reservation_id)
        cancelled = replace(reservation, state=State.CANCELLED, ended=now)
        self.put(cancelled)
        return cancelled

    def modify(self, now: float, reservation_id: str, change: Modification) -> BandwidthReservation:
        """New end and/or bandwidth, admitted without counting the reservation against itself."""
        reservation = self.bandwidth_reservation(reservation_id)
        window = self.changed_window(reservation, change.end)
        self._refuse_duplicate(reservation.owner, _keys_of(reservation), window, reservation_id)
        self._refuse_steered(reservation.owner, traffic_of_bandwidth(reservation), window)
        requested = change.bandwidth or reservation.requested
        bandwidth = Bandwidth(
            out=self.policy.discount.apply(requested.out),
            in_=self.policy.discount.apply(requested.in_) if requested.in_ else 0,
        )
        routes = self.without_itself(
            reservation_id, lambda: self._keep_or_find_routes(reservation, bandwidth, window)
        )
        changed = replace(
            reservation,
            window=window,
            requested=requested,
            bandwidth=bandwidth,
            routes=routes,
            reason=None,
        )
        return self.rebooked(now, changed)

    def without_itself(self, reservation_id: str, find: Callable[[], FoundT]) -> FoundT:
        """``find`` (a path search for a changed reservation) with the reservation's own
        bookings released, so that it does not count against itself; they are booked back
        if ``find`` refuses, and nothing has changed."""
        held = self.ledger.release(reservation_id)
        try:
            return find()
        except Conflict:
            self.ledger.book(held)
            raise

    def admitted(self, now: float, candidate: KindT) -> KindT:
        """An admitted reservation recorded: a fresh id and serial, its state by time, its
        bookings (where every kind's create ends, once nothing can refuse it)."""
        serial = self._next_serial
        self._next_serial += 1
        admitted = replace(candidate, id=self._new_id(), serial=serial)
        admitted = replace(admitted, state=admitted.state_at(now))
        self.book(now, admitted)
        self.add(admitted)
        return admitted

    def rebooked(self, now: float, changed: KindT) -> KindT:
        """A changed reservation recorded: its state by time (from pending), its bookings."""
        changed = replace(changed, state=State.PENDING)
        changed = replace(changed, state=changed.state_at(now))
        self.book(now, changed)
        self.put(changed)
        return changed

    def resolve(self, given: str, field: str, *, external_ok: bool) -> Endpoint:
        """An endpoint from an address, a MAC or a host name; 404 if the network lacks it."""
        text = given.strip()
        if text.startswith(NAMED_ENDPOINTS):
            return self._resolve_named(text, field)
        host = self.topology.host_named(text)
        if host is not None:
            ip = _canonical_ip(text) or (host.ips[0] if host.ips else None)
            return Endpoint(given=text, mac=host.mac, ip=ip, attach=host.attach, name=host.name)
        external = _canonical_ip(text)
        if external_ok and external is not None:
            return Endpoint(given=text, mac=None, ip=external, attach=None)
        raise NotFound(
            f"{field} {text!r} is not a host the controller knows (by address, MAC or name)",
            code="unknown_endpoint",
            details={"field": field},
        )

    def _resolve_named(self, text: str, field: str) -> Endpoint:
        """``vm:NAME`` or ``iface:ID``: the MAC a host agent reports for it, then that host."""
        mac = self.endpoint_names(text) if self.endpoint_names is not None else None
        if mac is None:
            raise NotFound(
                f"{field} {text!r} names no VM or interface that a host agent reports",
                code="unknown_endpoint",
                details={"field": field},
            )
        host = self.topology.host_by_mac(mac)
        if host is None:
            raise NotFound(
                f"{field} {text!r} is MAC {mac}, which the controller has not seen on the network",
                code="unknown_endpoint",
                details={"field": field},
            )
        ip = host.ips[0] if host.ips else None
        return Endpoint(given=text, mac=host.mac, ip=ip, attach=host.attach, name=host.name)

    def room(self, tenant: str, link: LinkId, window: Window) -> Room:
        """What ``tenant`` could still book on ``link`` over ``window``."""
        capacity = self.topology.view().capacity_of(link)
        capacity_free = self.policy.usable(capacity) - self.ledger.peak_amount(link, window)
        cap = self.fence_of(tenant).cap(capacity)
        if cap is None:
            return Room(capacity_free, capacity_free, None)
        fence_free = cap - self.ledger.tenant_peak_amount(link, tenant, window)
        return Room(min(capacity_free, fence_free), capacity_free, fence_free)

    def availability(
        self, owner: str, src: Endpoint, dst: Endpoint, window: Window
    ) -> dict[Direction, tuple[int, Route | None]]:
        """The most each direction could get now over ``window``, and on which path."""
        if src.identity == dst.identity:
            raise InvalidField("dst", "is the same host as src")
        demand = Demand(owner, Kind.BANDWIDTH, src, dst, Bandwidth(1, 1), window, PathMode.WIDEST)
        return {direction: self._widest(demand, a, b) for direction, a, b, _ in demand.directions()}

    def _widest(self, demand: Demand, a: Endpoint, b: Endpoint) -> tuple[int, Route | None]:
        assert a.attach is not None and b.attach is not None
        free = self.free_on(demand.owner, demand.window)
        path = constrained_path(
            self.topology.view().adjacency,
            a.attach.dpid,
            b.attach.dpid,
            lambda link: free(link) > 0,
            mode=PathMode.WIDEST,
            width=free,
        )
        if path is None:
            return 0, None
        # The hosts' own ports bound it too (and alone, when both are on one switch).
        best = max(0, min(free(link) for link in [*path, *access_links_between(a, b)]))
        return best, Route(hops_along(a.attach, b.attach, path), tuple(path))

    # ----------------------------------------------------------- records

    def forget(self, reservation_id: str) -> None:
        """Drop a reservation and its bookings without a trace (undoing a failed commit)."""
        self.ledger.release(reservation_id)
        self.remove(reservation_id)

    def restore(self, reservations: Iterable[Reservation]) -> None:
        """Load stored reservations and book the live ones on their stored paths.

        Into an empty ledger (a start) everything is booked in one sweep per link.
        """
        bookings: list[Booking] = []
        for reservation in reservations:
            self.add(reservation)
            self._next_serial = max(self._next_serial, reservation.serial + 1)
            if not reservation.state.final and reservation.state is not State.DEGRADED:
                bookings.extend(self._bookings(reservation))
        if self.ledger.empty:
            self.ledger.load(bookings)
        else:
            self.ledger.book(bookings)

    # --------------------------------------------------------------- internal

    def routes_for(self, demand: Demand) -> dict[Direction, Route]:
        """Paths with room for ``demand`` in each direction it carries (access ports
        included), or the usual 409 naming the bottleneck; nothing is booked."""
        return self._admit(demand)

    def _admit(self, demand: Demand) -> dict[Direction, Route]:
        self._check_access(demand)
        if demand.kind is Kind.ONEWAY and demand.dst.attach is None:
            return {Direction.OUT: self._gate(demand)}
        return {
            direction: self._route(demand, direction, a, b, amount)
            for direction, a, b, amount in demand.directions()
        }

    def _route(
        self, demand: Demand, direction: Direction, a: Endpoint, b: Endpoint, amount: int
    ) -> Route:
        assert a.attach is not None and b.attach is not None
        free = self.free_on(demand.owner, demand.window)
        view = self.topology.view()
        source, target = a.attach.dpid, b.attach.dpid
        for end in (source, target):
            if end in view.blocked:
                raise _unenforceable(end, view.blocked[end], direction)
        path = constrained_path(
            view.adjacency,
            source,
            target,
            lambda link: free(link) >= amount,
            mode=demand.mode,
            width=free,
            hops_to_target=view.hops_to(target) if target in view.adjacency else None,
        )
        if path is not None:
            return Route(hops_along(a.attach, b.attach, path), tuple(path))
        unconstrained = constrained_path(view.adjacency, source, target, lambda _: True)
        if unconstrained is None:
            around = constrained_path(view.through_blocked, source, target, lambda _: True)
            crossed = [link.dst.dpid for link in around or () if link.dst.dpid in view.blocked]
            if crossed:
                raise _unenforceable(crossed[0], view.blocked[crossed[0]], direction)
            raise Conflict(
                f"no path from {a.given} to {b.given} ({direction.value}): the network does not "
                "connect them",
                code="no_path",
                details={"direction": direction.value, "requested_bps": amount},
            )
        raise self._rejection(demand, direction, min(unconstrained, key=free), amount)

    def free_on(self, tenant: str, window: Window) -> Callable[[LinkId], int]:
        """Free bit/s per link for ``tenant`` over ``window``, memoised for one search.

        This is the innermost call of admission, hence the locals.
        """
        capacity_of = self.topology.view().capacity_of
        usable = self.policy.usable
        fence = self.fence_of(tenant)
        peak = self.ledger.peak_amount
        tenant_peak = self.ledger.tenant_peak_amount
        known: dict[LinkId, int] = {}

        def free(link: LinkId) -> int:
            value = known.get(link)
            if value is None:
                capacity = capacity_of(link)
                value = usable(capacity) - peak(link, window)
                cap = fence.cap(capacity)
                if cap is not None:
                    value = min(value, cap - tenant_peak(link, tenant, window))
                known[link] = value
            return value

        return free

    def _check_access(self, demand: Demand) -> None:
        """The hosts' own ports must have room too: no path can go around them.

        Both directions' needs are added up per port, which only matters when
        the two hosts share one switch port (virtual machines behind it).
        """
        free = self.free_on(demand.owner, demand.window)
        needed: dict[LinkId, int] = {}
        for direction, a, b, amount in demand.directions():
            for link in access_links_between(a, b):
                needed[link] = needed.get(link, 0) + amount
                if free(link) < needed[link]:
                    raise self._rejection(demand, direction, link, needed[link])

    def _gate(self, demand: Demand) -> Route:
        """One-way to an outside address: every link out of the ingress switch must have room."""
        attach = demand.src.attach
        assert attach is not None
        links = [link for _, link in self.topology.view().adjacency.get(attach.dpid, ())]
        free = self.free_on(demand.owner, demand.window)
        for link in links:
            if free(link) < demand.bandwidth.out:
                raise self._rejection(demand, Direction.OUT, link, demand.bandwidth.out)
        return Route((Hop(attach.dpid, attach.port, None),), tuple(links))

    def _rejection(
        self, demand: Demand, direction: Direction, link: LinkId, amount: int
    ) -> Conflict:
        return self.refusal(demand.owner, demand.window, direction.value, link, amount)

    def refusal(
        self, owner: str, window: Window, direction: str, link: LinkId, amount: int
    ) -> Conflict:
        """A 409 that names the link, when it is busiest, and what was free then."""
        room = self.room(owner, link, window)
        if room.fenced:
            code, why = "fence", f"the tenant's fence on {_describe(link)}"
            peak = self.ledger.tenant_peak(link, owner, window)
        else:
            code, why = "no_capacity", _describe(link)
            peak = self.ledger.peak(link, window)
        available = max(room.free, 0)
        message = (
            f"{direction} direction: {why} has {format_bitrate(available)}bit/s free "
            f"from {format_time(peak.start)} to {format_time(peak.end)}, "
            f"{format_bitrate(amount)}bit/s requested"
        )
        return Conflict(
            message,
            code=code,
            details={
                "direction": direction,
                "link": {"src": link.src.as_json(), "dst": link.dst.as_json()},
                "interval": [format_time(peak.start), format_time(peak.end)],
                "requested_bps": amount,
                "available_bps": available,
            },
        )

    def _keep_or_find_routes(
        self, reservation: BandwidthReservation, bandwidth: Bandwidth, window: Window
    ) -> dict[Direction, Route]:
        """The current paths if they still fit (no needless moves), else new ones."""
        self._check_access(_demand_of(reservation, bandwidth, window))
        up = self.topology.view().up
        free = self.free_on(reservation.owner, window)
        keep = bool(reservation.routes) and all(
            link in up and free(link) >= bandwidth.of(direction)
            for direction, route in reservation.routes.items()
            for link in route.links
        )
        if keep:
            return reservation.routes
        return self._admit(_demand_of(reservation, bandwidth, window))

    def readmit(self, now: float, reservation: Reservation) -> Reservation:
        """Admit a live reservation again for the rest of its window: moved, or degraded."""
        remaining = reservation.window.clipped_from(now)
        if remaining is None:
            return reservation
        self.ledger.release(reservation.id)
        try:
            moved = self._routed_again(reservation, remaining)
        except Conflict as rejection:
            if reservation.state is State.DEGRADED:
                return reservation
            degraded = replace(
                _without_paths(reservation), state=State.DEGRADED, reason=rejection.message
            )
            LOG.warning("reservation %s degraded: %s", reservation.id, rejection.message)
            self.put(degraded)
            return degraded
        moved = replace(moved, reason=None, state=State.PENDING)
        moved = replace(moved, state=moved.state_at(now))
        self.book(now, moved, window=remaining)
        self.put(moved)
        LOG.info("reservation %s admitted on a new path", reservation.id)
        return moved

    def _routed_again(self, reservation: Reservation, window: Window) -> Reservation:
        """``reservation`` on paths found anew for ``window`` (Conflict if none fits)."""
        routing: dict[type[Reservation], Callable[[Any, Window], Reservation]] = {
            BandwidthReservation: self._bandwidth_routed_again,
            MirrorReservation: self._mirror_routed_again,
            SteeringReservation: self._steering_routed_again,
            PassthruReservation: lambda passthru, _: passthru,  # follows its host; no path
            StitchReservation: self._stitch_routed_again,
        }
        return routing[type(reservation)](reservation, window)

    def _bandwidth_routed_again(
        self, reservation: BandwidthReservation, window: Window
    ) -> Reservation:
        routes = self._admit(_demand_of(reservation, reservation.bandwidth, window))
        return replace(reservation, routes=routes)

    def _stitch_routed_again(self, stitch: StitchReservation, window: Window) -> Reservation:
        demand = Demand(
            stitch.owner,
            Kind.BANDWIDTH,
            stitch.src,
            stitch.dst,
            stitch.bandwidth,
            window,
            PathMode.SHORTEST,
        )
        return replace(stitch, routes=self._admit(demand))

    def _mirror_routed_again(self, mirror: MirrorReservation, window: Window) -> Reservation:
        route = self.copy_route(
            mirror.owner, window, mirror.switch, mirror.output.port, mirror.bandwidth or 0
        )
        return replace(mirror, route=route)

    def _steering_routed_again(self, steering: SteeringReservation, window: Window) -> Reservation:
        return replace(steering, legs=route_chain(self, steering, window))

    def copy_route(
        self, owner: str, window: Window, source: int, collector: PortRef, amount: int
    ) -> Route:
        """The path a mirror's copy takes from switch ``source`` to the collector's port.

        With ``amount`` (bit/s) every link, and the collector's own port, must
        have that much free over ``window``; with 0 any up path will do.
        """
        free = self.free_on(owner, window)
        if amount and free(to_host(collector)) < amount:
            raise self.refusal(owner, window, "copy", to_host(collector), amount)
        if source == collector.dpid:
            return Route((Hop(source, 0, collector.port),), ())
        view = self.topology.view()
        path = constrained_path(
            view.adjacency,
            source,
            collector.dpid,
            lambda link: not amount or free(link) >= amount,
            hops_to_target=view.hops_to(collector.dpid)
            if collector.dpid in view.adjacency
            else None,
        )
        if path is not None:
            return Route(hops_along(PortRef(source, 0), collector, path), tuple(path))
        unconstrained = constrained_path(view.adjacency, source, collector.dpid, lambda _: True)
        if unconstrained is None:
            raise Conflict(
                f"no path for the copy from switch {source:016x} to the collector {collector}: "
                "the network does not connect them",
                code="no_path",
                details={"direction": "copy", "requested_bps": amount},
            )
        raise self.refusal(owner, window, "copy", min(unconstrained, key=free), amount)

    def book(self, now: float, reservation: Reservation, window: Window | None = None) -> None:
        """Book what ``reservation`` claims (over ``window``, default its own); raise alarms."""
        bookings = self._bookings(reservation, window)
        added: defaultdict[LinkId, int] = defaultdict(int)
        for booking in bookings:
            added[booking.link] += booking.amount
        view = self.topology.view()
        thresholds = {link: self.policy.alarm_level(view.capacity_of(link)) for link in added}
        # Only a link whose bookings could reach its alarm level with these is read twice.
        watched = {
            link: self.ledger.peak_amount(link, booking.window)
            for booking in bookings
            if self.ledger.could_reach(link := booking.link, thresholds[link] - added[link])
        }
        self.ledger.book(bookings)
        for booking in bookings:
            if booking.link not in watched:
                continue
            threshold, was = thresholds[booking.link], watched[booking.link]
            if was < threshold <= self.ledger.peak_amount(booking.link, booking.window):
                peak = self.ledger.peak(booking.link, booking.window)
                alarm = Alarm(
                    now, booking.link, reservation.id, peak.start, peak.end, peak.amount, threshold
                )
                self.alarms.append(alarm)
                LOG.warning(
                    "%s is %sbit/s booked from %s to %s, past its alarm threshold of %sbit/s "
                    "(reservation %s)",
                    _describe(booking.link),
                    format_bitrate(peak.amount),
                    format_time(peak.start),
                    format_time(peak.end),
                    format_bitrate(threshold),
                    reservation.id,
                )

    @staticmethod
    def _bookings(reservation: Reservation, window: Window | None = None) -> list[Booking]:
        """The reservation's claims: the links it holds capacity on, at its rate."""
        return [
            Booking(
                reservation.id,
                reservation.owner,
                link,
                window or reservation.window,
                reservation.rate(direction),
            )
            for direction, link in reservation.bookings()
            if reservation.rate(direction) > 0
        ]

    def put(self, reservation: Reservation) -> None:
        """Record a new version of a reservation (what it books is the caller's to change)."""
        before = self.reservations.get(reservation.id)
        self.reservations[reservation.id] = reservation
        self.version += 1
        self._journal.append(reservation.id)
        if not reservation.state.final and (before is None or before.window != reservation.window):
            heapq.heappush(self._edges, (reservation.window.start, reservation.id))
            heapq.heappush(self._edges, (reservation.window.end, reservation.id))

    def add(self, reservation: Reservation) -> None:
        """Record a newly admitted (or restored) reservation."""
        self.put(reservation)
        if isinstance(reservation, BandwidthReservation):
            for key in _keys_of(reservation):
                self._by_traffic[key].add(reservation.id)
        elif isinstance(reservation, SteeringReservation):
            self._chains.add(reservation.id)

    def remove(self, reservation_id: str) -> None:
        """Drop a reservation from the records (its bookings are the caller's to release)."""
        reservation = self.reservations.pop(reservation_id, None)
        self.version += 1
        self._journal.append(reservation_id)
        self._chains.discard(reservation_id)
        if isinstance(reservation, BandwidthReservation):
            for key in _keys_of(reservation):
                self._by_traffic[key].discard(reservation_id)
                if not self._by_traffic[key]:
                    del self._by_traffic[key]

    def _refuse_duplicate(
        self, owner: str, keys: list[TrafficKey], window: Window, itself: str | None = None
    ) -> None:
        """409 ``duplicate`` when a live reservation, of any owner, carries some of the same
        traffic in the same direction over an overlapping window.

        Both would be the same flow entries on the switches: only one could be
        enforced, so the second is refused rather than admitted and not
        carried. Another owner's reservation is not named.
        """
        for other_id in sorted({rid for key in keys for rid in self._by_traffic.get(key, ())}):
            other = self.reservations[other_id]
            if other_id == itself or other.state.final or not other.window.overlaps(window):
                continue
            raise clash(
                other,
                owner,
                "reservation",
                "already carries some of the same traffic, in the same direction, over an "
                "overlapping window",
                "duplicate",
            )

    def _refuse_steered(self, owner: str, traffic: list[Traffic], window: Window) -> None:
        """409 ``overlap`` when a live steering chain over an overlapping window would take some
        of this traffic off its path and meter (``traffic.steals``)."""
        for chain_id in sorted(self._chains):
            chain = self.reservations[chain_id]
            assert isinstance(chain, SteeringReservation)
            if chain.state.final or not chain.window.overlaps(window):
                continue
            if not steals(steering_traffic(chain), traffic):
                continue
            raise clash(
                chain,
                owner,
                "steering reservation",
                "selects some of the same traffic over an overlapping window and would take it "
                "off this reservation's path and meter (a chain composes with a reservation only "
                "on exactly the same traffic)",
                "overlap",
            )


TrafficKey = tuple[str, str, Match]


def _keys_of(reservation: BandwidthReservation) -> list[TrafficKey]:
    return _traffic_keys(reservation.kind, reservation.src, reservation.dst, reservation.match)


def _traffic_keys(kind: Kind, src: Endpoint, dst: Endpoint, match: Match) -> list[TrafficKey]:
    """The directed traffic a reservation's flows match: sender, receiver and match.

    A bandwidth reservation carries both directions, a one-way reservation
    only its own; two reservations that share a key would install the same
    entries. Ports without a protocol are TCP and UDP traffic alike, so such
    a reservation is filed under both.
    """
    matches = by_protocol(match)
    keys = [(src.identity, dst.identity, m) for m in matches]
    if kind is Kind.BANDWIDTH:
        keys += [(dst.identity, src.identity, m.reversed()) for m in matches]
    return keys


def _demand_of(reservation: BandwidthReservation, bandwidth: Bandwidth, window: Window) -> Demand:
    return Demand(
        reservation.owner,
        reservation.kind,
        reservation.src,
        reservation.dst,
        bandwidth,
        window,
        reservation.path_mode,
    )


def _without_paths(reservation: Reservation) -> Reservation:
    """``reservation`` holding no path (degraded: nothing is enforced or booked for it)."""
    if isinstance(reservation, MirrorReservation):
        return replace(reservation, route=None)
    if isinstance(reservation, SteeringReservation):
        return replace(reservation, legs={})
    if isinstance(reservation, StitchReservation):
        return replace(reservation, routes={})
    assert isinstance(reservation, BandwidthReservation)
    return replace(reservation, routes={})


def _unenforceable(dpid: int, reason: str, direction: Direction) -> Conflict:
    return Conflict(
        f"{direction.value} direction: switch {dpid:016x} cannot enforce a reserved rate "
        f"({reason})",
        code="unenforceable",
        details={"direction": direction.value, "switch": f"{dpid:016x}"},
    )


def _describe(link: LinkId) -> str:
    if link.dst == HOST_SIDE:
        return f"the port {link.src} down to its host"
    if link.src == HOST_SIDE:
        return f"the port {link.dst} up from its host"
    return f"link {link}"


def _canonical_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None
