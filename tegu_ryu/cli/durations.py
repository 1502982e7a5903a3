"""Durations and times as people type them: ``90``, ``90s``, ``30m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import re

from tegu_ryu.timefmt import parse_time

_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds in ``text``; raises ValueError with a hint."""
    compact = text.strip().lower().replace(" ", "")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration: try 90, 90s, 30m, 1h30m or 2d")
    total = sum(float(number) * _SECONDS[unit] for number, unit in parts)
    if total <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return total


def parse_when(text: str, now: float) -> float:
    """An absolute time (RFC 3339 or Unix seconds), or ``+DURATION`` from now."""
    if text.startswith("+"):
        return now + parse_duration(text[1:])
    return parse_time(text)
