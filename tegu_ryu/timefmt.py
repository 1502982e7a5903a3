"""Times at the boundary: RFC 3339 or Unix seconds in, RFC 3339 UTC out."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: object) -> float:
    """Unix seconds from a number, a numeric string, or an RFC 3339 timestamp with offset.

    Raises ValueError with a message fit for an API error.
    """
    if isinstance(value, bool):
        raise ValueError("expected an RFC 3339 time or Unix seconds")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected an RFC 3339 time or Unix seconds")
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z)") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; add Z or an offset such as +01:00")
    return parsed.timestamp()


def format_time(instant: float) -> str:
    """RFC 3339 in UTC with a Z, to the second unless there are fractions."""
    moment = datetime.fromtimestamp(instant, tz=UTC)
    text = moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")
    return text.replace("+00:00", "Z")
