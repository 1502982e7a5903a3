"""Times at the boundary: RFC 3339 or Unix seconds in, RFC 3339 UTC out."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from tegu_ryu.errors import clipped


def parse_time(value: object) -> float:
    """Unix seconds from a number, a numeric string, or an RFC 3339 timestamp with offset.

    Raises ValueError with a message fit for an API error; never returns a
    time that is not finite (NaN, infinity, or a number too big for a float).
    """
    if isinstance(value, bool):
        raise ValueError("expected an RFC 3339 time or Unix seconds")
    if isinstance(value, int | float):
        return finite_seconds(value)
    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 time or Unix seconds")
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return finite_seconds(number)
    shown = repr(clipped(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{shown} is not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z)") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{shown} has no time zone; add Z or an offset such as +01:00")
    try:
        return parsed.timestamp()
    except OverflowError as exc:
        raise ValueError(f"{shown} is out of range") from exc


def finite_seconds(value: int | float) -> float:
    """``value`` as float seconds; ValueError if it is NaN, infinite or too big for a float."""
    try:
        seconds = float(value)
    except OverflowError as exc:
        raise ValueError("is too large a number of seconds") from exc
    if not math.isfinite(seconds):
        raise ValueError("must be a finite number of seconds")
    return seconds


def format_time(instant: float) -> str:
    """RFC 3339 in UTC with a Z, to the second unless there are fractions."""
    moment = datetime.fromtimestamp(instant, tz=UTC)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")
