"""Pages of a listing: ``limit`` items after an opaque cursor.

Reservations are listed in the order they were created (then by id), which
never changes for a reservation, so a cursor (the sort key of the last item
shown) stays valid while reservations are added, cancelled or forgotten: a
page never repeats an item or skips one that existed when the first page was
asked for.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tegu_ryu.errors import InvalidField
from tegu_ryu.reservations.model import Reservation
from tegu_ryu.timefmt import finite_seconds

# created (a float as repr writes it; its exponent too short to overflow) ~ the id's UTF-8 in hex
CURSOR = re.compile(r"-?[0-9]{1,20}(?:\.[0-9]{1,20})?(?:e[+-][0-9]{2})?~(?:[0-9a-f]{2}){0,96}")
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
    return f"{last.created!r}~{last.id.encode().hex()}"


def _decode(cursor: str) -> tuple[float, str]:
    """Any text of the cursor's form is a place in the order, whether or not it was given out:
    what the OpenAPI document's pattern allows, the server takes."""
    if CURSOR.fullmatch(cursor) is None:
        raise InvalidField("cursor", "is not a cursor this API gave out (use the last page's next)")
    created, _, rid = cursor.partition("~")
    return finite_seconds(float(created)), bytes.fromhex(rid).decode("utf-8", "surrogateescape")
