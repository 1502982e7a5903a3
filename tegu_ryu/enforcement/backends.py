"""How each switch can enforce a rate, from what it says about itself, and the choice made.

Switches differ: OpenFlow meters need OVS 2.10 or later (and Linux 4.18 for
the kernel datapath), hardware may lack drop bands or burst sizes. The
controller asks every switch for its meter features when it connects and,
where an OVSDB server is reachable, reads the bridge's datapath type and the
OVS version. ``choose`` turns those facts and the configuration
(``enforcement = auto|meters``, per-switch overrides) into the backend a
switch uses and the reason, which ``GET /v1/topology`` and each reservation's
enforcement status show:

* ``meters`` (OpenFlow meters police every reservation where it enters);
* ``queues`` (linux-htb queues through OVSDB, ``enforcement/unmetered.py``):
  chosen by ``auto`` for a switch without usable meters on the kernel
  datapath, where ``set_queue`` works; on the userspace datapath queues
  police nothing, so ``auto`` never picks them there;
* ``dscp`` (marks only, nothing policed): only when configured;
* ``none``: the switch can do none of these, and reservations are routed
  around it or degraded saying so, never silently left unenforced.
"""

from __future__ import annotations

from dataclasses import dataclass

SETTINGS = ("auto", "meters", "queues", "dscp")
USERSPACE = ("netdev", "dummy")  # datapaths where set_queue selects no queue


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
    """The backend for a switch with ``facts`` under ``setting`` (one of ``SETTINGS``)."""
    if setting == "meters":
        return Backend("meters", "enforcement = meters (configured for this switch)")
    if setting == "queues":
        return _queues(facts, "enforcement = queues (configured for this switch)")
    if setting == "dscp":
        return Backend(
            "dscp",
            "enforcement = dscp (configured for this switch): reserved traffic is marked, "
            "not policed; the network beyond must honour the marks",
        )
    if facts.meters is None:
        return Backend("meters", "assumed until the switch answers the meter features request")
    if facts.meters.usable:
        return Backend("meters", facts.meters.describe())
    if facts.datapath_type is not None and facts.datapath_type not in USERSPACE:
        return _queues(facts, f"{facts.meters.describe()}; the {facts.datapath_type} datapath")
    return Backend(
        "none",
        f"{facts.meters.describe()}: the switch cannot police a reserved rate, and queues "
        + (
            "need an OVSDB server or agent that reports this bridge"
            if facts.datapath_type is None
            else f"police nothing on the {facts.datapath_type} datapath"
        )
        + "; set enforcement_override for this switch if it misreports",
    )


def _queues(facts: SwitchFacts, why: str) -> Backend:
    if facts.datapath_type is None:
        return Backend(
            "none",
            f"{why}, but no OVSDB server or agent reports this bridge: its queues cannot be set",
        )
    caveat = (
        f" (the {facts.datapath_type} datapath ignores set_queue: rows and flows are set, "
        "rates are not enforced)"
        if facts.datapath_type in USERSPACE
        else ""
    )
    return Backend("queues", f"{why}: linux-htb queues through OVSDB{caveat}")
