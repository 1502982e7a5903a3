"""Time windows: half-open intervals [start, end) in Unix seconds.

Half-open is what makes back-to-back reservations work: one that ends at 10:00
and one that starts at 10:00 never overlap, so both can have the whole link.

Every window a client asks for, through any API, goes through
``requested_window``: finite, in the future, at most ``MAX_AHEAD`` away, and
kept to the microsecond. A window with no finite end would hold its bandwidth
forever and could not even be written back as a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_AHEAD = 100 * 365 * 86400  # a relative bound, so no date is ever a time bomb
MAX_AHEAD_TEXT = "100 years"


@dataclass(frozen=True, order=True, slots=True)
class Window:
    """[start, end) in Unix seconds; finite and never empty."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError(f"window [{self.start}, {self.end}) is not finite")
        if not self.end > self.start:
            raise ValueError(f"window end {self.end} is not after its start {self.start}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, instant: float) -> bool:
        return self.start <= instant < self.end

    def clipped_from(self, instant: float) -> Window | None:
        """The part of the window from ``instant`` on, or None if nothing is left."""
        start = max(self.start, instant)
        return Window(start, self.end) if start < self.end else None


class WindowError(ValueError):
    """A requested window that cannot be booked; ``field`` is start, end or duration."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def requested_window(
    start: float | None, end: float | None, duration: float | None, now: float
) -> Window:
    """The window asked for at ``now``: a start in the past (or none) means now.

    Exactly one of ``end`` and ``duration`` is given. Raises WindowError naming
    the field at fault, so that each API can word it its own way.
    """
    if start is not None and not math.isfinite(start):
        raise WindowError("start", "is not a finite time")
    begin = now if start is None else max(start, now)
    if begin > now + MAX_AHEAD:
        raise WindowError("start", f"is more than {MAX_AHEAD_TEXT} ahead")
    if duration is not None:
        if not math.isfinite(duration) or duration <= 0:
            raise WindowError("duration", "expected a positive, finite number of seconds")
        if duration > MAX_AHEAD:
            raise WindowError("duration", f"is longer than {MAX_AHEAD_TEXT}")
        finish = begin + duration
        field = "duration"
    else:
        assert end is not None, "give end or duration"
        if not math.isfinite(end):
            raise WindowError("end", "is not a finite time")
        if end <= now:
            raise WindowError("end", "the window is in the past")
        if end <= begin:
            raise WindowError("end", "must be after start")
        finish, field = end, "end"
    if finish > now + MAX_AHEAD:
        raise WindowError(field, f"the window ends more than {MAX_AHEAD_TEXT} ahead")
    first, last = to_microsecond(begin), to_microsecond(finish)
    if last <= first:
        raise WindowError(field, "the window is shorter than a microsecond")
    return Window(first, last)


def requested_end(end: float, now: float) -> float:
    """A new end for a live reservation (an extension or a shortening)."""
    if not math.isfinite(end):
        raise WindowError("end", "is not a finite time")
    if end <= now:
        raise WindowError("end", "is not in the future; cancel the reservation to end it now")
    if end > now + MAX_AHEAD:
        raise WindowError("end", f"is more than {MAX_AHEAD_TEXT} ahead")
    return to_microsecond(end)


def to_microsecond(instant: float) -> float:
    """Times are kept to the microsecond, the precision the API writes them with.

    Otherwise a window that starts at another's end, as the API printed it,
    could overlap it by a fraction of a microsecond. Rounding down, so that a
    reservation starting "now" has started: the float division can land a hair
    above ``instant`` (for about one instant in 170), which would leave such a
    reservation pending until the next tick.
    """
    micros = math.floor(instant * 1_000_000)
    if micros / 1_000_000 > instant:
        micros -= 1
    return micros / 1_000_000
