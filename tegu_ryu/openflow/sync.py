"""What we know a switch holds, so that only differences are sent.

``SwitchSync`` is the controller's memory of one switch's tegu-owned flows.
It starts empty-handed: nothing may be sent until a read-back (flow stats
filtered by our cookie tag) has said what is really there, which is why a
restarted controller facing unchanged switches sends nothing. After that,
what we send is assumed installed; an OpenFlow error or the periodic re-read
corrects the assumption.
"""

from __future__ import annotations

from collections.abc import Iterable

from tegu_ryu.openflow.flows import Flow, by_key
from tegu_ryu.openflow.reconcile import FlowDiff, diff_flows


class SwitchSync:
    """Installed-flow knowledge for one switch, fed by multipart flow-stats replies."""

    def __init__(self, dpid: int) -> None:
        self.dpid = dpid
        self._installed: dict[tuple[int, int, tuple[tuple[str, int | str], ...]], Flow] | None
        self._installed = None
        self._reading: int | None = None
        self._parts: list[Flow] = []

    @property
    def known(self) -> bool:
        """True once a read-back has completed: only then can a diff be trusted."""
        return self._installed is not None

    def installed(self) -> list[Flow]:
        """What we believe the switch holds (empty before the first read)."""
        return list(self._installed.values()) if self._installed is not None else []

    @property
    def reading(self) -> bool:
        return self._reading is not None

    def read_started(self, xid: int) -> None:
        """A flow-stats request with ``xid`` was sent; replies to older ones are stale."""
        self._reading = xid
        self._parts = []

    def read_part(self, xid: int, flows: Iterable[Flow], more: bool) -> bool:
        """Take one multipart reply; True when the read is complete and applied."""
        if xid != self._reading:
            return False
        self._parts.extend(flows)
        if more:
            return False
        self._installed = by_key(self._parts)
        self._reading = None
        self._parts = []
        return True

    def plan(self, desired: Iterable[Flow]) -> FlowDiff:
        """Changes needed to reach ``desired``; empty until the switch has been read."""
        if self._installed is None:
            return FlowDiff(add=(), delete=())
        return diff_flows(desired, self._installed.values())

    def applied(self, diff: FlowDiff) -> None:
        """Assume ``diff`` took effect (an error or the next re-read will say otherwise)."""
        if self._installed is None:
            return
        for flow in diff.delete:
            self._installed.pop(flow.key, None)
        for flow in diff.add:
            self._installed[flow.key] = flow

    def distrust(self) -> None:
        """Something went wrong on the switch: forget what we assumed until re-read."""
        self._installed = None
