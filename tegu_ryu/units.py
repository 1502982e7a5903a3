"""Bit-rate strings as operators write them ("50M", "1.5G", "10Gi") to integer bit/s.

One parser serves the static topology file, the configuration and the v1 API so
that "50M" means the same thing everywhere: SI prefixes are powers of ten, IEC
prefixes (Ki, Mi, Gi, Ti) are powers of two, and a bare number is bit/s.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from tegu_ryu.errors import clipped

_MULTIPLIERS = {
    "": 1,
    "K": 10**3,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}

MAX_BITRATE = 4 * 10**12  # 4 Tbit/s: an OpenFlow meter band counts kbit/s in 32 bits
_RATE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<prefix>[KkMGT]i?|)(?:bps|bit/s|b/s)?\s*$")


class UnitError(ValueError):
    """A bit-rate that cannot be understood; the message says what was expected."""


def parse_bitrate(value: str | int) -> int:
    """Return the bit/s that ``value`` denotes; raise UnitError when it is not a rate.

    Integers pass through (they are already bit/s). Fractions of a bit are
    rounded down, since a switch cannot meter them anyway.
    """
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise UnitError(f"{clipped(repr(value))} is not a bit-rate")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"bit-rate {clipped(repr(value))} is negative")
        return _bounded(value)
    match = _RATE.match(value) if len(value) <= 64 else None
    if match is None:
        raise UnitError(
            f"{clipped(repr(value))} is not a bit-rate: expected a number with an optional "
            "K/M/G/T (powers of 10) or Ki/Mi/Gi/Ti (powers of 2) prefix, e.g. '50M'"
        )
    try:
        number = Decimal(match["number"])
    except InvalidOperation as exc:
        raise UnitError(f"{clipped(repr(value))} is not a bit-rate") from exc
    return _bounded(int(number * _MULTIPLIERS[match["prefix"]]))


def _bounded(bps: int) -> int:
    if bps > MAX_BITRATE:
        raise UnitError(f"{format_bitrate(bps)}bit/s is more than the largest rate, 4Tbit/s")
    return bps


def format_bitrate(bps: int) -> str:
    """Render bit/s compactly for logs and messages ("50M", "1.5G", "1200")."""
    for prefix, factor in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if bps >= factor:
            text = f"{Decimal(bps) / factor:f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return f"{text}{prefix}"
    return str(bps)
