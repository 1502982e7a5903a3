"""What we know a switch holds, so that only differences are sent.

``SwitchSync`` is the controller's memory of one switch's tegu-owned flows
and meters. It starts empty-handed: nothing may be sent until a read-back
(flow stats filtered by our cookie tag, and the meter table) has said what is
really there, which is why a restarted controller facing unchanged switches
sends nothing. After that, what we send is assumed installed; an OpenFlow
error or the periodic re-read corrects the assumption.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tegu_ryu.openflow.flows import METER_FIRST, METER_LAST, Flow, FlowKey, Meter, hard_timeout
from tegu_ryu.openflow.reconcile import Changes, InstalledFlow, diff, diff_keys


class SwitchSync:
    """Installed-state knowledge for one switch, fed by multipart replies and barriers."""

    def __init__(self, dpid: int) -> None:
        self.dpid = dpid
        self._flows: dict[FlowKey, InstalledFlow] | None = None
        self._meters: dict[int, Meter] | None = None
        self._flow_read: tuple[int, list[InstalledFlow]] | None = None
        self._meter_read: tuple[int, list[Meter]] | None = None
        self._pending_flows: dict[FlowKey, InstalledFlow] = {}
        self._pending_meters: dict[int, Meter] = {}
        self.barrier: int | None = None

    @property
    def known(self) -> bool:
        """True once a read-back has completed: only then can a diff be trusted."""
        return self._flows is not None and self._meters is not None

    @property
    def reading(self) -> bool:
        return self._flow_read is not None or self._meter_read is not None

    def read_started(self, flow_xid: int, meter_xid: int) -> None:
        """Stats requests were sent; replies to older requests are stale."""
        self._flow_read = (flow_xid, [])
        self._meter_read = (meter_xid, [])

    def flows_part(self, xid: int, entries: Iterable[InstalledFlow], more: bool) -> bool:
        """Take one flow-stats reply; True when the whole read (flows and meters) is in."""
        if self._flow_read is None or self._flow_read[0] != xid:
            return False
        self._flow_read[1].extend(entries)
        if more:
            return False
        self._pending_flows = {entry.flow.key: entry for entry in self._flow_read[1]}
        self._flow_read = None
        return self._finish_read()

    def meters_part(self, xid: int, meters: Iterable[Meter], more: bool) -> bool:
        """Take one meter-config reply; True when the whole read is in."""
        if self._meter_read is None or self._meter_read[0] != xid:
            return False
        self._meter_read[1].extend(m for m in meters if METER_FIRST <= m.id <= METER_LAST)
        if more:
            return False
        self._pending_meters = {meter.id: meter for meter in self._meter_read[1]}
        self._meter_read = None
        return self._finish_read()

    def _finish_read(self) -> bool:
        if self.reading:
            return False
        self._flows, self._meters = self._pending_flows, self._pending_meters
        return True

    def changes(self, flows: Iterable[Flow], meters: Iterable[Meter], now: float) -> Changes:
        """What the switch lacks or holds in excess; nothing until it has been read."""
        if self._flows is None or self._meters is None:
            return Changes()
        return diff(flows, meters, self._flows, self._meters, now)

    def changes_for(
        self,
        flows: Mapping[FlowKey, Flow],
        meters: Mapping[int, Meter],
        flow_keys: Iterable[FlowKey],
        meter_ids: Iterable[int],
        now: float,
    ) -> Changes:
        """What differs among the given keys and meter ids only (the ones that changed)."""
        if self._flows is None or self._meters is None:
            return Changes()
        return diff_keys(
            flows,
            meters,
            self._flows,
            self._meters,
            flow_keys=flow_keys,
            meter_ids=meter_ids,
            now=now,
        )

    def applied(self, changes: Changes, now: float) -> None:
        """Assume ``changes`` took effect (an error or the next re-read will say otherwise)."""
        if self._flows is None or self._meters is None:
            return
        for meter in (*changes.meter_add, *changes.meter_modify):
            self._meters[meter.id] = meter
        for flow in (*changes.flow_add, *changes.flow_modify):
            timeout = hard_timeout(flow, now)
            self._flows[flow.key] = InstalledFlow(flow, now + timeout if timeout else None)
        for flow in changes.flow_delete:
            self._flows.pop(flow.key, None)
        for meter in changes.meter_delete:
            self._meters.pop(meter.id, None)

    def holds(self, flows: Iterable[Flow], meters: Iterable[Meter]) -> bool:
        """True if every one of ``flows`` and ``meters`` is installed as it should be."""
        if self._flows is None or self._meters is None:
            return False
        installed_flows, installed_meters = self._flows, self._meters
        return all(
            (entry := installed_flows.get(flow.key)) is not None and entry.flow == flow
            for flow in flows
        ) and all(installed_meters.get(meter.id) == meter for meter in meters)

    def installed_flows(self) -> list[Flow]:
        return [] if self._flows is None else [entry.flow for entry in self._flows.values()]

    def installed_meters(self) -> list[Meter]:
        return [] if self._meters is None else list(self._meters.values())

    def distrust(self) -> None:
        """Something went wrong on the switch: forget what we assumed until re-read."""
        self._flows = None
        self._meters = None
