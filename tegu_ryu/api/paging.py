"""Pages of a listing: ``limit`` items after an opaque cursor.

Reservations are listed in the order they were created (then by id), which
never changes for a reservation, so a cursor (the sort key of the last item
shown) stays valid while reservations are added, cancelled or forgotten: a
page never repeats an item or skips one that existed when the first page was
asked for.
"""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tegu_ryu.errors import InvalidField
from tegu_ryu.reservations.model import Reservation
from tegu_ryu.timefmt import finite_seconds

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10000

ItemT = TypeVar("ItemT", bound=Reservation)


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None


def page_of(
    ordered: Sequence[ItemT],
    query: Mapping[str, str],
    keep: Callable[[ItemT], bool] | None = None,
) -> Page[ItemT]:
    """The page ``query`` asks for (``limit``, ``cursor``) of reservations sorted by created, id.

    ``keep`` filters what can only be known item by item (what the switches
    hold): items are tested in order only until the page is full, so asking
    for the first few is cheap however many there are. The cursor then marks
    the last item *tested*, and a following page may turn out empty.
    """
    limit = _limit(query.get("limit"))
    start = 0
    if "cursor" in query:
        keys = [(r.created, r.id) for r in ordered]
        start = bisect.bisect_right(keys, _decode(query["cursor"]))
    if keep is None:
        items = list(ordered[start : start + limit])
        more = start + limit < len(ordered)
        return Page(items, _encode(items[-1]) if more and items else None)
    items, position = [], start
    while position < len(ordered) and len(items) < limit:
        if keep(ordered[position]):
            items.append(ordered[position])
        position += 1
    more = position < len(ordered)
    return Page(items, _encode(ordered[position - 1]) if more else None)


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if len(text) > 5 or not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidField("limit", f"expected an integer from 1 to {MAX_LIMIT}")
    return int(text)


def _encode(last: Reservation) -> str:
    raw = f"{last.created!r}|{last.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[float, str]:
    problem = InvalidField("cursor", "is not a cursor this API gave out (use the last page's next)")
    if len(cursor) > 200 or not cursor.isascii():
        raise problem
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, rid = raw.partition("|")
        return finite_seconds(float(created)), rid
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise problem from exc
