"""The reservation service: the engine, its store and who may do what, behind one lock.

Each operation validates, changes the engine, and commits to the store
before returning, so an answer the API gives is already durable. If the
store fails, the change is undone in memory and the error propagates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tegu_ryu.errors import Forbidden, InvalidField, NotFound, RequestError, StorageUnavailable
from tegu_ryu.reservations.batching import BatchedAdmissions
from tegu_ryu.reservations.engine import Alarm, Engine
from tegu_ryu.reservations.kinds import KINDS
from tegu_ryu.reservations.ledger import Peak
from tegu_ryu.reservations.lifecycle import Lifecycle
from tegu_ryu.reservations.mirror_admission import (
    MirrorSettings,
    admit_mirror,
    modify_mirror,
    reserved_vlan_words,
)
from tegu_ryu.reservations.mirror_requests import MirrorRequest, parse_mirror
from tegu_ryu.reservations.model import (
    BandwidthReservation,
    Direction,
    Kind,
    MirrorReservation,
    PassthruReservation,
    Reservation,
    Route,
    State,
    SteeringReservation,
)
from tegu_ryu.reservations.passthru_admission import admit_passthru, modify_passthru
from tegu_ryu.reservations.passthru_requests import PassthruRequest, parse_passthru
from tegu_ryu.reservations.policy import Discount, Fence, Policy
from tegu_ryu.reservations.requests import (
    ReservationRequest,
    parse_modification,
    parse_reservation,
)
from tegu_ryu.reservations.steering_admission import admit_steering, modify_steering
from tegu_ryu.reservations.steering_requests import SteeringRequest, parse_steering
from tegu_ryu.reservations.store import DamagedRecord, ReservationStore
from tegu_ryu.reservations.window import (
    MAX_AHEAD,
    MAX_AHEAD_TEXT,
    Window,
    WindowError,
    requested_window,
)
from tegu_ryu.tenancy import Principal
from tegu_ryu.timefmt import parse_time
from tegu_ryu.topology.model import Link, Topology
from tegu_ryu.topology.refs import LinkId, RefError, parse_port_ref

LOG = logging.getLogger(__name__)
ReplyT = TypeVar("ReplyT")
KindT = TypeVar("KindT", bound=Reservation)


@dataclass(frozen=True)
class LinkSchedule:
    """A link's bookings over a window: the data for a timeline view."""

    link: Link
    usable_bps: int
    window: Window
    steps: list[tuple[float, float, int]]
    reservations: list[tuple[Reservation, Direction]]


@dataclass(frozen=True)
class Availability:
    src: str
    dst: str
    window: Window
    directions: Mapping[Direction, tuple[int, Route | None]]


