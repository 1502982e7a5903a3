"""What every Tegu pledge shows of its time: its state word and the seconds in ``time``."""

from __future__ import annotations

from tegu_ryu.reservations.model import Reservation, State


def tegu_state(reservation: Reservation, now: float) -> tuple[str, int]:
    """``ACTIVE`` with the seconds to its end, ``PENDING`` with the seconds to its start, else
    ``EXPIRED`` and 0. A degraded live reservation is shown by its time, never as expired
    (its reason is shown beside it)."""
    state = reservation.state_at(now)
    if state is State.DEGRADED:
        state = State.ACTIVE if now >= reservation.window.start else State.PENDING
    word = {State.ACTIVE: "ACTIVE", State.PENDING: "PENDING"}.get(state, "EXPIRED")
    remaining = reservation.window.end - now if word == "ACTIVE" else reservation.window.start - now
    return word, max(0, int(remaining))
