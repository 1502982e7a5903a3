"""A refusal because of another live reservation, named only to its own owner."""

from __future__ import annotations

from tegu_ryu.errors import Conflict
from tegu_ryu.reservations.model import Reservation


def clash(other: Reservation, owner: str, what: str, why: str, code: str) -> Conflict:
    """409 ``code``: "``what`` ``other.id`` ``why``" with the id in ``details.reservation``
    when ``owner`` owns it too; "a ``what`` of another owner ``why``" otherwise, since
    another tenant's reservation is not named."""
    if other.owner == owner:
        return Conflict(f"{what} {other.id} {why}", code=code, details={"reservation": other.id})
    return Conflict(f"a {what} of another owner {why}", code=code, details={})
