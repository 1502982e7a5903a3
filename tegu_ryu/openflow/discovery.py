"""os-ken's LLDP discovery (``os_ken.topology.switches``), made to retry on native threads
and kept off the ports that lead out of the network.

os-ken's ``Switches`` app sends an LLDP frame out of every port each 0.9 s by
waiting on a ``hub.Event`` with a timeout. On the native-thread hub that wait
never times out (its ``Timeout`` cannot interrupt a blocked
``threading.Event.wait``): LLDP went out only when an event woke the loop (a
switch or port appearing, a link seen one way only), so one lost frame at
start-up (a switch not connected yet, its LLDP flow not installed yet) left a
link direction undiscovered for good. ``adopt`` gives the LLDP loop a real
event, and locks around the port and link tables, which the app shares
between its LLDP thread, its link-timeout thread and its event thread (os-ken
wrote them for green threads that never interleave). Its LLDP loop, having
sent every port that was due, waits with no timeout at all when no port was
left to compute the next one from (a single port, or every port due at once
after the thread was starved): the event given here wakes it at least once
per LLDP period anyway.

The link-timeout loop keeps its event, which on native threads never times
out: a link is lost when its port goes down or its switch's control channel
is gone past ``control_grace``, as before, not when LLDP is late. Turning
LLDP silence into link loss would let a starved LLDP thread move reservations
off healthy links; that is a decision of its own, not part of this repair.

It also keeps LLDP off the ports that leave the network: stitch points (LLDP
there would tell a peer domain our topology) and the tunnel ports tegu_ryu
creates (``tegu-*``, mirrors' numbers), where only a mirror's copies or a
stitched segment's traffic may go.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from os_ken.topology import switches

from tegu_ryu.ovsdb.rows import PORT_PREFIX
from tegu_ryu.topology.refs import LinkId, PortRef, dpid_str

LOG = logging.getLogger("tegu_ryu.discovery")

ONE_WAY_AFTER = 5.0  # seconds a link may be seen one way only before we say why


class CappedEvent(threading.Event):
    """An event whose wait without a timeout still returns after ``longest`` seconds."""

    def __init__(self, longest: float) -> None:
        super().__init__()
        self.longest = longest

    def wait(self, timeout: float | None = None) -> bool:
        return super().wait(self.longest if timeout is None else timeout)


@dataclass(frozen=True)
class LldpSilence:
    """The ports no LLDP frame may leave by: configured stitch points, tegu's tunnel ports
    (by name, and by the mirrors' OpenFlow numbers, whatever the name)."""

    stitch_ports: frozenset[PortRef] = frozenset()
    tunnel_ports: Collection[int] = range(0)

    def silent(self, dpid: int, port_no: int, name: str | bytes) -> bool:
        text = name.decode(errors="replace") if isinstance(name, bytes) else name
        return (
            text.rstrip("\0").startswith(PORT_PREFIX)
            or port_no in self.tunnel_ports
            or PortRef(dpid, port_no) in self.stitch_ports
        )


class GuardedPorts(switches.PortDataState):
    """os-ken's LLDP schedule (a linked list in a dict), locked, and without silent ports.

    The LLDP thread reorders it while the event thread adds, moves and deletes
    ports; interleaved, a port can drop out of the list (never sent LLDP
    again) or the LLDP thread can die on a ``KeyError``.
    """

    def __init__(self, silence: LldpSilence) -> None:
        super().__init__()
        self.silence = silence
        self.lock = threading.RLock()

    def add_port(self, port: Any, lldp_data: bytes) -> None:
        if self.silence.silent(port.dpid, port.port_no, port.name):
            LOG.info("no LLDP out of %s:%d (%s)", dpid_str(port.dpid), port.port_no, _name(port))
            return
        with self.lock:
            super().add_port(port, lldp_data)

    def lldp_sent(self, port: Any) -> switches.PortData:
        with self.lock:
            return super().lldp_sent(port)

    def lldp_received(self, port: Any) -> None:
        with self.lock:
            super().lldp_received(port)

    def move_front(self, port: Any) -> None:
        with self.lock:
            super().move_front(port)

    def set_down(self, port: Any) -> bool:
        """Whether ``port`` is down; a port never scheduled (silent) has no link to take down."""
        with self.lock:
            if not dict.__contains__(self, port):
                return False
            return bool(super().set_down(port))

    def get_port(self, port: Any) -> switches.PortData:
        with self.lock:
            return super().get_port(port)

    def del_port(self, port: Any) -> None:
        with self.lock:
            if dict.__contains__(self, port):
                super().del_port(port)

    def __iter__(self) -> Iterator[Any]:
        with self.lock:
            return iter(list(super().__iter__()))

    def items(self) -> list[tuple[Any, switches.PortData]]:
        with self.lock:
            return [(key, dict.__getitem__(self, key)) for key in super().__iter__()]

    def clear(self) -> None:
        with self.lock:
            super().clear()

    def data(self, dpid: int, port_no: int) -> switches.PortData | None:
        """The LLDP state of one port (None: not scheduled, being silent or unknown)."""
        with self.lock:
            for port, data in self.items():
                if (port.dpid, port.port_no) == (dpid, port_no):
                    return data
        return None


class GuardedLinks(switches.LinkState):
    """os-ken's link table, locked: the link-timeout thread walks and deletes while the event
    thread adds (a dict changing size under a walk ends that thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()

    def update_link(self, src: Any, dst: Any) -> bool:
        with self.lock:
            return bool(super().update_link(src, dst))

    def link_down(self, link: Any) -> None:
        with self.lock:
            super().link_down(link)

    def rev_link_set_timestamp(self, rev_link: Any, timestamp: float) -> None:
        with self.lock:
            super().rev_link_set_timestamp(rev_link, timestamp)

    def port_deleted(self, src: Any) -> tuple[list[Any], list[Any]]:
        with self.lock:
            dsts, rev_link_dsts = super().port_deleted(src)
            return list(dsts), rev_link_dsts

    def get_peers(self, src: Any) -> list[Any]:
        with self.lock:
            return list(super().get_peers(src))

    def __iter__(self) -> Iterator[Any]:
        with self.lock:
            return iter(list(dict.keys(self)))

    def items(self) -> list[tuple[Any, float]]:
        with self.lock:
            return list(dict.items(self))

    def link_ids(self) -> set[LinkId]:
        """The links seen now, as the topology names them."""
        return {
            LinkId(
                PortRef(link.src.dpid, link.src.port_no), PortRef(link.dst.dpid, link.dst.port_no)
            )
            for link, _ in self.items()
        }


def adopt(app: Any, silence: LldpSilence) -> bool:
    """Give os-ken's ``Switches`` app working timeouts, locked tables and ``silence``.

    Call it before any switch connects (``TeguApp.start``: os-ken starts its
    OpenFlow listener with the last app), while the tables are still empty.
    False if the app does not discover links at all.
    """
    if not getattr(app, "link_discovery", False):
        return False
    if app.dps:
        LOG.warning("LLDP discovery adopted after %d switches connected", len(app.dps))
    old_event = app.lldp_event
    app.ports = GuardedPorts(silence)
    app.links = GuardedLinks()
    app.lldp_event = CappedEvent(app.LLDP_SEND_PERIOD_PER_PORT)
    old_event.set()  # the LLDP loop waits on the old event with no timeout: move it to ours
    return True


@dataclass
class OneWayWatch:
    """Notices link directions that stay undiscovered while the other way is seen.

    ``check`` returns each such direction once, ``after`` seconds after its
    reverse was first seen; found (or its reverse lost) it may be reported again.
    """

    after: float = ONE_WAY_AFTER
    since: dict[LinkId, float] = field(default_factory=dict)  # missing direction -> first noticed
    reported: set[LinkId] = field(default_factory=set)

    def check(self, seen: set[LinkId], now: float) -> list[LinkId]:
        missing = {link.reversed() for link in seen} - seen
        for link in list(self.since):
            if link not in missing:
                del self.since[link]
                self.reported.discard(link)
        due = []
        for link in sorted(missing):
            first = self.since.setdefault(link, now)
            if now - first >= self.after and link not in self.reported:
                self.reported.add(link)
                due.append(link)
        return due


def explain_missing(
    link: LinkId,
    data: switches.PortData | None,
    connected: Callable[[int], bool],
    now: float,
) -> str:
    """Why ``link`` (whose reverse is seen) may not be: what its LLDP sender did."""
    src, dst = link.src, link.dst
    where = f"{dpid_str(src.dpid)}:{src.port}"
    if data is None:
        sending = f"os-ken's discovery does not send LLDP out of {where} (unknown or silent port)"
    elif data.is_down:
        sending = f"{where} is down, so no LLDP goes out of it"
    elif data.timestamp is None:
        sending = f"no LLDP sent out of {where} yet"
    else:
        sending = (
            f"{data.sent} LLDP frames sent out of {where} since one was last heard, "
            f"the last {now - data.timestamp:.1f} s ago"
        )
    peer = "" if connected(dst.dpid) else f"; switch {dpid_str(dst.dpid)} is not connected"
    return (
        f"link {link} not discovered although its reverse is: {sending}{peer} "
        f"(on switch {dpid_str(dst.dpid)}, the LLDP flow dl_type=0x88cc should count them)"
    )


def _name(port: Any) -> str:
    name = port.name
    return (name.decode(errors="replace") if isinstance(name, bytes) else str(name)).rstrip("\0")
