"""The booking calendar: how much of each directed link is promised, when.

Each link's bookings are a step function of time: sorted breakpoints and the
level (bit/s booked) from each breakpoint to the next. Booking an interval
splits at most two steps and adds to the steps in between; the peak over a
window is two binary searches and a max over the steps the window touches.
That is the fastest there is while a calendar is a few hundred steps, which
is what lets path search consult it for every link it considers.

A link that thousands of reservations cross at the same time (a burst of
"now, for an hour") would make every booking and check touch every step.
Past ``FLAT`` steps a calendar is therefore cut into blocks of ``BLOCK``, each
with an amount pending for all of its steps and its highest level: booking
then adds to the steps of the two end blocks and to the pending amount of the
blocks between, and the peak reads the end blocks' steps and the others'
highest levels, so both grow with the square root of the steps, not with
their number. (Tegu's time slices missed bookings strictly inside the
requested window; here every step the window touches is read.)

Tenants' bookings are kept the same way, per link, for fences, but only for
tenants a fence has been asked about: until then a booking costs one
calendar, not two (a burst of reservations books 14 link-directions each),
and the first question about a tenant builds its calendars in one sweep.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from tegu_ryu.reservations.window import Window
from tegu_ryu.topology.refs import LinkId

KeyT = TypeVar("KeyT")
FLAT = 512  # steps a calendar keeps in one plain block before it is cut into blocks
BLOCK = 64  # steps per block after that: a block splits above twice this, joins below half


@dataclass(frozen=True, slots=True)
class Peak:
    """The most booked on a link over a window, and the first interval where it occurs."""

    amount: int
    start: float
    end: float


class _Block:
    """Consecutive steps; every level in it is ``levels[i] + pending``."""

    __slots__ = ("levels", "pending", "times", "top")

    def __init__(self, times: list[float], levels: list[int], pending: int) -> None:
        self.times = times
        self.levels = levels
        self.pending = pending
        self.top = max(levels)  # the highest of ``levels``, without ``pending``


class StepFunction:
    """Booked bit/s over time, starting at 0 from the beginning of time."""

    def __init__(self, block: int = BLOCK, flat: int = FLAT) -> None:
        self._size = block
        self._flat = flat
        self._blocks = [_Block([-math.inf], [0], 0)]
        self._firsts: list[float] = [-math.inf]  # each block's first breakpoint, for bisect
        self._ceiling = 0  # no level is higher; exact after a recount, else grown by each add

    @classmethod
    def of(
        cls, intervals: Iterable[tuple[Window, int]], block: int = BLOCK, flat: int = FLAT
    ) -> StepFunction:
        """The function of many bookings at once: one sort and one sweep instead of an ``add``
        each (a restart books every stored reservation: hundreds of thousands of them)."""
        changes: defaultdict[float, int] = defaultdict(int)
        for window, amount in intervals:
            changes[window.start] += amount
            changes[window.end] -= amount
        function = cls(block, flat)
        times, levels = function._blocks[0].times, function._blocks[0].levels
        level = 0
        for instant in sorted(changes):
            if changes[instant]:
                level += changes[instant]
                times.append(instant)
                levels.append(level)
        if len(times) > flat:
            function._cut_into_blocks()
        function._ceiling = max(levels)
        return function

    def add(self, window: Window, amount: int) -> None:
        """Add ``amount`` (negative to remove) over ``window``."""
        if amount > 0:
            self._ceiling += amount
        if len(self._blocks) == 1:
            self._add_one_block(window, amount)
            return
        self._split(window.start)
        self._split(window.end)
        first, start = self._at(window.start)
        last, end = self._at(window.end)
        if first == last:
            self._add_inside(first, start, end, amount)
        else:
            self._add_inside(first, start, len(self._blocks[first].times), amount)
            for index in range(first + 1, last):
                self._blocks[index].pending += amount
            self._add_inside(last, 0, end, amount)
        self._merge(window.end)
        self._merge(window.start)

    def peak_amount(self, window: Window) -> int:
        """The most booked at any instant of ``window`` (the hot path of admission, inlined)."""
        blocks, start, end = self._blocks, window.start, window.end
        if len(blocks) == 1:
            block = blocks[0]
            times = block.times
            lo = bisect.bisect_right(times, start) - 1
            return max(block.levels[lo : bisect.bisect_left(times, end)]) + block.pending
        firsts = self._firsts
        first = bisect.bisect_right(firsts, start) - 1
        block = blocks[first]
        times = block.times
        lo = bisect.bisect_right(times, start) - 1
        if first + 1 == len(blocks) or end <= firsts[first + 1]:  # inside one block
            return max(block.levels[lo : bisect.bisect_left(times, end)]) + block.pending
        last = bisect.bisect_left(firsts, end, first + 1) - 1
        best = max(block.levels[lo:]) + block.pending
        for middle in blocks[first + 1 : last]:
            best = max(best, middle.top + middle.pending)
        block = blocks[last]
        return max(best, max(block.levels[: bisect.bisect_left(block.times, end)]) + block.pending)

    def could_reach(self, level: int) -> bool:
        """Whether any instant is booked ``level`` or more: the question every booking asks
        (may it raise an alarm?), answered from a bound that adding keeps, recounted only
        when the bound says yes. On links far below their alarm level it costs nothing."""
        if self._ceiling < level:
            return False
        if len(self._blocks) == 1:
            block = self._blocks[0]
            self._ceiling = max(block.levels) + block.pending
        else:
            self._ceiling = max(block.top + block.pending for block in self._blocks)
        return self._ceiling >= level

    def peak(self, window: Window) -> Peak:
        """The peak and the first step where it occurs, clipped to ``window``.

        Whole blocks whose highest level is lower are skipped, so finding
        where the peak is costs no more than finding how high it is.
        """
        amount = self.peak_amount(window)
        first, start = self._at(window.start)
        last, end = self._before(window.end)
        blocks = self._blocks
        for index in range(first, last + 1):
            block = blocks[index]
            lo = start if index == first else 0
            hi = end + 1 if index == last else len(block.times)
            if len(blocks) > 1 and block.top + block.pending < amount:
                continue  # ``top`` is kept whenever there are several blocks
            segment = block.levels[lo:hi]
            if amount - block.pending not in segment:
                continue
            position = lo + segment.index(amount - block.pending)
            if position + 1 < len(block.times):
                ends = block.times[position + 1]
            else:
                ends = blocks[index + 1].times[0] if index + 1 < len(blocks) else window.end
            return Peak(
                amount=amount,
                start=max(block.times[position], window.start),
                end=min(ends, window.end),
            )
        raise AssertionError("the peak is the level of some step")  # pragma: no cover

    def steps(self, window: Window) -> list[tuple[float, float, int]]:
        """(start, end, level) for every step that ``window`` touches, clipped to it."""
        first, start = self._at(window.start)
        last, end = self._before(window.end)
        steps = list(self._walk(first, start, last, end))
        bounds = [*(breakpoint for breakpoint, _ in steps[1:]), window.end]
        starts = [window.start, *bounds[:-1]]
        return [
            (begins, ends, level)
            for begins, ends, (_, level) in zip(starts, bounds, steps, strict=True)
        ]

    @property
    def empty(self) -> bool:
        block = self._blocks[0]
        return (
            len(self._blocks) == 1
            and len(block.times) == 1
            and block.levels[0] + block.pending == 0
        )

    def _add_one_block(self, window: Window, amount: int) -> None:
        """``add`` while everything is one block: plain list work, as fast as it gets.

        ``top`` is not kept up to date here: it only matters once there are
        several blocks, and cutting the block into several sets it for each.
        """
        block = self._blocks[0]
        times, levels = block.times, block.levels
        first = bisect.bisect_left(times, window.start)
        if first == len(times) or times[first] != window.start:
            times.insert(first, window.start)
            levels.insert(first, levels[first - 1])
        last = bisect.bisect_left(times, window.end, first)
        if last == len(times) or times[last] != window.end:
            times.insert(last, window.end)
            levels.insert(last, levels[last - 1])
        levels[first:last] = [level + amount for level in levels[first:last]]
        for index in (last, first):  # the later first, so that ``first`` stays valid
            if index < len(times) and levels[index] == levels[index - 1]:
                del times[index]
                del levels[index]
        if len(times) > self._flat:
            self._cut_into_blocks()

    def _cut_into_blocks(self) -> None:
        """Leave the one-block form: blocks of ``BLOCK`` steps, each knowing its highest level."""
        (block,) = self._blocks
        size = self._size
        self._blocks = [
            _Block(block.times[at : at + size], block.levels[at : at + size], block.pending)
            for at in range(0, len(block.times), size)
        ]
        self._firsts = [chunk.times[0] for chunk in self._blocks]

    def _walk(self, first: int, start: int, last: int, end: int) -> Iterator[tuple[float, int]]:
        """(breakpoint, level) of the steps from one position to another, both included."""
        for index in range(first, last + 1):
            block = self._blocks[index]
            lo = start if index == first else 0
            hi = end + 1 if index == last else len(block.times)
            for position in range(lo, hi):
                yield block.times[position], block.levels[position] + block.pending

    def _at(self, instant: float) -> tuple[int, int]:
        """Block and position of the step that holds ``instant``."""
        index = bisect.bisect_right(self._firsts, instant) - 1
        return index, bisect.bisect_right(self._blocks[index].times, instant) - 1

    def _before(self, instant: float) -> tuple[int, int]:
        """Block and position of the step that holds the moment just before ``instant``."""
        index = bisect.bisect_left(self._firsts, instant) - 1
        return index, bisect.bisect_left(self._blocks[index].times, instant) - 1

    def _split(self, instant: float) -> None:
        """Make ``instant`` a breakpoint (the level does not change there)."""
        index, position = self._at(instant)
        block = self._blocks[index]
        if block.times[position] == instant:
            return
        block.times.insert(position + 1, instant)
        block.levels.insert(position + 1, block.levels[position])
        if len(block.times) > 2 * self._size:
            self._split_block(index)

    def _split_block(self, index: int) -> None:
        """Cut a block grown too long in two."""
        block = self._blocks[index]
        half = len(block.times) // 2
        upper = _Block(block.times[half:], block.levels[half:], block.pending)
        block.times, block.levels = block.times[:half], block.levels[:half]
        block.top = max(block.levels)
        self._blocks.insert(index + 1, upper)
        self._firsts.insert(index + 1, upper.times[0])

    def _add_inside(self, index: int, start: int, end: int, amount: int) -> None:
        """Add to the steps ``start`` to ``end`` (exclusive) of one block."""
        block = self._blocks[index]
        if start == 0 and end == len(block.times):
            block.pending += amount
        elif start < end:
            raised = [level + amount for level in block.levels[start:end]]
            block.levels[start:end] = raised
            block.top = max(block.top, *raised) if amount > 0 else max(block.levels)

    def _merge(self, instant: float) -> None:
        """Drop the breakpoint at ``instant`` if the level does not change there."""
        index, position = self._at(instant)
        block = self._blocks[index]
        if block.times[position] != instant or (index == 0 and position == 0):
            return
        if position > 0:
            before = block.levels[position - 1] + block.pending
        else:
            previous = self._blocks[index - 1]
            before = previous.levels[-1] + previous.pending
        if block.levels[position] + block.pending != before:
            return
        del block.times[position]
        dropped = block.levels.pop(position)
        if not block.times:
            del self._blocks[index]
            del self._firsts[index]
            return
        if position == 0 and dropped == block.top:  # else its equal predecessor is still here
            block.top = max(block.levels)
        self._firsts[index] = block.times[0]
        if len(block.times) < self._size // 2 and index > 0:
            self._join(index)

    def _join(self, index: int) -> None:
        """Fold a block that merges have shrunk into the one before it."""
        block, previous = self._blocks[index], self._blocks[index - 1]
        shift = block.pending - previous.pending
        previous.times.extend(block.times)
        previous.levels.extend(level + shift for level in block.levels)
        previous.top = max(previous.levels)
        del self._blocks[index]
        del self._firsts[index]
        if len(previous.times) > 2 * self._size:
            self._split_block(index - 1)


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

    def __init__(self, block: int = BLOCK, flat: int = FLAT) -> None:
        def function() -> StepFunction:
            return StepFunction(block, flat)

        self._shape = (block, flat)
        self._links: defaultdict[LinkId, StepFunction] = defaultdict(function)
        self._tenants: defaultdict[tuple[LinkId, str], StepFunction] = defaultdict(function)
        self._tracked: set[str] = set()  # tenants whose calendars are kept (fences asked about)
        self._by_reservation: dict[str, list[Booking]] = {}

    def load(self, bookings: Iterable[Booking]) -> None:
        """Book many at once into an empty ledger (a restart's stored reservations)."""
        assert not self._by_reservation, "load() fills an empty ledger; book() adds to one"
        by_link: defaultdict[LinkId, list[tuple[Window, int]]] = defaultdict(list)
        for booking in bookings:
            by_link[booking.link].append((booking.window, booking.amount))
            self._by_reservation.setdefault(booking.reservation, []).append(booking)
        block, flat = self._shape
        for link, intervals in by_link.items():
            self._links[link] = StepFunction.of(intervals, block, flat)

    def book(self, bookings: Iterable[Booking]) -> None:
        tracked = self._tracked
        for booking in bookings:
            self._links[booking.link].add(booking.window, booking.amount)
            if booking.tenant in tracked:
                self._tenants[(booking.link, booking.tenant)].add(booking.window, booking.amount)
            self._by_reservation.setdefault(booking.reservation, []).append(booking)

    def release(self, reservation: str) -> list[Booking]:
        """Remove every booking of ``reservation``; returns them (to re-book on rollback)."""
        bookings = self._by_reservation.pop(reservation, [])
        for booking in bookings:
            self._remove(self._links, booking.link, booking.window, booking.amount)
            if booking.tenant in self._tracked:
                self._remove(
                    self._tenants, (booking.link, booking.tenant), booking.window, booking.amount
                )
        return bookings

    @property
    def empty(self) -> bool:
        return not self._by_reservation

    def bookings(self, reservation: str) -> list[Booking]:
        return list(self._by_reservation.get(reservation, []))

    def peak(self, link: LinkId, window: Window) -> Peak:
        function = self._links.get(link)
        return function.peak(window) if function else Peak(0, window.start, window.end)

    def peak_amount(self, link: LinkId, window: Window) -> int:
        function = self._links.get(link)
        return function.peak_amount(window) if function else 0

    def tenant_peak_amount(self, link: LinkId, tenant: str, window: Window) -> int:
        self._track(tenant)
        function = self._tenants.get((link, tenant))
        return function.peak_amount(window) if function else 0

    def tenant_peak(self, link: LinkId, tenant: str, window: Window) -> Peak:
        self._track(tenant)
        function = self._tenants.get((link, tenant))
        return function.peak(window) if function else Peak(0, window.start, window.end)

    def steps(self, link: LinkId, window: Window) -> list[tuple[float, float, int]]:
        function = self._links.get(link)
        return function.steps(window) if function else [(window.start, window.end, 0)]

    def could_reach(self, link: LinkId, level: int) -> bool:
        """Whether ``link`` is booked ``level`` or more at any instant (cheap when it is not)."""
        function = self._links.get(link)
        return function.could_reach(level) if function else level <= 0

    def booked_links(self) -> list[LinkId]:
        return sorted(self._links)

    def _track(self, tenant: str) -> None:
        """Keep ``tenant``'s calendars from now on, built from its bookings so far."""
        if tenant in self._tracked:
            return
        by_link: defaultdict[LinkId, list[tuple[Window, int]]] = defaultdict(list)
        for bookings in self._by_reservation.values():
            for booking in bookings:
                if booking.tenant == tenant:
                    by_link[booking.link].append((booking.window, booking.amount))
        block, flat = self._shape
        for link, intervals in by_link.items():
            function = StepFunction.of(intervals, block, flat)
            if not function.empty:
                self._tenants[(link, tenant)] = function
        self._tracked.add(tenant)

    @staticmethod
    def _remove(
        functions: defaultdict[KeyT, StepFunction], key: KeyT, window: Window, amount: int
    ) -> None:
        function = functions[key]
        function.add(window, -amount)
        if function.empty:
            del functions[key]
