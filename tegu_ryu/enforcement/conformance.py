"""Is a reservation getting what it was promised? Its meter's own counters say.

Every reservation direction has a meter where its traffic enters the network
(``reservation_meter_id``). The switch counts the bytes that enter each meter
and the bytes its drop band throws away; between two readings, what entered
minus what was dropped is what the reservation carried. ``Conformance`` keeps
the last reading of every reservation meter and turns the next one into
rates over that interval, with a short history for a sparkline. Pure: the
caller passes the readings and the time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from tegu_ryu.enforcement.planner import serial_of_meter
from tegu_ryu.openflow.flows import METER_FIRST
from tegu_ryu.reservations.model import Direction

HISTORY = 60  # readings kept per reservation direction (5 minutes at the default interval)


@dataclass(frozen=True)
class MeterCount:
    """One meter's counters as a switch reported them."""

    meter_id: int
    bytes_in: int
    bytes_dropped: int


@dataclass(frozen=True)
class Measured:
    """What a reservation direction carried over the last interval, [since, until)."""

    rate_bps: int
    dropped_bps: int
    since: float
    until: float


class Conformance:
    def __init__(self, history: int = HISTORY) -> None:
        self._last: dict[tuple[int, int], tuple[float, int, int]] = {}
        self._measured: dict[tuple[int, Direction], Measured] = {}
        self._history: dict[tuple[int, Direction], deque[int]] = {}
        self._keep = history

    def counted(
        self, dpid: int, counts: list[MeterCount], now: float
    ) -> list[tuple[int, Direction, Measured]]:
        """Take one switch's reading; the (serial, direction, measured) it completes."""
        done = []
        for count in counts:
            serial = serial_of_meter(count.meter_id)
            if serial is None:
                continue  # a best-effort meter: no reservation's
            direction = Direction.OUT if (count.meter_id - METER_FIRST) % 2 == 0 else Direction.IN
            key = (dpid, count.meter_id)
            before = self._last.get(key)
            self._last[key] = (now, count.bytes_in, count.bytes_dropped)
            if before is None or now <= before[0] or count.bytes_in < before[1]:
                continue  # the first reading, or the meter was made again: counting starts over
            seconds = now - before[0]
            passed = (count.bytes_in - count.bytes_dropped) - (before[1] - before[2])
            dropped = max(0, count.bytes_dropped - before[2])
            measured = Measured(
                rate_bps=max(0, int(passed * 8 / seconds)),
                dropped_bps=int(dropped * 8 / seconds),
                since=before[0],
                until=now,
            )
            self._measured[(serial, direction)] = measured
            self._history.setdefault((serial, direction), deque(maxlen=self._keep)).append(
                measured.rate_bps
            )
            done.append((serial, direction, measured))
        return done

    def measured(self, serial: int, direction: Direction) -> Measured | None:
        return self._measured.get((serial, direction))

    def recent(self, serial: int, direction: Direction) -> list[int]:
        """The rates of the last readings, oldest first (for a sparkline)."""
        return list(self._history.get((serial, direction), ()))

    def forget(self, live: set[int]) -> None:
        """Drop what is kept for reservations no longer live (their meters are gone)."""
        self._last = {k: v for k, v in self._last.items() if serial_of_meter(k[1]) in live}
        self._measured = {k: v for k, v in self._measured.items() if k[0] in live}
        self._history = {k: v for k, v in self._history.items() if k[0] in live}
