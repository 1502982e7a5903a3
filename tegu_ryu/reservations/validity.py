"""Type checks for values read back from storage, shared by the envelope and every kind."""

from __future__ import annotations

import math


def is_finite(value: object) -> bool:
    """A real number of time (not a bool, not NaN or infinite)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_count(value: object) -> bool:
    """A non-negative integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
