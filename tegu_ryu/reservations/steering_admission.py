"""Admission of steering chains: endpoints, middleboxes, overlaps, every leg's path and bookings.

A chain names its endpoints (or "any" for one of them) and its middleboxes
(hosts, or ``{"in", "out"}`` ports; tenants name their own hosts, admins any
host or ``DPID:PORT``). Steering selects traffic by IP address, as Tegu did,
so named endpoints must have one.

**Overlap.** Two live chains over overlapping windows may not select the
same packets: a switch can send a packet to one first middlebox only. Two
chains' traffic (in either direction each carries) is disjoint when some
field tells it apart: different source hosts, different destination hosts,
different protocols, ports or VLANs, where "any" and an unset field tell
nothing apart. Otherwise the second is refused with 409 ``overlap`` naming the
first (a chain of another tenant is not named). Exact duplicates and strict
subsets (an "any" chain against one from a given host) are both overlaps.
"""

from __future__ import annotations

from dataclasses import replace

from tegu_ryu.errors import InvalidField, NotFound
from tegu_ryu.reservations.engine import Engine
from tegu_ryu.reservations.mirror_admission import resolve_port
from tegu_ryu.reservations.model import (
    BandwidthReservation,
    Endpoint,
    Middlebox,
    State,
    SteeringReservation,
    cookie_digest,
)
from tegu_ryu.reservations.refusals import clash
from tegu_ryu.reservations.steering_requests import MiddleboxRequest, SteeringRequest
from tegu_ryu.reservations.steering_routes import route_chain
from tegu_ryu.reservations.traffic import (
    select_the_same,
    steals,
    steering_traffic,
    traffic_of_bandwidth,
)
from tegu_ryu.tenancy import Principal
from tegu_ryu.topology.refs import PortRef


def admit_steering(
    engine: Engine, now: float, principal: Principal, request: SteeringRequest
) -> SteeringReservation:
    """Admit and book ``request`` for ``principal``, or raise saying why (nothing changes)."""
    src = None if request.src is None else _endpoint(engine, request.src, "src")
    dst = None if request.dst is None else _endpoint(engine, request.dst, "dst")
    if src is not None and dst is not None and src.identity == dst.identity:
        raise InvalidField("dst", "is the same host as src")
    ends = {end.attach for end in (src, dst) if end is not None}
    chain: list[Middlebox] = []
    for n, box in enumerate(request.chain):
        resolved = _middlebox(engine, principal, box, f"chain[{n}]")
        ports = {resolved.in_port, resolved.out_port}
        if ports & ends:
            raise InvalidField(f"chain[{n}]", f"{box.given} is an end of the chain")
        if any(ports & {other.in_port, other.out_port} for other in chain):
            raise InvalidField(f"chain[{n}]", f"{box.given} is already in the chain")
        chain.append(resolved)
    candidate = SteeringReservation(
        id="",
        owner=principal.tenant,
        window=request.window,
        created=now,
        state=State.PENDING,
        name=request.name,
        src=src,
        dst=dst,
        match=request.match,
        chain=tuple(chain),
        symmetric=request.symmetric,
        bandwidth=request.bandwidth,
        cookie_digest=None if request.cookie is None else cookie_digest(request.cookie),
    )
    _refuse_overlaps(engine, candidate)
    legs = route_chain(engine, candidate, request.window)
    return engine.admitted(now, replace(candidate, legs=legs))


def modify_steering(
    engine: Engine,
    now: float,
    steering: SteeringReservation,
    change: tuple[float | None, int | None],
) -> SteeringReservation:
    """A new end and/or bandwidth (``change``), admitted without counting the chain against
    itself; a longer window must still overlap no other chain."""
    end, bandwidth = change
    window = engine.changed_window(steering, end)
    if bandwidth is not None and (steering.src is None or steering.dst is None):
        raise InvalidField("bandwidth", 'cannot be booked with an "any" end')
    changed = replace(
        steering,
        window=window,
        bandwidth=bandwidth if bandwidth is not None else steering.bandwidth,
        reason=None,
    )
    _refuse_overlaps(engine, changed)
    legs = engine.without_itself(steering.id, lambda: route_chain(engine, changed, window))
    return engine.rebooked(now, replace(changed, legs=legs))


def _endpoint(engine: Engine, given: str, field: str) -> Endpoint:
    endpoint = engine.resolve(given, field, external_ok=False)
    if endpoint.ip is None:
        raise InvalidField(field, f"{given} has no IP address; steering selects traffic by address")
    return endpoint


def _middlebox(
    engine: Engine, principal: Principal, box: MiddleboxRequest, field: str
) -> Middlebox:
    arms = []
    for given in (box.in_port, box.out_port):
        try:
            port = resolve_port(engine, principal, given, field).port
        except NotFound as exc:
            raise InvalidField(field, f"{given} is neither a known host nor DPID:PORT") from exc
        if engine.topology.is_link_port(port):
            raise InvalidField(field, f"{given} is a port between switches, not a middlebox")
        arms.append((port, _mac_at(engine, port)))
    (in_port, in_mac), (out_port, out_mac) = arms
    return Middlebox(box.given, in_port, out_port, in_mac, out_mac)


def _mac_at(engine: Engine, port: PortRef) -> str | None:
    return next((h.mac for h in engine.topology.hosts() if h.attach == port), None)


def _refuse_overlaps(engine: Engine, candidate: SteeringReservation) -> None:
    """409 ``overlap`` for another live chain, or a bandwidth reservation it does not compose
    with, that selects some of the same packets over an overlapping window."""
    chain = steering_traffic(candidate)
    for other in engine.reservations.values():
        if other.id == candidate.id or other.state.final:
            continue
        if not other.window.overlaps(candidate.window):
            continue
        if isinstance(other, SteeringReservation):
            if not select_the_same(chain, steering_traffic(other)):
                continue
            what, why = "steering reservation", "a packet can be steered through one chain only"
        elif isinstance(other, BandwidthReservation):
            if not steals(chain, traffic_of_bandwidth(other)):
                continue
            what, why = "reservation", "the chain would take its packets off its path and meter"
        else:
            continue
        raise clash(
            other,
            candidate.owner,
            what,
            f"selects some of the same traffic over an overlapping window; {why}",
            "overlap",
        )
