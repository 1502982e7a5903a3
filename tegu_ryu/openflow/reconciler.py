"""The one reconciler: every switch brought to its desired state, phase by phase, and kept there.

Pure and single-threaded (the controller calls it under its lock, with
``now``). For each connected switch it knows what the switch holds (read
back by cookie, ``SwitchSync``), whether a pass awaits its barrier, when to
read it again (drift repair, spaced by what the last read cost), whether it
is still settling after connecting, and how promptly it answers echoes. From
the desired state it returns the changes of the earliest phase any ready
switch needs (see ``reconcile``), and a new pass waits until every switch
has confirmed the last one. ``SentMessages`` remembers what went out by xid,
so that a switch's error names what it refused and whose it was.

The transport (``app.py``) only sends what this returns, in ``wire_order``,
and reports back what the switches say.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from tegu_ryu.openflow.flows import (
    COOKIE_OBJECT_MASK,
    Flow,
    FlowKey,
    Layer,
    Meter,
    cookie_layer,
)
from tegu_ryu.openflow.reconcile import Changes, InstalledFlow
from tegu_ryu.openflow.sync import SwitchSync
from tegu_ryu.topology.refs import dpid_str

LOG = logging.getLogger(__name__)

BARRIER_PATIENCE = 10.0  # seconds before an unanswered barrier means the switch needs a re-read
CONFIRMED_PER_SECOND = 2000  # changes a switch is given a second for, beyond that patience
SLOW_ECHO = 1.0  # seconds: an echo round trip longer than this (or unanswered) is slow
READ_SPACING = 9  # a periodic re-read waits this many times as long as the last one took
SENT_MEMORY = 65536  # messages remembered by xid, for errors: more than one large pass


class DesiredTables(Protocol):
    """What every switch should hold, and which of it changed since each switch last looked
    (``enforcement.desired.DesiredState``)."""

    @property
    def flows(self) -> Mapping[int, Mapping[FlowKey, Flow]]: ...

    @property
    def meters(self) -> Mapping[int, Mapping[int, Meter]]: ...

    def changed(self, dpid: int) -> tuple[set[FlowKey], set[int]] | None: ...

    def taken(
        self, dpid: int, flow_keys: set[FlowKey] | None, meter_ids: set[int] | None
    ) -> None: ...

    def compare_all(self, dpid: int) -> None: ...


@dataclass
class SwitchState:
    sync: SwitchSync
    settle_until: float
    barrier_since: float = 0.0
    read_began: float = 0.0
    read_took: float = 0.0  # seconds, the last complete read
    barrier_patience: float = BARRIER_PATIENCE
    echo_sent: float = 0.0  # when the unanswered echo request went out (0: none is)
    echo_rtt: float | None = None  # seconds, the last answered one
    slow: bool = False


class Reconciler:
    """The connected switches and the passes that make them hold ``desired``."""

    def __init__(self, desired: DesiredTables, settle: float) -> None:
        self.desired = desired
        self.switches: dict[int, SwitchState] = {}
        self.sent = SentMessages()
        self._settle = settle

    # ---------------------------------------------------------- connections

    def connected(self, dpid: int, now: float) -> None:
        """A (new) connection: nothing is known of the switch until it is read back."""
        self.switches[dpid] = SwitchState(SwitchSync(dpid), now + self._settle)
        self.sent.forget(dpid)

    def disconnected(self, dpid: int) -> None:
        self.switches.pop(dpid, None)

    def settled(self, now: float) -> bool:
        """True if a switch's settle time ended now (it has been read: its flows can be trusted)."""
        ended = False
        for switch in self.switches.values():
            if switch.settle_until and now >= switch.settle_until and switch.sync.known:
                switch.settle_until = 0.0
                ended = True
        return ended

    # ------------------------------------------------------------ read-backs

    def read_started(self, dpid: int, flow_xid: int, meter_xid: int, now: float) -> None:
        switch = self.switches.get(dpid)
        if switch is not None:
            switch.sync.read_started(flow_xid, meter_xid)
            switch.read_began = now

    def last_read(self, dpid: int) -> tuple[int, float]:
        """Tegu flows switch ``dpid`` held at its last complete read, and seconds it took."""
        switch = self.switches.get(dpid)
        if switch is None:
            return 0, 0.0
        return len(switch.sync.installed_flows()), switch.read_took

    def flows_read(
        self, dpid: int, xid: int, entries: list[InstalledFlow], more: bool, now: float
    ) -> bool:
        """One flow-stats reply; True when the switch has been read completely."""
        switch = self.switches.get(dpid)
        return switch is not None and self._read_done(
            switch, switch.sync.flows_part(xid, entries, more), now
        )

    def meters_read(self, dpid: int, xid: int, meters: list[Meter], more: bool, now: float) -> bool:
        """One meter-config reply; True when the switch has been read completely."""
        switch = self.switches.get(dpid)
        return switch is not None and self._read_done(
            switch, switch.sync.meters_part(xid, meters, more), now
        )

    def _read_done(self, switch: SwitchState, done: bool, now: float) -> bool:
        """After a complete read: compare everything, and space the next periodic one.

        Reading back costs the controller about a quarter of a millisecond per
        flow; spacing periodic reads by what the last one took keeps drift
        repair to a tenth of the time however many flows a switch holds.
        """
        if done:
            switch.read_took = now - switch.read_began
            self.desired.compare_all(switch.sync.dpid)
            if not switch.sync.installed_flows():
                switch.settle_until = 0.0  # a fresh switch: nothing on it to preserve
        return done

    def resync_due(self, now: float) -> list[int]:
        """Switches to re-read now (drift repair), including any whose barrier never came back."""
        due = []
        for dpid, switch in self.switches.items():
            if (
                switch.sync.barrier is not None
                and now - switch.barrier_since > switch.barrier_patience
            ):
                LOG.warning(
                    "switch %s did not confirm %d s of changes; reading it back",
                    dpid_str(dpid),
                    now - switch.barrier_since,
                )
                switch.sync.barrier = None
                switch.sync.distrust()
            spaced = now >= switch.read_began + (1 + READ_SPACING) * switch.read_took
            if (
                not switch.sync.reading
                and switch.sync.barrier is None
                and (spaced or not switch.sync.known)  # distrusted: read it now
            ):
                due.append(dpid)
        return due

    # ------------------------------------------------------------ the passes

    @property
    def confirming(self) -> bool:
        """True while some switch has not confirmed the last pass."""
        return any(s.sync.barrier is not None for s in self.switches.values())

    def next_pass(self, now: float) -> dict[int, Changes]:
        """Changes of the earliest phase any ready switch needs (``desired`` is up to date).

        Only what changed since a switch was last compared is looked at, except
        after a read-back, when everything is.
        """
        needed = {}
        for dpid, switch in self.switches.items():
            if switch.sync.known and not switch.sync.reading and not switch.settle_until:
                needed[dpid] = self._changes(dpid, switch.sync, now)
        phases = [changes.phase() for changes, _ in needed.values() if changes.phase()]
        phase = min(phases, default=0)
        work = {}
        for dpid, (changes, looked_at) in needed.items():
            sent, left = changes.only(phase), changes.without(phase)
            if looked_at is None:
                if not len(left):
                    self.desired.taken(dpid, None, None)
            else:
                keys, meter_ids = looked_at
                self.desired.taken(dpid, keys - left.flow_keys(), meter_ids - left.meter_ids())
            if len(sent):
                work[dpid] = sent
        return work

    def _changes(
        self, dpid: int, sync: SwitchSync, now: float
    ) -> tuple[Changes, tuple[set[FlowKey], set[int]] | None]:
        """What switch ``dpid`` needs, and which keys were compared (None: all of them)."""
        flows = self.desired.flows.get(dpid, {})
        meters = self.desired.meters.get(dpid, {})
        changed = self.desired.changed(dpid)
        if changed is None:
            return sync.changes(flows.values(), meters.values(), now), None
        keys, meter_ids = set(changed[0]), set(changed[1])
        return sync.changes_for(flows, meters, keys, meter_ids, now), (keys, meter_ids)

    def pass_sent(
        self, dpid: int, changes: Changes, barrier_xid: int, now: float, sent_at: float
    ) -> None:
        """``changes`` (planned at ``now``) went out to ``dpid``, its barrier at ``sent_at``.

        The switch has a while to confirm them, longer for more of them.
        """
        switch = self.switches.get(dpid)
        if switch is not None:
            switch.sync.applied(changes, now)
            switch.sync.barrier = barrier_xid
            switch.barrier_since = sent_at
            switch.barrier_patience = BARRIER_PATIENCE + len(changes) / CONFIRMED_PER_SECOND

    def barrier_replied(self, dpid: int, xid: int) -> bool:
        """True when this reply confirms the last outstanding barrier (a new pass may start)."""
        switch = self.switches.get(dpid)
        if switch is None or switch.sync.barrier != xid:
            return False
        switch.sync.barrier = None
        return not self.confirming

    def refused(self, dpid: int) -> None:
        """The switch refused something: what it holds is unknown until it is read again."""
        switch = self.switches.get(dpid)
        if switch is not None:
            switch.sync.distrust()

    # ------------------------------------------------------------ liveness

    def echo_due(self, now: float) -> list[int]:
        """Switches to send an echo request to now; one still unanswered makes its switch slow."""
        due = []
        for dpid, switch in self.switches.items():
            if switch.echo_sent and now - switch.echo_sent > SLOW_ECHO:
                _mark_slow(dpid, switch, True, f"no echo reply for {now - switch.echo_sent:.1f} s")
                continue
            due.append(dpid)
            switch.echo_sent = now
        return due

    def echo_answered(self, dpid: int, sent: float, now: float) -> None:
        """An echo reply: its round trip, as this controller sees it (its own backlog included)."""
        switch = self.switches.get(dpid)
        if switch is None:
            return
        switch.echo_sent = 0.0
        switch.echo_rtt = max(0.0, now - sent)
        _mark_slow(
            dpid,
            switch,
            switch.echo_rtt > SLOW_ECHO,
            f"echo round trip {switch.echo_rtt * 1000:.0f} ms",
        )

    # ------------------------------------------------------------ views

    def sync_state(self, dpid: int) -> str | None:
        """How far switch ``dpid`` is from holding what it should (None: not connected)."""
        switch = self.switches.get(dpid)
        if switch is None:
            return None
        if switch.sync.reading or not switch.sync.known:
            return "reading"
        if switch.settle_until:
            return "settling"
        if switch.sync.barrier is not None:
            return "confirming"
        return "synced"

    def liveness(self, dpid: int) -> dict[str, object]:
        switch = self.switches.get(dpid)
        rtt = (
            None if switch is None or switch.echo_rtt is None else round(switch.echo_rtt * 1000, 1)
        )
        return {"echo_ms": rtt, "slow": switch is not None and switch.slow}

    def missing(self, dpid: int, flows: tuple[Flow, ...], meters: tuple[Meter, ...]) -> str | None:
        """Why switch ``dpid`` does not hold these flows and meters yet (None: it does).

        The flows are compared as the desired state has them on that switch:
        through best-effort meters and on to the mirror table where that
        applies, which a reservation's own plan does not say.
        """
        switch = self.switches.get(dpid)
        if switch is None:
            return f"switch {dpid_str(dpid)} is not connected"
        if not switch.sync.known or switch.sync.barrier is not None:
            return f"switch {dpid_str(dpid)} has not confirmed its flows yet"
        desired = self.desired.flows.get(dpid, {})
        wanted = [desired.get(flow.key, flow) for flow in flows]
        if not switch.sync.holds(wanted, meters):
            return f"switch {dpid_str(dpid)} does not hold all of its flows yet"
        return None

    def installed_flows(self) -> Iterator[tuple[int, list[Flow]]]:
        for dpid, switch in self.switches.items():
            yield dpid, switch.sync.installed_flows()


