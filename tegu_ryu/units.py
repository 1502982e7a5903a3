"""Bit-rate strings as operators write them ("50M", "1.5G", "10Gi") to integer bit/s.

One parser serves the static topology file, the configuration and the v1 API so
that "50M" means the same thing everywhere: SI prefixes are powers of ten, IEC
prefixes (Ki, Mi, Gi, Ti) are powers of two, and a bare number is bit/s.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext

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

EXACT_DIGITS = 100  # a rate's at most 64 characters times a 13-digit multiplier, exactly
MAX_BITRATE = 4 * 10**12  # 4 Tbit/s: an OpenFlow meter band counts kbit/s in 32 bits
_RATE = re.compile(
    r"^\s*(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<prefix>[KkMGT]i?|)(?:bps|bit/s|b/s)?\s*$"
)


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
        with localcontext(prec=EXACT_DIGITS):
            exact = Decimal(match["number"]) * _MULTIPLIERS[match["prefix"]]
    except InvalidOperation as exc:
        raise UnitError(f"{clipped(repr(value))} is not a bit-rate") from exc
    if exact > MAX_BITRATE:  # the rate as written, before any fraction is dropped
        raise UnitError(f"{clipped(repr(value))} is more than the largest rate, 4Tbit/s")
    return int(exact)


def _bounded(bps: int) -> int:
    if bps > MAX_BITRATE:
        raise UnitError(f"{format_bitrate(bps)}bit/s is more than the largest rate, 4Tbit/s")
    return bps


def rate_pattern(positive: bool) -> str:
    """The regular expression (for the OpenAPI document) of exactly the rate strings
    ``parse_bitrate`` takes: at most 4T, and when ``positive`` at least 1 bit/s."""
    numbers = []
    for prefix, factor in sorted(_MULTIPLIERS.items(), key=lambda item: item[0]):
        with localcontext(prec=EXACT_DIGITS):  # both quotients end: factors are 2^n or 10^n
            top = Decimal(MAX_BITRATE) / factor
            least = Decimal(1) / factor if positive else Decimal(0)
        numbers.append(f"(?:{_decimals_within(least, top)})\\s*{prefix}")
    return f"^\\s*(?:{'|'.join(numbers)})(?:bps|bit/s|b/s)?\\s*$"


def _decimals_within(least: Decimal, top: Decimal) -> str:
    """``[0-9]+(.[0-9]+)?`` texts from ``least`` (0, or below 1, or exactly 1) to ``top``."""
    whole, _, fraction = f"{top:f}".partition(".")
    fraction = fraction.rstrip("0")
    options = [  # integer part from 1 to top's, any fraction below top's
        f"0*{shorter}(?:\\.[0-9]+)?" for shorter in _integers_below(whole)
    ]
    options.append(f"0*{whole}(?:\\.{_fraction_at_most(fraction)})?")
    if least == 0:
        options.append("0+(?:\\.[0-9]+)?")
    elif least < 1:
        options.append(f"0+\\.{_fraction_at_least(f'{least:f}'.partition('.')[2])}")
    return "|".join(options)


def _integers_below(whole: str) -> list[str]:
    """Patterns of the integers from 1 to ``whole`` - 1 written without leading zeros."""
    found = [f"[1-9][0-9]{{{length - 1}}}" for length in range(1, len(whole))]
    for at, digit in enumerate(whole):
        low = 1 if at == 0 else 0
        if int(digit) > low:
            found.append(f"{whole[:at]}[{low}-{int(digit) - 1}][0-9]{{{len(whole) - at - 1}}}")
    return found


def _fraction_at_most(digits: str) -> str:
    """Fraction digits worth at most ``.digits``."""
    if not digits:
        return "0+"
    options = [f"{digits[:at]}[0-{int(d) - 1}][0-9]*" for at, d in enumerate(digits) if d != "0"]
    options += [digits[:at] for at in range(1, len(digits))]
    options.append(f"{digits}0*")
    return f"(?:{'|'.join(options)})"


def _fraction_at_least(digits: str) -> str:
    """Fraction digits worth at least ``.digits``."""
    options = [f"{digits[:at]}[{int(d) + 1}-9][0-9]*" for at, d in enumerate(digits) if d != "9"]
    options.append(f"{digits}[0-9]*")
    return f"(?:{'|'.join(options)})"


def format_bitrate(bps: int) -> str:
    """Render bit/s compactly for logs and messages ("50M", "1.5G", "1200")."""
    for prefix, factor in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if bps >= factor:
            text = f"{Decimal(bps) / factor:f}"
            if "." in text:
                text = text.rstrip("0").rstrip(".")
            return f"{text}{prefix}"
    return str(bps)
