"""Where the capacity of a directed link comes from.

Admission is only as good as the capacities it admits against, and switches
often report nonsense (a veth says 10 Gbit/s whatever tc does to it). So the
operator's word wins, most specific first:

1. a per-port override from configuration (``capacity_override = DPID:PORT=50M``),
2. the capacity declared for the link in the static topology file,
3. a blanket override for every link (``capacity_override_default``),
4. the speed the switch reports for the egress port,
5. a configured fallback (``capacity_fallback``).

The egress (source) port of a directed link decides, since that is where a
queue or meter would sit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tegu_ryu.errors import ConfigurationError
from tegu_ryu.topology.refs import PortRef, RefError, parse_port_ref
from tegu_ryu.units import UnitError, parse_bitrate


class CapacityConfigError(ConfigurationError):
    """A capacity override in the configuration cannot be understood."""


@dataclass(frozen=True)
class CapacityPolicy:
    """The operator's capacity settings; see the module docstring for precedence."""

    per_port: Mapping[PortRef, int] = field(default_factory=dict)
    override_default: int | None = None
    fallback: int = 10**9

    def capacity(
        self, src: PortRef, declared_bps: int | None, reported_speed_bps: int | None
    ) -> int:
        """Capacity in bit/s of the directed link leaving ``src``."""
        if src in self.per_port:
            return self.per_port[src]
        if declared_bps is not None:
            return declared_bps
        if self.override_default is not None:
            return self.override_default
        if reported_speed_bps:
            return reported_speed_bps
        return self.fallback

    @classmethod
    def from_config(
        cls, overrides: Iterable[str], override_default: str | None, fallback: str
    ) -> CapacityPolicy:
        """Build the policy from configuration strings, naming the bad entry on error."""
        per_port: dict[PortRef, int] = {}
        for entry in overrides:
            ref_text, sep, rate_text = entry.partition("=")
            if not sep:
                raise CapacityConfigError(
                    f"capacity_override {entry!r}: expected DPID:PORT=RATE, e.g. "
                    "0000000000000001:3=50M"
                )
            try:
                per_port[parse_port_ref(ref_text)] = parse_bitrate(rate_text)
            except (RefError, UnitError) as exc:
                raise CapacityConfigError(f"capacity_override {entry!r}: {exc}") from exc
        try:
            default = parse_bitrate(override_default) if override_default else None
            fallback_bps = parse_bitrate(fallback)
        except UnitError as exc:
            raise CapacityConfigError(str(exc)) from exc
        return cls(per_port=per_port, override_default=default, fallback=fallback_bps)
