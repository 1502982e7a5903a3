"""The booking calendar: how much of each directed link is promised, when.

Each link's bookings are a step function of time, kept as two parallel lists:
sorted breakpoints and the level (bit/s booked) from each breakpoint to the
next. Booking an interval splits at most two steps and adds to the steps in
between; the peak over a window is two binary searches and a max over the
steps the window touches. A capacity check costs about a microsecond plus the
number of steps in the window, which is what lets path search consult the
calendar for every link it considers. (Tegu's time slices missed bookings
strictly inside the requested window; here every step the window touches is
read.)

Tenants' bookings are kept the same way, per link, for fences.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.refs import LinkId

KeyT = TypeVar("KeyT")


@dataclass(frozen=True, slots=True)
class Peak:
    """The most booked on a link over a window, and the first interval where it occurs."""

    amount: int
    start: float
    end: float


class StepFunction:
    """Booked bit/s over time: ``levels[i]`` holds on ``[times[i], times[i+1])``."""

    def __init__(self) -> None:
        self.times: list[float] = [-math.inf]
        self.levels: list[int] = [0]

    def add(self, window: Window, amount: int) -> None:
        """Add ``amount`` (negative to remove) over ``window``."""
        first = self._split(window.start)
        last = self._split(window.end)
        self.levels[first:last] = [level + amount for level in self.levels[first:last]]
        self._merge(last)
        self._merge(first)

    def peak_amount(self, window: Window) -> int:
        """The most booked at any instant of ``window`` (the hot path of admission)."""
        first = bisect.bisect_right(self.times, window.start) - 1
        last = bisect.bisect_left(self.times, window.end)
        return max(self.levels[first:last])

    def peak(self, window: Window) -> Peak:
        """The peak and the first step where it occurs, clipped to ``window``."""
        first = bisect.bisect_right(self.times, window.start) - 1
        last = bisect.bisect_left(self.times, window.end)
        segment = self.levels[first:last]
        amount = max(segment)
        index = first + segment.index(amount)
        start = max(self.times[index], window.start)
        end = self.times[index + 1] if index + 1 < len(self.times) else window.end
        return Peak(amount=amount, start=start, end=min(end, window.end))

    def steps(self, window: Window) -> list[tuple[float, float, int]]:
        """(start, end, level) for every step that ``window`` touches, clipped to it."""
        first = bisect.bisect_right(self.times, window.start) - 1
        last = bisect.bisect_left(self.times, window.end)
        bounds = [*self.times[first + 1 : last], window.end]
        starts = [window.start, *bounds[:-1]]
        return list(zip(starts, bounds, self.levels[first:last], strict=True))

    @property
    def empty(self) -> bool:
        return len(self.times) == 1 and self.levels[0] == 0

    def _split(self, instant: float) -> int:
        """Index of the step that starts at ``instant``, creating it if needed."""
        index = bisect.bisect_left(self.times, instant)
        if index < len(self.times) and self.times[index] == instant:
            return index
        self.times.insert(index, instant)
        self.levels.insert(index, self.levels[index - 1])
        return index

    def _merge(self, index: int) -> None:
        """Drop the breakpoint at ``index`` if it no longer changes the level."""
        if 0 < index < len(self.times) and self.levels[index] == self.levels[index - 1]:
            del self.times[index]
            del self.levels[index]


@dataclass(frozen=True, slots=True)
class Booking:
    """One reservation's claim on one directed link."""

    reservation: str
    tenant: str
    link: LinkId
    window: Window
    amount: int


class Ledger:
    """Bookings per directed link (and per tenant per link), by reservation."""

    def __init__(self) -> None:
        self._links: defaultdict[LinkId, StepFunction] = defaultdict(StepFunction)
        self._tenants: defaultdict[tuple[LinkId, str], StepFunction] = defaultdict(StepFunction)
        self._by_reservation: dict[str, list[Booking]] = {}

    def book(self, bookings: Iterable[Booking]) -> None:
        for booking in bookings:
            self._links[booking.link].add(booking.window, booking.amount)
            self._tenants[(booking.link, booking.tenant)].add(booking.window, booking.amount)
            self._by_reservation.setdefault(booking.reservation, []).append(booking)

    def release(self, reservation: str) -> list[Booking]:
        """Remove every booking of ``reservation``; returns them (to re-book on rollback)."""
        bookings = self._by_reservation.pop(reservation, [])
        for booking in bookings:
            self._remove(self._links, booking.link, booking.window, booking.amount)
            self._remove(
                self._tenants, (booking.link, booking.tenant), booking.window, booking.amount
            )
        return bookings

    def bookings(self, reservation: str) -> list[Booking]:
        return list(self._by_reservation.get(reservation, []))

    def peak(self, link: LinkId, window: Window) -> Peak:
        function = self._links.get(link)
        return function.peak(window) if function else Peak(0, window.start, window.end)

    def peak_amount(self, link: LinkId, window: Window) -> int:
        function = self._links.get(link)
        return function.peak_amount(window) if function else 0

    def tenant_peak_amount(self, link: LinkId, tenant: str, window: Window) -> int:
        function = self._tenants.get((link, tenant))
        return function.peak_amount(window) if function else 0

    def tenant_peak(self, link: LinkId, tenant: str, window: Window) -> Peak:
        function = self._tenants.get((link, tenant))
        return function.peak(window) if function else Peak(0, window.start, window.end)

    def steps(self, link: LinkId, window: Window) -> list[tuple[float, float, int]]:
        function = self._links.get(link)
        return function.steps(window) if function else [(window.start, window.end, 0)]

    def booked_links(self) -> list[LinkId]:
        return sorted(self._links)

    @staticmethod
    def _remove(
        functions: defaultdict[KeyT, StepFunction], key: KeyT, window: Window, amount: int
    ) -> None:
        function = functions[key]
        function.add(window, -amount)
        if function.empty:
            del functions[key]
