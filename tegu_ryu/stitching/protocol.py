"""The two-phase protocol's local steps: hold, commit, abort and change a segment. Pure.

Each domain holds its own segment (admitted and booked like any bandwidth
reservation, plus a label on the stitch point) in state ``held``; a hold
commits only while it has not lapsed, and lapses by itself at ``hold_until``
(the lifecycle's tick expires it, releasing what it booked). Aborting and
committing twice are harmless, so a peer can retry either after a timeout
without knowing whether the first attempt arrived. A change of end or
bandwidth is two-phase the same way (``hold_change``, ``settle_change``): the
participant's commit or lapse decides it, once. The HTTP between domains
is not here: ``coordinator.py`` calls these under the controller's lock and
talks to the peer outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tegu_ryu.errors import Conflict, NotFound
from tegu_ryu.reservations.engine import Demand, Engine
from tegu_ryu.reservations.lifecycle import LAPSED
from tegu_ryu.reservations.model import (
    Bandwidth,
    Direction,
    HeldChange,
    Kind,
    RemoteEnd,
    Route,
    State,
    StitchReservation,
    StitchRole,
)
from tegu_ryu.reservations.paths import PathMode
from tegu_ryu.reservations.refusals import clash
from tegu_ryu.reservations.window import Window
from tegu_ryu.stitching.labels import free_label
from tegu_ryu.stitching.points import StitchPoint, StitchSettings
from tegu_ryu.timefmt import format_time
from tegu_ryu.topology.refs import LinkId, from_host, to_host
from tegu_ryu.units import format_bitrate


@dataclass(frozen=True)
class SegmentRequest:
    """What this domain is asked to hold: its segment of a stitched reservation.

    ``host`` is the local end; ``remote`` the far one. The origin picks the
    label (``label`` None: the lowest free one); a peer is told which.
    """

    role: StitchRole
    host: str
    remote: RemoteEnd
    bandwidth: Bandwidth
    window: Window
    name: str | None = None
    label: int | None = None
    point: str | None = None
    peer_id: str | None = None
    avoid: frozenset[int] = frozenset()  # labels not to take (the peer said they are busy)


def hold(
    engine: Engine, settings: StitchSettings, now: float, owner: str, request: SegmentRequest
) -> StitchReservation:
    """Admit and book the segment, held until ``now + hold_timeout``; or raise why not."""
    point = stitch_point(settings, request.remote.domain, request.point)
    field = "src" if request.role is StitchRole.ORIGIN else "host"
    local = engine.resolve(request.host, field, external_ok=False)
    candidate = StitchReservation(
        id="",
        owner=owner,
        window=request.window,
        created=now,
        state=State.HELD,
        name=request.name,
        role=request.role,
        local=local,
        remote=request.remote,
        point=point.name,
        port=point.port,
        handoff=point.handoff.kind,
        label=0,
        bandwidth=request.bandwidth,
        peer_id=request.peer_id,
        hold_until=now + settings.hold_timeout,
    )
    _refuse_duplicate(engine, candidate)
    label = _label(
        engine, point, candidate, request.window, wanted=request.label, avoid=request.avoid
    )
    routes = _segment_routes(engine, point, candidate, request.bandwidth, request.window)
    return engine.admitted(now, replace(candidate, label=label, routes=routes))


def _refuse_duplicate(engine: Engine, candidate: StitchReservation) -> None:
    """409 ``duplicate`` for a live segment between the same two hosts over an overlapping
    window: both would be the same entries where the local host's traffic enters, and only
    one could be carried (another owner's is not named)."""
    for other in engine.reservations.values():
        if (
            isinstance(other, StitchReservation)
            and other.id != candidate.id
            and not other.state.final
            and other.local.identity == candidate.local.identity
            and _same_host(other.remote, candidate.remote)
            and other.window.overlaps(candidate.window)
        ):
            raise clash(
                other,
                candidate.owner,
                "stitched reservation",
                f"already joins {candidate.local.given} and {candidate.remote.given} over an "
                "overlapping window",
                "duplicate",
            )


def _same_host(one: RemoteEnd, other: RemoteEnd) -> bool:
    """Whether two far ends are one host: the same domain, and the same name, MAC or address."""
    if one.domain != other.domain:
        return False
    return one.host == other.host or any(
        a is not None and a == b for a, b in ((one.mac, other.mac), (one.ip, other.ip))
    )


def commit(engine: Engine, now: float, reservation_id: str) -> StitchReservation:
    """The held segment committed (a committed one is returned as it is); 409 ``hold_expired``
    if the hold lapsed, ``ended`` if it was aborted or cancelled."""
    segment = stitch_of(engine, reservation_id)
    if segment.hold_until is None and not segment.state.final:
        return segment
    if segment.state.final:
        code = "hold_expired" if segment.hold_until is not None else "ended"
        raise Conflict(
            f"stitched reservation {segment.id} is {segment.state.value}; nothing to commit",
            code=code,
        )
    if segment.state_at(now) is State.EXPIRED:
        expire_hold(engine, now, segment)
        raise Conflict(
            f"the hold of stitched reservation {segment.id} lapsed at "
            f"{format_time(segment.hold_until or now)}, before the commit",
            code="hold_expired",
        )
    degraded = segment.state is State.DEGRADED  # its path broke during the hold: it stays so
    committed = replace(
        segment, hold_until=None, state=State.DEGRADED if degraded else State.PENDING
    )
    committed = replace(committed, state=committed.state_at(now))
    engine.put(committed)
    return committed


def abort(engine: Engine, now: float, reservation_id: str, reason: str) -> StitchReservation:
    """The segment ended (held or committed), its bookings and label released; an ended one
    is returned as it is, so that a retried abort or cancel does no harm."""
    segment = stitch_of(engine, reservation_id)
    if segment.state.final:
        return segment
    engine.ledger.release(segment.id)
    aborted = replace(
        segment, state=State.CANCELLED, ended=now, reason=reason, hold_until=None, change=None
    )
    engine.put(aborted)
    return aborted


def expire_hold(engine: Engine, now: float, segment: StitchReservation) -> StitchReservation:
    """A hold that lapsed: expired, its bookings released."""
    engine.ledger.release(segment.id)
    expired = replace(
        segment,
        state=State.EXPIRED,
        ended=now,
        reason=LAPSED,
    )
    engine.put(expired)
    return expired


def modify(
    engine: Engine,
    settings: StitchSettings,
    now: float,
    reservation_id: str,
    change: tuple[float | None, Bandwidth | None],
) -> StitchReservation:
    """A new ``(end, bandwidth)`` (None: unchanged) for the segment, admitted without
    counting itself; the label must stay free over the new window (it cannot change: the
    far side uses it)."""
    end, bandwidth = change
    segment = stitch_of(engine, reservation_id)
    window = engine.changed_window(segment, end)
    rate = bandwidth or segment.bandwidth
    point = stitch_point(settings, segment.remote.domain, segment.point)

    def find() -> dict[Direction, Route]:
        _label(engine, point, segment, window, wanted=segment.label)
        return _segment_routes(engine, point, segment, rate, window)

    routes = engine.without_itself(segment.id, find)
    changed = replace(segment, window=window, bandwidth=rate, routes=routes, reason=None)
    return engine.rebooked(now, changed)


def hold_change(
    engine: Engine,
    settings: StitchSettings,
    now: float,
    reservation_id: str,
    change: tuple[float | None, Bandwidth | None],
    *,
    token: str,
    hold_until: float | None,
) -> StitchReservation:
    """Hold a change of end and/or bandwidth: the segment books the larger of its terms
    before and after until ``settle_change`` picks one. A change already held is 409
    ``change_pending`` (one at a time: the two sides' changes cannot cross), unless it is
    this one asked again (the coordinator did not hear the answer)."""
    segment = stitch_of(engine, reservation_id)
    if segment.change is not None and not segment.state.final:
        if segment.change.token == token:
            return segment
        raise Conflict(
            f"stitched reservation {segment.id} has a change in progress; try again",
            code="change_pending",
        )
    end, bandwidth = change
    new_end = engine.changed_window(segment, end).end
    rate = bandwidth or segment.bandwidth
    was = segment.bandwidth
    widest = Bandwidth(max(rate.out, was.out), max(rate.in_, was.in_))
    both = modify(engine, settings, now, reservation_id, (max(new_end, segment.window.end), widest))
    held = replace(
        both,
        change=HeldChange(token, new_end, rate, segment.window.end, was, hold_until),
    )
    engine.put(held)
    return held


def settle_change(
    engine: Engine, now: float, reservation_id: str, token: str, *, commit: bool
) -> StitchReservation:
    """The held change ``token`` committed (its terms) or not (the terms before); the same
    paths and label, booked again for the chosen terms, which lie within what the hold
    booked, so this cannot be refused. Anything else (settled already, ended) is returned
    as it is."""
    segment = stitch_of(engine, reservation_id)
    change = segment.change
    if segment.state.final or change is None or change.token != token:
        return segment
    end, rate = (change.end, change.bandwidth) if commit else (change.was_end, change.was_bandwidth)
    settled = replace(
        segment,
        window=Window(segment.window.start, end),
        bandwidth=rate,
        change=None,
        settled=token if commit else segment.settled,
    )
    engine.ledger.release(segment.id)
    if settled.state_at(now) is State.EXPIRED:  # the terms before ended while it was held
        ended = replace(settled, state=State.EXPIRED, ended=min(end, now))
        engine.put(ended)
        return ended
    return engine.rebooked(now, settled)


def commit_change(engine: Engine, now: float, reservation_id: str, token: str) -> StitchReservation:
    """The participant's commit of the held change ``token``: the segment with it (also when
    it was committed already); 409 ``change_lapsed`` if it lapsed or was never held here."""
    segment = stitch_of(engine, reservation_id)
    if segment.settled == token:
        return segment
    if segment.state.final:
        raise Conflict(f"stitched reservation {segment.id} is {segment.state.value}", code="ended")
    change = segment.change
    if change is None or change.token != token:
        raise Conflict(
            f"stitched reservation {segment.id} holds no change {token}", code="change_lapsed"
        )
    if change.hold_until is not None and now >= change.hold_until:
        settle_change(engine, now, reservation_id, token, commit=False)
        raise Conflict(
            f"the change of stitched reservation {segment.id} lapsed at "
            f"{format_time(change.hold_until)}, before the commit",
            code="change_lapsed",
        )
    return settle_change(engine, now, reservation_id, token, commit=True)


def lapsed_changes(engine: Engine, now: float, peer: str) -> list[str]:
    """Segments stitched to ``peer`` holding a change for it whose hold has lapsed."""
    return [
        r.id
        for r in engine.reservations.values()
        if isinstance(r, StitchReservation)
        and r.remote.domain == peer
        and not r.state.final
        and r.change is not None
        and r.change.hold_until is not None
        and now >= r.change.hold_until
    ]


def stitch_of(engine: Engine, reservation_id: str) -> StitchReservation:
    segment = engine.reservations.get(reservation_id)
    if not isinstance(segment, StitchReservation):
        raise NotFound(f"no stitched reservation {reservation_id}")
    return segment


def stitch_point(settings: StitchSettings, domain: str, name: str | None = None) -> StitchPoint:
    """The stitch point toward ``domain``; 404 ``unknown_domain`` when there is none."""
    point = settings.point_toward(domain, name)
    if point is None:
        which = f"stitch point {name!r}" if name else "stitch point"
        raise NotFound(
            f"no {which} toward domain {domain!r} is configured here",
            code="unknown_domain",
            details={"domain": domain},
        )
    return point


def labels_taken(
    engine: Engine, point: str, besides: str | None = None
) -> list[tuple[int, Window]]:
    """The labels live stitched reservations hold on ``point`` (but ``besides``), and when."""
    return [
        (r.label, r.window)
        for r in engine.reservations.values()
        if isinstance(r, StitchReservation)
        and r.point == point
        and r.id != besides
        and not r.state.final
    ]


def _label(
    engine: Engine,
    point: StitchPoint,
    segment: StitchReservation,
    window: Window,
    *,
    wanted: int | None,
    avoid: frozenset[int] = frozenset(),
) -> int:
    taken = labels_taken(engine, point.name, besides=segment.id or None)
    taken += [(label, window) for label in avoid]
    label = free_label(point.handoff.labels, taken, window, wanted)
    if label is None:
        labels = point.handoff.labels
        what = f"label {wanted}" if wanted is not None else "no label"
        raise Conflict(
            f"stitch point {point.name}: {what} of {labels.start}-{labels.stop - 1} is free "
            f"from {format_time(window.start)} to {format_time(window.end)}",
            code="no_label",
            details={"point": point.name, "label": wanted},
        )
    return label


def _segment_routes(
    engine: Engine,
    point: StitchPoint,
    segment: StitchReservation,
    bandwidth: Bandwidth,
    window: Window,
) -> dict[Direction, Route]:
    """The local paths for the segment, within the stitch point's capacity (both ways)."""
    out, back = to_host(point.port), from_host(point.port)
    leaving, arriving = (
        (bandwidth.out, bandwidth.in_)
        if segment.role is StitchRole.ORIGIN
        else (bandwidth.in_, bandwidth.out)
    )
    for link, amount in ((out, leaving), (back, arriving)):
        _within_capacity(engine, point, link, amount, window)
    ends = (segment.src, segment.dst)
    demand = Demand(segment.owner, Kind.BANDWIDTH, *ends, bandwidth, window, PathMode.SHORTEST)
    return engine.routes_for(demand)


def _within_capacity(
    engine: Engine, point: StitchPoint, link: LinkId, amount: int, window: Window
) -> None:
    if not amount:
        return
    peak = engine.ledger.peak(link, window)
    free = point.capacity_bps - peak.amount
    if free < amount:
        way = "toward" if link.dst.dpid == 0 else "from"
        raise Conflict(
            f"stitch point {point.name} {way} {point.peer} has {format_bitrate(max(free, 0))}bit/s "
            f"free from {format_time(peak.start)} to {format_time(peak.end)}, "
            f"{format_bitrate(amount)}bit/s requested",
            code="no_capacity",
            details={
                "point": point.name,
                "interval": [format_time(peak.start), format_time(peak.end)],
                "requested_bps": amount,
                "available_bps": max(free, 0),
            },
        )


def held_for(engine: Engine, peer: str, origin_id: str | None) -> StitchReservation | None:
    """The live segment already held for ``peer``'s reservation ``origin_id``, if any: a hold
    the origin asks for again (it did not hear the answer) is answered, not booked twice."""
    if origin_id is None:
        return None
    for reservation in engine.reservations.values():
        if (
            isinstance(reservation, StitchReservation)
            and not reservation.state.final
            and reservation.remote.domain == peer
            and reservation.peer_id == origin_id
        ):
            return reservation
    return None
