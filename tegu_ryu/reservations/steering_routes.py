"""The legs of a steering chain and their paths: from the source to each middlebox in turn,
then to the destination, in each direction the chain carries.

With a bandwidth every leg is admitted like a bandwidth reservation's path,
all of them or none: each leg's fabric links, the port it enters by (up from
the source or a middlebox) and the port it is delivered by (down to a
middlebox or the destination) must have the rate free over the window. Legs
of one chain that cross the same link or port count once each (a packet that
comes back through a link crosses it twice), so each leg is searched with
what the earlier ones took. A refusal names the leg and the link.
"""

from __future__ import annotations

import itertools
from collections import Counter
from typing import TYPE_CHECKING

from tegu_ryu.errors import Conflict, InvalidField
from tegu_ryu.reservations.model import (
    Direction,
    Endpoint,
    Leg,
    Middlebox,
    Route,
    SteeringReservation,
)
from tegu_ryu.reservations.paths import Hop, constrained_path, hops_along
from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.refs import LinkId, PortRef, from_host, to_host

if TYPE_CHECKING:
    from tegu_ryu.reservations.engine import Engine


def route_chain(
    engine: Engine, steering: SteeringReservation, window: Window
) -> dict[Direction, tuple[Leg, ...]]:
    """Every leg of ``steering`` with its path over ``window`` (Conflict when one has none)."""
    router = _ChainRouter(engine, steering, window)
    directions = [Direction.OUT, Direction.IN] if steering.symmetric else [Direction.OUT]
    return {
        direction: tuple(
            router.routed(direction, leg) for leg in planned_legs(engine, steering, direction)
        )
        for direction in directions
    }


def planned_legs(engine: Engine, steering: SteeringReservation, direction: Direction) -> list[Leg]:
    """The legs of one direction, not yet routed: sources, targets and delivery MACs."""
    start, end = (
        (steering.src, steering.dst) if direction is Direction.OUT else (steering.dst, steering.src)
    )
    chain = (
        list(steering.chain)
        if direction is Direction.OUT
        else [box.turned() for box in reversed(steering.chain)]
    )
    sources = _sources(engine, start, end, steering.chain)
    unrouted = Route((), ())
    legs = [
        Leg(0, source, chain[0].in_port, _delivered(chain[0], end), unrouted) for source in sources
    ]
    for index, (before, box) in enumerate(itertools.pairwise(chain), start=1):
        legs.append(Leg(index, before.out_port, box.in_port, _delivered(box, end), unrouted))
    last = chain[-1].out_port
    target = None if end is None else end.attach
    legs.append(Leg(len(chain), last, target, None if end is None else end.mac, unrouted))
    return legs


def _sources(
    engine: Engine, start: Endpoint | None, end: Endpoint | None, chain: tuple[Middlebox, ...]
) -> list[PortRef]:
    """Where the direction's traffic enters: its source's port, or every other host's."""
    if start is not None:
        assert start.attach is not None
        return [start.attach]
    taken = {port for box in chain for port in (box.in_port, box.out_port)}
    if end is not None and end.attach is not None:
        taken.add(end.attach)
    return sorted(
        {
            host.attach
            for host in engine.topology.hosts()
            if host.attach is not None
            and host.attach not in taken
            and not engine.topology.is_link_port(host.attach)
        },
        key=lambda port: (port.dpid, port.port),
    )


def _delivered(box: Middlebox, end: Endpoint | None) -> str | None:
    """The MAC traffic is delivered to a middlebox with: its host's, else the destination's
    (a middlebox with no host of its own passes traffic on unchanged)."""
    if box.in_mac is not None:
        return box.in_mac
    if end is None or end.mac is None:
        raise InvalidField(
            "chain",
            f"{box.given} has no host of its own, so its traffic must keep the destination's "
            'MAC: it needs a destination host, not "any"',
        )
    return end.mac


class _ChainRouter:
    """Routes one chain's legs in turn, each with what the earlier ones took."""

    def __init__(self, engine: Engine, steering: SteeringReservation, window: Window) -> None:
        self.engine = engine
        self.steering = steering
        self.window = window
        self.amount = steering.bandwidth or 0
        self.free = engine.free_on(steering.owner, window)
        self.taken: Counter[LinkId] = Counter()

    def room(self, link: LinkId) -> int:
        return self.free(link) - self.taken[link]

    def routed(self, direction: Direction, leg: Leg) -> Leg:
        """``leg`` on its path: one switch, or the shortest with room (any, unbooked)."""
        amount, room = self.amount, self.room
        what = f"{direction.value} leg {leg.index} ({_port_name(self.steering, leg.source)} to " + (
            "base forwarding)"
            if leg.target is None
            else f"{_port_name(self.steering, leg.target)})"
        )
        ends = [from_host(leg.source)] + ([] if leg.target is None else [to_host(leg.target)])
        for link in ends if amount else ():
            if room(link) < amount:
                raise self.refused(what, link)
        route = self._route(direction, leg, what)
        for link in [*route.links, *ends] if amount else ():
            self.taken[link] += amount
        return Leg(leg.index, leg.source, leg.target, leg.deliver_mac, route)

    def _route(self, direction: Direction, leg: Leg, what: str) -> Route:
        amount, room = self.amount, self.room
        if leg.target is None:
            return Route((Hop(leg.source.dpid, leg.source.port, None),), ())
        if leg.source.dpid == leg.target.dpid:
            return Route((Hop(leg.source.dpid, leg.source.port, leg.target.port),), ())
        view = self.engine.topology.view()
        path = constrained_path(
            view.adjacency,
            leg.source.dpid,
            leg.target.dpid,
            lambda link: not amount or room(link) >= amount,
            hops_to_target=view.hops_to(leg.target.dpid)
            if leg.target.dpid in view.adjacency
            else None,
        )
        if path is not None:
            return Route(hops_along(leg.source, leg.target, path), tuple(path))
        unconstrained = constrained_path(
            view.adjacency, leg.source.dpid, leg.target.dpid, lambda _: True
        )
        if unconstrained is None:
            raise Conflict(
                f"no path for the {what}: the network does not connect them",
                code="no_path",
                details={"direction": direction.value, "leg": leg.index, "requested_bps": amount},
            )
        raise self.refused(what, min(unconstrained, key=room))

    def refused(self, what: str, link: LinkId) -> Conflict:
        """The engine's refusal (which link, when, what was free), saying which leg it was."""
        refusal = self.engine.refusal(self.steering.owner, self.window, what, link, self.amount)
        return Conflict(
            refusal.message.replace(f"{what} direction:", f"{what}:", 1),
            code=refusal.code,
            details=refusal.details,
        )


def _port_name(steering: SteeringReservation, port: PortRef) -> str:
    for end in (steering.src, steering.dst):
        if end is not None and end.attach == port:
            return end.name or end.given
    for box in steering.chain:
        if port in (box.in_port, box.out_port):
            return box.given
    return str(port)
