"""Time windows: half-open intervals [start, end) in Unix seconds.

Half-open is what makes back-to-back reservations work: one that ends at 10:00
and one that starts at 10:00 never overlap, so both can have the whole link.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True, slots=True)
class Window:
    """[start, end) in Unix seconds; never empty."""

    start: float
    end: float

    def __post_init__(self) -> None:
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
