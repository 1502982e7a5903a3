"""The v1 API's view of each reservation kind: its own fields, beside the shared envelope.

Adding a kind is a module here and a line in ``VIEWS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tegu_ryu.api.kinds import bandwidth, mirror, passthru, steering, stitch
from tegu_ryu.reservations.model import (
    BandwidthReservation,
    MirrorReservation,
    PassthruReservation,
    Reservation,
    SteeringReservation,
    StitchReservation,
)

VIEWS: dict[type[Reservation], Callable[[Any], dict[str, Any]]] = {
    BandwidthReservation: bandwidth.view,
    MirrorReservation: mirror.view,
    SteeringReservation: steering.view,
    PassthruReservation: passthru.view,
    StitchReservation: stitch.view,
}


def kind_json(reservation: Reservation) -> dict[str, Any]:
    """The fields only ``reservation``'s kind has, as the v1 API shows them."""
    return VIEWS[type(reservation)](reservation)
