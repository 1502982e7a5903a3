"""Admission policy an admin can change at run time: headroom, alarm, discount, fences."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tegu_ryu.errors import InvalidField, RequestError
from tegu_ryu.units import UnitError, format_bitrate, parse_bitrate

MIN_DISCOUNTED_BPS = 10  # as Tegu: a discount never takes a request below 10 bit/s
# A discount percentage, 0 to 100 as the OpenAPI document's pattern says (at most 64 characters).
PERCENTAGE = re.compile(r"\s*0*(?:[0-9]{1,2}(?:\.[0-9]+)?|100(?:\.0+)?)\s*%\s*")


@dataclass(frozen=True)
class Fence:
    """A tenant's cap on any one link: a percentage of its capacity, or absolute bit/s."""

    percent: float | None = None
    bps: int | None = None

    def cap(self, capacity_bps: int) -> int | None:
        """The most this tenant may hold on a link of ``capacity_bps``; None if unlimited."""
        if self.bps is not None:
            return self.bps
        if self.percent is None or self.percent >= 100:
            return None
        return int(capacity_bps * self.percent / 100)

    def as_json(self) -> dict[str, Any]:
        return {"percent": self.percent, "bps": self.bps}

    @classmethod
    def from_json(cls, body: Any) -> Fence:
        """``{"percent": 10}`` or ``{"bps": "5M"}`` (exactly one)."""
        if not isinstance(body, dict) or set(body) - {"percent", "bps"}:
            raise RequestError('a fence is {"percent": N} or {"bps": RATE}')
        percent, bps = body.get("percent"), body.get("bps")
        if (percent is None) == (bps is None):
            raise RequestError("give exactly one of percent or bps")
        if percent is not None:
            return cls(percent=_json_percent(percent, "percent"))
        try:
            return cls(bps=parse_bitrate(bps))  # type: ignore[arg-type]
        except UnitError as exc:
            raise InvalidField("bps", str(exc)) from exc


@dataclass(frozen=True)
class Discount:
    """Taken off every request before admission: a percentage or an absolute bit/s."""

    percent: float = 0.0
    bps: int = 0

    def apply(self, bps: int) -> int:
        reduced = bps - int(bps * self.percent / 100) - self.bps
        return max(reduced, min(bps, MIN_DISCOUNTED_BPS))

    def as_text(self) -> str:
        return f"{self.percent:g}%" if self.percent else format_bitrate(self.bps)

    @classmethod
    def parse(cls, value: Any) -> Discount:
        """``"10%"`` or a rate such as ``"1M"``; ``"0"`` for none."""
        if isinstance(value, str) and value.strip().endswith("%"):
            if len(value) > 64 or not PERCENTAGE.fullmatch(value):
                raise InvalidField("discount", "expected a percentage from 0% to 100%")
            return cls(percent=_percent(value.strip()[:-1], "discount"))
        try:
            return cls(bps=parse_bitrate(value))
        except UnitError as exc:
            raise InvalidField(
                "discount", f"expected a percentage such as 10% or a rate: {exc}"
            ) from exc


@dataclass(frozen=True)
class Policy:
    """How much of each link reservations may use, and when to warn."""

    headroom_percent: float = 0.0
    alarm_percent: float = 90.0
    discount: Discount = field(default_factory=Discount)
    default_fence: Fence = field(default_factory=Fence)

    def usable(self, capacity_bps: int) -> int:
        """Capacity available to reservations once headroom is kept back."""
        return int(capacity_bps * (100 - self.headroom_percent) / 100)

    def alarm_level(self, capacity_bps: int) -> int:
        return int(capacity_bps * self.alarm_percent / 100)

    def as_json(self) -> dict[str, Any]:
        return {
            "headroom_percent": self.headroom_percent,
            "alarm_percent": self.alarm_percent,
            "discount": self.discount.as_text(),
            "default_fence": self.default_fence.as_json(),
        }

    def updated(self, body: Any) -> Policy:
        """A copy with the fields of a ``PUT /v1/settings`` body applied."""
        allowed = {"headroom_percent", "alarm_percent", "discount", "default_fence"}
        if not isinstance(body, dict):
            raise RequestError("the request body must be a JSON object")
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise InvalidField(
                unknown[0], f"unknown setting; expected one of {', '.join(sorted(allowed))}"
            )
        return Policy(
            headroom_percent=_json_percent(
                body.get("headroom_percent", self.headroom_percent), "headroom_percent", top=99
            ),
            alarm_percent=_json_percent(
                body.get("alarm_percent", self.alarm_percent), "alarm_percent"
            ),
            discount=Discount.parse(body["discount"]) if "discount" in body else self.discount,
            default_fence=Fence.from_json(body["default_fence"])
            if "default_fence" in body
            else self.default_fence,
        )


def _percent(value: Any, field_name: str, top: float = 100) -> float:
    """A percentage from 0 to ``top``: a JSON number, or the text of one (``"10"`` in ``"10%"``)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidField(field_name, f"expected a percentage from 0 to {top:g}") from exc
    if isinstance(value, bool) or not 0 <= number <= top:
        raise InvalidField(field_name, f"expected a percentage from 0 to {top:g}")
    return number


def _json_percent(value: Any, field_name: str, top: float = 100) -> float:
    """A percentage given in a JSON body: a number, as the OpenAPI document says."""
    if not isinstance(value, int | float):
        raise InvalidField(field_name, f"expected a number from 0 to {top:g}")
    return _percent(value, field_name, top)