class ReservationService:
    def __init__(
        self,
        topology: Topology,
        store: ReservationStore,
        lock: threading.RLock,
        policy: Policy,
        retention: float,
        *,
        mirrors: MirrorSettings | None = None,
        reset_dscp: bool = False,
    ) -> None:
        self.lock = lock
        self.store = store
        self.mirrors = mirrors or MirrorSettings()
        self.reset_dscp = reset_dscp
        stored = store.load()
        self.engine = Engine(topology, stored.policy or policy, retention=retention)
        self.engine.fences.update(stored.fences)
        self.engine.restore(stored.reservations)
        self.lifecycle = Lifecycle(self.engine)
        self.damaged = {record.id: record for record in stored.damaged}
        self._admissions = BatchedAdmissions(lock, store.save_reservations, self.engine.forget)
        self._unsaved: set[str] = set()  # changed by ticks, not yet written (disk full, ...)
        self._unforgotten: set[str] = set()
        self.paused = stored.paused
        self.on_change: Callable[[], None] = lambda: None  # switches must follow; set by the app
        # (kind, outcome: "accepted" or the refusal's code, seconds): counted for /metrics
        self.on_admission: Callable[[str, str, float], None] = lambda kind, outcome, took: None

    # --------------------------------------------------------------- tenants

    def create(
        self,
        principal: Principal,
        body: Any,
        now: float,
        reply: Callable[[Reservation], ReplyT],
    ) -> ReplyT:
        """A reservation of any kind from a v1 JSON body; returns ``reply`` of it.

        The body's ``type`` picks the kind's parser and admission; bandwidth
        (and one-way) is the default, as it was before there were kinds.
        """
        kinds: dict[str, Callable[[], ReplyT]] = {
            "mirror": lambda: self.admit_mirror(
                principal, parse_mirror(body, now, self.mirrors.min_duration), now, reply
            ),
            "steering": lambda: self.admit_steering(
                principal, parse_steering(body, now), now, reply
            ),
            "passthru": lambda: self.admit_passthru(
                principal, parse_passthru(body, now), now, reply
            ),
        }
        kind = body.get("type") if isinstance(body, dict) else None
        if isinstance(kind, str) and kind in kinds:
            return kinds[kind]()
        return self.admit(principal, parse_reservation(body, now), now, reply)

    def admit_mirror(
        self,
        principal: Principal,
        request: MirrorRequest,
        now: float,
        reply: Callable[[MirrorReservation], ReplyT],
    ) -> ReplyT:
        """A mirror from an already validated request (v1 body or Tegu's mirror API)."""
        return self._admitted(
            "mirror",
            lambda: admit_mirror(self.engine, now, principal, request, self.mirrors),
            reply,
        )

    def admit_steering(
        self,
        principal: Principal,
        request: SteeringRequest,
        now: float,
        reply: Callable[[SteeringReservation], ReplyT],
    ) -> ReplyT:
        """A steering chain from an already validated request (v1 body or Tegu's ``steer``)."""
        if request.match.vlan in self.mirrors.tags:
            raise InvalidField("vlan", reserved_vlan_words(self.mirrors.tags))
        return self._admitted(
            "steering", lambda: admit_steering(self.engine, now, principal, request), reply
        )

    def admit_passthru(
        self,
        principal: Principal,
        request: PassthruRequest,
        now: float,
        reply: Callable[[PassthruReservation], ReplyT],
    ) -> ReplyT:
        """A passthru from an already validated request (v1 body or Tegu's ``passthru``)."""
        return self._admitted(
            "passthru",
            lambda: admit_passthru(self.engine, now, principal, request, self.reset_dscp),
            reply,
        )

    def admit(
        self,
        principal: Principal,
        request: ReservationRequest,
        now: float,
        reply: Callable[[BandwidthReservation], ReplyT],
    ) -> ReplyT:
        """A reservation from an already validated request (v1 body or Tegu command).

        The reply is built before the reservation is committed: a reservation
        the client was never told about must not be stored, holding bandwidth.
        """
        if request.match.vlan in self.mirrors.tags:
            raise InvalidField("vlan", reserved_vlan_words(self.mirrors.tags))
        return self._admitted(
            request.kind.value, lambda: self.engine.create(now, principal.tenant, request), reply
        )

    def _admitted(
        self, kind: str, admission: Callable[[], KindT], reply: Callable[[KindT], ReplyT]
    ) -> ReplyT:
        """Run ``admission`` under the lock, build the reply, then commit (or undo it all)."""
        began = time.perf_counter()
        try:
            answer = self._admissions.admit(admission, reply)
        except RequestError as refused:
            self.on_admission(kind, refused.code, time.perf_counter() - began)
            raise
        self.on_admission(kind, "accepted", time.perf_counter() - began)
        self.on_change()
        return answer

    def visible(
        self,
        principal: Principal,
        state: str | None = None,
        kind: str | None = None,
        owner: str | None = None,
    ) -> list[Reservation]:
        """What ``principal`` may see, filtered; only admins may ask about other owners."""
        if state is not None and state not in {s.value for s in State}:
            raise InvalidField("state", f"expected one of {', '.join(s.value for s in State)}")
        if kind is not None and kind not in KINDS:
            raise InvalidField("type", f"expected one of {', '.join(KINDS)}")
        if owner is not None and not principal.admin and owner != principal.tenant:
            raise Forbidden("only admins may list other tenants' reservations")
        with self.lock:
            found = [
                r
                for r in self.engine.reservations.values()
                if (principal.admin or r.owner == principal.tenant)
                and (owner is None or r.owner == owner)
                and (state is None or r.state.value == state)
                and (kind is None or r.type == kind)
            ]
        return sorted(found, key=lambda r: (r.created, r.id))

    def get(self, principal: Principal, reservation_id: str) -> Reservation:
        """A reservation ``principal`` may see; another tenant's is as unknown as a missing one."""
        with self.lock:
            reservation = self.engine.reservations.get(reservation_id)
            damaged = self.damaged.get(reservation_id)
        if reservation is None and damaged is not None and principal.admin:
            raise NotFound(
                f"reservation {reservation_id} is damaged in the database and was not loaded "
                f"({damaged.problem}); DELETE it to remove the record",
                code="damaged",
            )
        if reservation is None or not (principal.admin or reservation.owner == principal.tenant):
            raise NotFound(f"no reservation {reservation_id}")
        return reservation

    def damaged_records(self, principal: Principal) -> list[DamagedRecord]:
        """Stored reservations that could not be read back (admins only; none for tenants)."""
        with self.lock:
            return sorted(self.damaged.values(), key=lambda d: d.id) if principal.admin else []

    def forget_damaged(self, principal: Principal, reservation_id: str) -> bool:
        """Remove a damaged record from the database (admins); False if there is no such record."""
        with self.lock:
            if not principal.admin or reservation_id not in self.damaged:
                return False
            self.store.forget_reservations([reservation_id])
            del self.damaged[reservation_id]
        LOG.warning("damaged reservation record %s removed by %s", reservation_id, principal.tenant)
        return True

    def cancel(self, principal: Principal, reservation_id: str, now: float) -> Reservation:
        with self.lock:
            before = self.get(principal, reservation_id)
            cancelled = self.engine.cancel(now, reservation_id)
            self._commit_or_restore(before, cancelled)
        self.on_change()
        return cancelled

    def modify(
        self, principal: Principal, reservation_id: str, body: Any, now: float
    ) -> Reservation:
        with self.lock:
            before = self.get(principal, reservation_id)
            changed: Reservation
            if isinstance(before, MirrorReservation):
                change = parse_modification(body, now, Kind.ONEWAY)  # one rate: the copy's
                rate = None if change.bandwidth is None else change.bandwidth.out
                changed = modify_mirror(self.engine, now, before, (change.end, rate), self.mirrors)
            elif isinstance(before, PassthruReservation):
                change = parse_modification(body, now, Kind.ONEWAY)
                if change.bandwidth is not None:
                    raise InvalidField("bandwidth", "a passthru books no bandwidth")
                changed = modify_passthru(self.engine, now, before, change.end)
            elif isinstance(before, SteeringReservation):
                change = parse_modification(body, now, Kind.ONEWAY)  # one rate, every leg's
                rate = None if change.bandwidth is None else change.bandwidth.out
                changed = modify_steering(self.engine, now, before, (change.end, rate))
            else:
                assert isinstance(before, BandwidthReservation)
                change = parse_modification(body, now, before.kind)
                changed = self.engine.modify(now, reservation_id, change)
            self._commit_or_restore(before, changed)
        self.on_change()
        return changed

    def availability(
        self, principal: Principal, query: Mapping[str, str], now: float
    ) -> Availability:
        unknown = set(query) - {"src", "dst", "start", "end", "duration"}
        if unknown:
            raise InvalidField(
                sorted(unknown)[0], "unknown parameter; use src, dst, start, end or duration"
            )
        for key in ("src", "dst"):
            if not query.get(key):
                raise InvalidField(key, "is required")
        window = _query_window(query, now)
        with self.lock:
            src = self.engine.resolve(query["src"], "src", external_ok=False)
            dst = self.engine.resolve(query["dst"], "dst", external_ok=False)
            result = self.engine.availability(principal.tenant, src, dst, window)
        return Availability(query["src"], query["dst"], window, result)

    # ------------------------------------------------------------------ links

    def allotments(
        self, now: float, horizon: float = 365 * 86400
    ) -> list[tuple[Link, int, int, list[tuple[float, float, int]]]]:
        """Per link: usable bit/s, the alarm level, and the booked steps from now on (Tegu's
        ``graph`` shows them as time slices)."""
        with self.lock:
            policy = self.engine.policy
            return [
                (
                    link,
                    policy.usable(link.capacity_bps),
                    policy.alarm_level(link.capacity_bps),
                    [
                        step
                        for step in self.engine.ledger.steps(link.id, Window(now, now + horizon))
                        if step[2] > 0
                    ],
                )
                for link in self.engine.topology.links()
            ]

    def links(self, now: float, horizon: float = 86400) -> list[tuple[Link, int, Peak, Peak]]:
        """(link, usable bit/s, booked now, peak over the next ``horizon`` seconds)."""
        with self.lock:
            result = []
            for link in self.engine.topology.links():
                current = self.engine.ledger.peak(link.id, Window(now, now + 1e-3))
                ahead = self.engine.ledger.peak(link.id, Window(now, now + horizon))
                result.append((link, self.engine.policy.usable(link.capacity_bps), current, ahead))
            return result

    def schedule(self, src: str, dst: str, query: Mapping[str, str], now: float) -> LinkSchedule:
        try:
            link_id = LinkId(parse_port_ref(src), parse_port_ref(dst))
        except RefError as exc:
            raise NotFound(f"no link {src} -> {dst}: {exc}") from exc
        unknown = set(query) - {"from", "to"}
        if unknown:
            raise InvalidField(sorted(unknown)[0], "unknown parameter; use from and to")
        window = _schedule_window(query, now)
        with self.lock:
            link = self.engine.topology.link(link_id)
            if link is None:
                raise NotFound(f"no link {link_id}")
            booked = [
                (r, direction)
                for r in self.engine.reservations.values()
                if not r.state.final and r.window.overlaps(window)
                for direction, lk in r.booked_links()
                if lk == link_id
            ]
            return LinkSchedule(
                link=link,
                usable_bps=self.engine.policy.usable(link.capacity_bps),
                window=window,
                steps=self.engine.ledger.steps(link_id, window),
                reservations=sorted(booked, key=lambda rd: (rd[0].window.start, rd[0].id)),
            )

    # ------------------------------------------------------------------ admin

    def refresh(self, principal: Principal, host: str, now: float) -> list[Reservation]:
        """Re-admit the live reservations of a host that moved (admin)."""
        _require_admin(principal)
        try:
            with self.lock:
                changed = self.lifecycle.refresh(now, host)
                self._unsaved.update(r.id for r in changed)  # the network moved: so must they
                self._save_pending()
                if self._unsaved:
                    raise StorageUnavailable(
                        f"{len(changed)} reservations follow the host, but the reservation "
                        f"database cannot be written now ({self.store.problem}); they are "
                        "saved once it can"
                    )
        finally:
            self.on_change()  # the switches follow what is in memory either way
        return changed

    def set_discount(self, principal: Principal, discount: Discount) -> Policy:
        _require_admin(principal)
        with self.lock:
            policy = replace(self.engine.policy, discount=discount)
            self.store.save_policy(policy)
            self.engine.policy = policy
        return policy

    def set_paused(self, paused: bool) -> bool:
        """Pause (or resume) enforcement of every reservation; False if it already was so.

        Admission goes on while paused: reservations are still booked, their
        flows and meters are just not on the switches. The pause is stored,
        so a restarted controller does not quietly resume enforcing.
        """
        with self.lock:
            if self.paused == paused:
                return False
            self.store.save_paused(paused)
            self.paused = paused
        self.on_change()
        return True

    def checkpoint(self, principal: Principal, now: float) -> str:
        """Copy the database, consistently, beside it; returns where (admin)."""
        _require_admin(principal)
        with self.lock:
            return str(self.store.checkpoint(now))

    def policy(self) -> Policy:
        with self.lock:
            return self.engine.policy

    def set_policy(self, principal: Principal, body: Any) -> Policy:
        _require_admin(principal)
        with self.lock:
            policy = self.engine.policy.updated(body)
            self.store.save_policy(policy)
            self.engine.policy = policy
        self.on_change()
        return policy

    def fence(self, principal: Principal, tenant: str) -> tuple[Fence, bool]:
        """The tenant's fence, and whether it is the default one."""
        if not principal.admin and tenant != principal.tenant:
            raise Forbidden("only admins may see other tenants' fences")
        with self.lock:
            return self.engine.fence_of(tenant), tenant not in self.engine.fences

    def fences(self, principal: Principal) -> dict[str, Fence]:
        _require_admin(principal)
        with self.lock:
            return dict(self.engine.fences)

    def set_fence(self, principal: Principal, tenant: str, body: Any) -> Fence:
        _require_admin(principal)
        fence = Fence.from_json(body)
        with self.lock:
            self.store.save_fence(tenant, fence)
            self.engine.fences[tenant] = fence
            return fence

    def clear_fence(self, principal: Principal, tenant: str) -> None:
        _require_admin(principal)
        with self.lock:
            self.store.save_fence(tenant, None)
            self.engine.fences.pop(tenant, None)

    def alarms(self, principal: Principal) -> list[Alarm]:
        with self.lock:
            owners = {r.id: r.owner for r in self.engine.reservations.values()}
            return [
                a
                for a in self.engine.alarms
                if principal.admin or owners.get(a.reservation) == principal.tenant
            ]

    # -------------------------------------------------------------- lifecycle

    def tick(self, now: float, check_paths: bool) -> list[Reservation]:
        """Move reservations on in time, and save what changed if the disk lets us.

        Changes time makes (a start, an end, a path moved off a broken link)
        happen whether or not they can be saved: if the database cannot be
        written they stay in memory, are enforced, and are saved by a later
        tick. A full disk must not stop the controller or what it enforces.
        """
        with self.lock:
            changed, forgotten = self.lifecycle.tick(now, check_paths=check_paths)
            self._unsaved.update(r.id for r in changed)
            self._unsaved.difference_update(forgotten)
            self._unforgotten.update(forgotten)
            self.store.check()
            self._save_pending()
            return changed

    def _save_pending(self) -> None:
        """Save the latest version of what ticks changed (and forget what they dropped)."""
        if not (self._unsaved or self._unforgotten):
            return
        latest = [
            self.engine.reservations[i] for i in self._unsaved if i in self.engine.reservations
        ]
        try:
            if latest:
                self.store.save_reservations(latest)
            if self._unforgotten:
                self.store.forget_reservations(sorted(self._unforgotten))
        except StorageUnavailable:
            return  # logged by the store, shown in health; kept for the next tick
        self._unsaved.clear()
        self._unforgotten.clear()

    def _commit_or_restore(self, before: Reservation, after: Reservation) -> None:
        try:
            self.store.save_reservations([after])
        except Exception:
            self.engine.forget(after.id)
            self.engine.restore([before])
            raise


