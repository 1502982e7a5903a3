"""Lifecycle: reservations move through their states with time, and follow the network.

Admission (the engine) decides once whether a reservation fits; from then on
time and the topology move it: ``pending`` becomes ``active`` at its start
and ``expired`` at its end (its bookings released), an ended reservation is
forgotten after the retention period, a reservation whose path lost a link
is admitted again for the rest of its window (moved, or ``degraded`` when
nothing fits, and retried on every topology change), and a host that moved
takes its reservations with it. Pure: ``now`` is passed in.
"""

from __future__ import annotations

from dataclasses import replace

from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.model import (
    BandwidthReservation,
    Endpoint,
    Middlebox,
    PassthruReservation,
    Reservation,
    State,
    SteeringReservation,
    StitchReservation,
)
from tegu_ryu.topology.refs import PortRef

LAPSED = "the hold lapsed before both sides committed"


class Lifecycle:
    """Moves the engine's reservations on with time and topology."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._checked_version = -1  # the topology version paths were last checked against

    def tick(self, now: float, check_paths: bool = True) -> tuple[list[Reservation], list[str]]:
        """Advance states to ``now``; returns (changed reservations, ids forgotten).

        ``check_paths`` is False while the topology is still being discovered,
        so that links not yet seen again are not mistaken for broken ones.
        """
        engine = self.engine
        changed: dict[str, Reservation] = {}
        forgotten = []
        for reservation in list(engine.reservations.values()):
            if reservation.state.final:
                owed = isinstance(reservation, StitchReservation) and reservation.peer_pending
                if (
                    reservation.ended is not None
                    and now - reservation.ended > engine.retention
                    and not owed  # kept until the peer has heard its cancel
                ):
                    engine.remove(reservation.id)
                    forgotten.append(reservation.id)
                continue
            state = reservation.state_at(now)
            if state is not reservation.state:
                updated = replace(reservation, state=state)
                if state is State.EXPIRED:
                    engine.ledger.release(reservation.id)
                    updated = replace(updated, ended=min(reservation.window.end, now))
                    if isinstance(updated, StitchReservation) and reservation.state is State.HELD:
                        updated = _lapsed(updated)
                engine.put(updated)
                changed[reservation.id] = updated
        topology = engine.topology
        if check_paths and topology.version != self._checked_version:
            self._checked_version = topology.version
            for reservation in self._rerouted(now):
                changed[reservation.id] = reservation
        return list(changed.values()), forgotten

    def refresh(self, now: float, given: str) -> list[Reservation]:
        """Follow a host that moved: re-resolve it in its live reservations and re-admit them.

        Each is moved onto a path from where the host is now, or degraded if
        none fits; returns the reservations that changed.
        """
        engine = self.engine
        host = engine.resolve(given, "host", external_ok=False)
        changed = []
        for reservation in list(engine.reservations.values()):
            if reservation.state.final:
                continue
            moved = _followed(reservation, host)
            if moved is reservation:
                continue  # mirrors name switch ports, which do not move with a host
            engine.put(moved)
            changed.append(engine.readmit(now, moved))
        return changed

    def _rerouted(self, now: float) -> list[Reservation]:
        """Reservations whose path lost a link, moved or degraded; degraded ones retried."""
        view = self.engine.topology.view()
        up, blocked = view.up, view.blocked
        changed = []
        for reservation in list(self.engine.reservations.values()):
            if reservation.state.final:
                continue
            broken = any(link not in up for link in reservation.path_links()) or any(
                dpid in blocked for dpid in reservation.switches()
            )
            if broken or reservation.state is State.DEGRADED:
                after = self.engine.readmit(now, reservation)
                if after is not reservation:
                    changed.append(after)
        return changed


def _followed(reservation: Reservation, host: Endpoint) -> Reservation:
    """``reservation`` with ``host`` where it is now: the same object when it does not name it."""
    if isinstance(reservation, BandwidthReservation):
        if host.identity not in (reservation.src.identity, reservation.dst.identity):
            return reservation
        return replace(
            reservation, src=_follow(reservation.src, host), dst=_follow(reservation.dst, host)
        )
    if isinstance(reservation, PassthruReservation):
        if host.identity != reservation.host.identity:
            return reservation
        return replace(reservation, host=_follow(reservation.host, host))
    if isinstance(reservation, StitchReservation):
        if host.identity != reservation.local.identity:
            return reservation
        return replace(reservation, local=_follow(reservation.local, host))
    if isinstance(reservation, SteeringReservation) and host.attach is not None:
        ends = [end for end in (reservation.src, reservation.dst) if end is not None]
        boxes = [_box_follow(box, host.mac, host.attach) for box in reservation.chain]
        named = host.identity in {e.identity for e in ends} or boxes != list(reservation.chain)
        if not named and len(ends) == 2:
            return reservation  # an "any" end takes in every host: one that moved too
        return replace(
            reservation,
            src=None if reservation.src is None else _follow(reservation.src, host),
            dst=None if reservation.dst is None else _follow(reservation.dst, host),
            chain=tuple(boxes),
        )
    return reservation


def _lapsed(segment: StitchReservation) -> StitchReservation:
    """A stitched hold that lapsed uncommitted; the peer, which may have committed its side
    (this controller died between the peer's commit and its own), is owed a cancel."""
    pending = "cancel" if segment.peer_id is not None else None
    return replace(segment, reason=LAPSED, peer_pending=pending)


def _box_follow(box: Middlebox, mac: str | None, attach: PortRef) -> Middlebox:
    """A middlebox whose host moved, at its new port (ports named by DPID:PORT stay)."""
    return replace(
        box,
        in_port=attach if mac is not None and box.in_mac == mac else box.in_port,
        out_port=attach if mac is not None and box.out_mac == mac else box.out_port,
    )


def _follow(endpoint: Endpoint, host: Endpoint) -> Endpoint:
    return replace(endpoint, attach=host.attach) if endpoint.identity == host.identity else endpoint
