"""``reserve`` to a host in a peer domain through Tegu's ``/tegu/api``: ``h1,siteB/h3``.

In Tegu's host syntax ``project/host`` names a project; where ``project`` is
a peer domain this controller stitches to, the reservation is stitched
instead (project names and domain names should not be the same).
"""

from __future__ import annotations

from typing import Any

from tegu_ryu.compat.pledges import tegu_state
from tegu_ryu.reservations.model import StitchReservation, StitchRole
from tegu_ryu.timefmt import format_time


def stitch_pledge(reservation: StitchReservation, now: float, enforcement: str) -> dict[str, Any]:
    """A stitched reservation as a Tegu bandwidth pledge, with its label and the peer's id."""
    word, remaining = tegu_state(reservation, now)
    local = reservation.local.name or reservation.local.given
    remote = reservation.remote.given
    origin = reservation.role is StitchRole.ORIGIN
    return {
        "state": word,
        "time": remaining,
        "id": reservation.id,
        "qid": reservation.id,
        "ptype": 0,
        "dscp": 0,
        "protocol": "",
        "enforcement": enforcement,
        "bandwin": reservation.bandwidth.in_,
        "bandwout": reservation.bandwidth.out,
        "host1": local if origin else remote,
        "host2": remote if origin else local,
        "start": format_time(reservation.window.start),
        "end": format_time(reservation.window.end),
        "label": reservation.label,
        "peer_id": reservation.peer_id,
    }
