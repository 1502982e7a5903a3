"""Desired versus installed: the smallest set of changes that makes a switch right.

One mechanism serves every occasion (switch connect, topology change,
reservation start and end, controller restart, drift repair): read what the
switch holds under our cookies and meter ids, compare with what should be
there, send the difference. When nothing differs nothing is sent, which is
what makes a restart quiet.

Changes come in three phases, and a phase is only sent once every switch has
confirmed the one before (barriers), so traffic always has somewhere to go:

1. new meters, changed meter rates, and flows the switch does not have yet
   (a moved reservation's flows on its new path);
2. flows whose content changes in place (the ingress flow that switches the
   traffic onto the new path), and flows refreshed before their hard timeout;
3. flows and then meters that are no longer wanted (the old path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tegu_ryu.openflow.flows import Flow, FlowKey, Meter, by_key

REFRESH_MARGIN = 300.0  # re-add a flow this long before its hard timeout would remove it early


@dataclass(frozen=True)
class InstalledFlow:
    flow: Flow
    deadline: float | None  # when the switch will time the entry out, if ever


@dataclass(frozen=True)
class Changes:
    """What one switch needs, by phase."""

    meter_add: tuple[Meter, ...] = ()
    meter_modify: tuple[Meter, ...] = ()
    flow_add: tuple[Flow, ...] = ()
    flow_modify: tuple[Flow, ...] = ()
    flow_delete: tuple[Flow, ...] = ()
    meter_delete: tuple[Meter, ...] = ()

    def phase(self) -> int:
        """The first phase with something to do (1 to 3), or 0 when nothing differs."""
        if self.meter_add or self.meter_modify or self.flow_add:
            return 1
        if self.flow_modify:
            return 2
        if self.flow_delete or self.meter_delete:
            return 3
        return 0

    def only(self, phase: int) -> Changes:
        """The part of these changes that belongs to ``phase``."""
        if phase == 1:
            return Changes(self.meter_add, self.meter_modify, self.flow_add)
        if phase == 2:
            return Changes(flow_modify=self.flow_modify)
        if phase == 3:
            return Changes(flow_delete=self.flow_delete, meter_delete=self.meter_delete)
        return Changes()

    def without(self, phase: int) -> Changes:
        """These changes but those of ``phase``: what is left once it is sent."""
        kept = [self.only(p) for p in (1, 2, 3) if p != phase]
        return Changes(
            *(
                tuple(item for part in kept for item in getattr(part, name))
                for name in (
                    "meter_add",
                    "meter_modify",
                    "flow_add",
                    "flow_modify",
                    "flow_delete",
                    "meter_delete",
                )
            )
        )

    def flow_keys(self) -> set[FlowKey]:
        return {f.key for f in (*self.flow_add, *self.flow_modify, *self.flow_delete)}

    def meter_ids(self) -> set[int]:
        return {m.id for m in (*self.meter_add, *self.meter_modify, *self.meter_delete)}

    def __len__(self) -> int:
        return sum(
            len(part)
            for part in (
                self.meter_add,
                self.meter_modify,
                self.flow_add,
                self.flow_modify,
                self.flow_delete,
                self.meter_delete,
            )
        )


def diff(
    desired_flows: Iterable[Flow],
    desired_meters: Iterable[Meter],
    installed_flows: Mapping[FlowKey, InstalledFlow],
    installed_meters: Mapping[int, Meter],
    now: float,
) -> Changes:
    """Everything needed to turn the installed state into the desired one."""
    want = by_key(desired_flows)
    meters = {meter.id: meter for meter in desired_meters}
    flow_add, flow_modify = [], []
    for key, flow in want.items():
        have = installed_flows.get(key)
        if have is None:
            flow_add.append(flow)
        elif have.flow != flow or _expires_early(flow, have, now):
            flow_modify.append(flow)
    return Changes(
        meter_add=tuple(m for i, m in meters.items() if i not in installed_meters),
        meter_modify=tuple(
            m for i, m in meters.items() if i in installed_meters and installed_meters[i] != m
        ),
        flow_add=tuple(flow_add),
        flow_modify=tuple(flow_modify),
        flow_delete=tuple(have.flow for key, have in installed_flows.items() if key not in want),
        meter_delete=tuple(m for i, m in installed_meters.items() if i not in meters),
    )


def diff_keys(
    desired_flows: Mapping[FlowKey, Flow],
    desired_meters: Mapping[int, Meter],
    installed_flows: Mapping[FlowKey, InstalledFlow],
    installed_meters: Mapping[int, Meter],
    *,
    flow_keys: Iterable[FlowKey],
    meter_ids: Iterable[int],
    now: float,
) -> Changes:
    """Like ``diff``, but only for the given flow keys and meter ids (what changed)."""
    flow_add, flow_modify, flow_delete = [], [], []
    for key in flow_keys:
        want, have = desired_flows.get(key), installed_flows.get(key)
        if want is None:
            if have is not None:
                flow_delete.append(have.flow)
        elif have is None:
            flow_add.append(want)
        elif have.flow != want or _expires_early(want, have, now):
            flow_modify.append(want)
    meter_add, meter_modify, meter_delete = [], [], []
    for meter_id in meter_ids:
        wanted, held = desired_meters.get(meter_id), installed_meters.get(meter_id)
        if wanted is None:
            if held is not None:
                meter_delete.append(held)
        elif held is None:
            meter_add.append(wanted)
        elif held != wanted:
            meter_modify.append(wanted)
    return Changes(
        tuple(meter_add),
        tuple(meter_modify),
        tuple(flow_add),
        tuple(flow_modify),
        tuple(flow_delete),
        tuple(meter_delete),
    )


def _expires_early(flow: Flow, have: InstalledFlow, now: float) -> bool:
    """True if the installed entry will time out before ``flow.until`` and soon."""
    if flow.until is None or have.deadline is None:
        return False
    return have.deadline < flow.until - 1 and have.deadline - now < REFRESH_MARGIN
