"""How each switch can enforce a rate, from what it says about itself, and the choice made.

Switches differ: OpenFlow meters need OVS 2.10 or later (and Linux 4.18 for
the kernel datapath), hardware may lack drop bands or burst sizes. The
controller asks every switch for its meter features when it connects and,
where an OVSDB server is reachable, reads the bridge's datapath type and the
OVS version. ``choose`` turns those facts and the configuration
(``enforcement = auto|meters``, per-switch overrides) into the backend a
switch uses and the reason, which ``GET /v1/topology`` shows. Meters are the
only backend built so far; a switch without usable meters is reported as
such (``none``), not silently left unenforced.
"""

from __future__ import annotations

from dataclasses import dataclass

SETTINGS = ("auto", "meters")


@dataclass(frozen=True)
class MeterFeatures:
    """A switch's answer to OpenFlow's meter features request."""

    max_meters: int
    drop_band: bool
    kbps: bool
    burst: bool

    @property
    def usable(self) -> bool:
        """What tegu_ryu's meters need: at least one meter, a drop band, kbit/s and bursts."""
        return self.max_meters > 0 and self.drop_band and self.kbps and self.burst

    def describe(self) -> str:
        wanted = [
            ("drop band", self.drop_band),
            ("kbit/s rates", self.kbps),
            ("burst sizes", self.burst),
        ]
        missing = [name for name, ok in wanted if not ok]
        if self.max_meters <= 0:
            return "no OpenFlow meters"
        if missing:
            return f"{self.max_meters} OpenFlow meters without {', '.join(missing)}"
        return f"{self.max_meters} OpenFlow meters with drop bands, kbit/s and bursts"


@dataclass(frozen=True)
class SwitchFacts:
    """What is known of one switch: its meter features once it answered, and from OVSDB
    (where reachable) its datapath type and Open vSwitch version."""

    meters: MeterFeatures | None = None
    datapath_type: str | None = None
    ovs_version: str | None = None


@dataclass(frozen=True)
class Backend:
    """How a switch enforces reservations (``meters`` or ``none``) and why."""

    name: str
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"backend": self.name, "reason": self.reason}


def choose(facts: SwitchFacts, setting: str) -> Backend:
    """The backend for a switch with ``facts`` under ``setting`` (``auto`` or ``meters``)."""
    if setting == "meters":
        return Backend("meters", "enforcement = meters (configured for this switch)")
    if facts.meters is None:
        return Backend("meters", "assumed until the switch answers the meter features request")
    if facts.meters.usable:
        return Backend("meters", facts.meters.describe())
    return Backend(
        "none",
        f"{facts.meters.describe()}: the switch cannot police a reserved rate, and no other "
        "backend is available (queues are not built yet); set enforcement = meters for this "
        "switch if it misreports",
    )