def _mark_slow(dpid: int, switch: SwitchState, slow: bool, why: str) -> None:
    if slow and not switch.slow:
        LOG.warning(
            "switch %s is slow to answer: %s (the switch or this controller is busy)",
            dpid_str(dpid),
            why,
        )
    elif switch.slow and not slow:
        LOG.info("switch %s answers promptly again: %s", dpid_str(dpid), why)
    switch.slow = slow


Sent = str | tuple[str, Flow]


class SentMessages:
    """What went out to each switch by xid, so that its error names what it refused."""

    def __init__(self, memory: int = SENT_MEMORY) -> None:
        self._sent: OrderedDict[tuple[int, int], tuple[Sent, int | None]] = OrderedDict()
        self._memory = memory

    def remember(self, dpid: int, xid: int, what: Sent, serial: int | None) -> None:
        self._sent[(dpid, xid)] = (what, serial)
        while len(self._sent) > self._memory:
            self._sent.popitem(last=False)

    def explain(self, dpid: int, xid: int) -> tuple[str, int | None]:
        """What message ``xid`` was, in words, and the reservation serial it was for."""
        sent, serial = self._sent.get((dpid, xid), ("a message no longer remembered", None))
        what = (
            sent if isinstance(sent, str) else f"{sent[0]} {sent[1].description or sent[1].match}"
        )
        return what, serial

    def forget(self, dpid: int) -> None:
        """A new connection starts its xids afresh: what we remember of the old one is moot."""
        for key in [key for key in self._sent if key[0] == dpid]:
            del self._sent[key]


def owner_serial(cookie: int) -> int | None:
    """The reservation serial a flow's cookie names, if it is a reservation's."""
    return cookie & COOKIE_OBJECT_MASK if cookie_layer(cookie) is Layer.RESERVATION else None


def wire_order(changes: Changes) -> Iterator[tuple[str, Flow | Meter]]:
    """The changes of one pass in the order they must reach the switch.

    Meters before the flows that use them; flows added before any is
    deleted; meters deleted after the flows that used them.
    """
    for meter in changes.meter_add:
        yield "add meter", meter
    for meter in changes.meter_modify:
        yield "modify meter", meter
    for flow in (*changes.flow_add, *changes.flow_modify):
        yield "add flow", flow
    for flow in changes.flow_delete:
        yield "delete flow", flow
    for meter in changes.meter_delete:
        yield "delete meter", meter