def _require_admin(principal: Principal) -> None:
    if not principal.admin:
        raise Forbidden("this needs the admin role")


def _query_time(query: Mapping[str, str], key: str, default: float) -> float:
    if key not in query:
        return default
    try:
        return parse_time(query[key])
    except ValueError as exc:
        raise InvalidField(key, str(exc)) from exc


def _query_window(query: Mapping[str, str], now: float) -> Window:
    """The window of an availability question, checked as a reservation's would be."""
    if "end" not in query and "duration" not in query:
        raise RequestError("give end or duration for the window to check")
    if "end" in query and "duration" in query:
        raise InvalidField("end", "give exactly one of end or duration")
    duration = None
    if "duration" in query:
        try:
            duration = float(query["duration"])  # requested_window refuses NaN and infinity
        except ValueError as exc:
            raise InvalidField("duration", "expected a positive, finite number of seconds") from exc
    start = _query_time(query, "start", now) if "start" in query else None
    end = _query_time(query, "end", now) if "end" in query else None
    try:
        return requested_window(start, end, duration, now)
    except WindowError as exc:
        raise InvalidField(exc.field, exc.message) from exc


def _schedule_window(query: Mapping[str, str], now: float) -> Window:
    """``from`` (default now) to ``to`` (default a day later), within reach of now either way."""
    start = _query_time(query, "from", now)
    end = _query_time(query, "to", start + 86400)
    for key, instant in (("from", start), ("to", end)):
        if abs(instant - now) > MAX_AHEAD:
            raise InvalidField(key, f"is more than {MAX_AHEAD_TEXT} away from now")
    if end <= start:
        raise InvalidField("to", "must be after from")
    return Window(start, end)
