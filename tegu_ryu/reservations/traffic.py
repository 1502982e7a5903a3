"""Which reservations select the same packets: the rule steering and bandwidth share.

A steering chain's entries sit above every bandwidth reservation's, so a
chain that selects some of a bandwidth reservation's packets takes them off
that reservation's path and meter. Only a chain on exactly the same traffic
composes with the reservation (its first entry takes the reservation's
meter); any other overlap would leave one of the two admitted but not
carried, so the second of them is refused.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

from tegu_ryu.reservations.model import (
    BandwidthReservation,
    Endpoint,
    Kind,
    Match,
    SteeringReservation,
)

Traffic = tuple[Endpoint | None, Endpoint | None, Match]  # from, to (None: any host), match


def by_protocol(match: Match) -> list[Match]:
    """The match as flow entries select it: ports without a protocol are TCP and UDP alike,
    so such a match stands for one of each."""
    if match.protocol is None and (match.src_port, match.dst_port) != (None, None):
        return [replace(match, protocol=protocol) for protocol in ("tcp", "udp")]
    return [match]


def bandwidth_traffic(kind: Kind, src: Endpoint, dst: Endpoint, match: Match) -> list[Traffic]:
    """What each direction a bandwidth (or one-way) reservation carries selects."""
    out: Traffic = (src, dst, match)
    return [out, (dst, src, match.reversed())] if kind is Kind.BANDWIDTH else [out]


def traffic_of_bandwidth(reservation: BandwidthReservation) -> list[Traffic]:
    return bandwidth_traffic(reservation.kind, reservation.src, reservation.dst, reservation.match)


def steering_traffic(steering: SteeringReservation) -> list[Traffic]:
    """What each direction the chain carries selects: (from, to, match), None being any."""
    out = (steering.src, steering.dst, steering.match)
    if not steering.symmetric:
        return [out]
    return [out, (steering.dst, steering.src, steering.match.reversed())]


def intersect(a: Traffic, b: Traffic) -> bool:
    """True unless some field tells the two apart (any/unset tells nothing apart)."""
    for mine, theirs in zip(a[:2], b[:2], strict=True):
        if mine is not None and theirs is not None and mine.identity != theirs.identity:
            return False
    first, second = a[2], b[2]
    return all(
        x is None or y is None or x == y
        for x, y in (
            (first.protocol, second.protocol),
            (first.src_port, second.src_port),
            (first.dst_port, second.dst_port),
            (first.vlan, second.vlan),
        )
    )


def select_the_same(one: list[Traffic], other: list[Traffic]) -> bool:
    """Whether some packet is selected by both."""
    return any(intersect(a, b) for a, b in itertools.product(one, other))


def steals(chain: list[Traffic], reserved: list[Traffic]) -> bool:
    """Whether a chain would take some of a bandwidth reservation's packets without composing
    with it (composing needs exactly the same ends and match, direction by direction)."""
    for a, b in itertools.product(chain, reserved):
        if intersect(a, b) and not _exactly(a, b):
            return True
    return False


def _exactly(a: Traffic, b: Traffic) -> bool:
    ends_match = all(
        x is not None and y is not None and x.identity == y.identity
        for x, y in zip(a[:2], b[:2], strict=True)
    )
    return ends_match and a[2] == b[2]
