"""Desired versus installed: the smallest set of changes that makes a switch right.

One mechanism serves every occasion (switch connect, topology change,
reservation start and end, controller restart, drift repair): read what the
switch holds under our cookies and meter ids, compare with what should be
there, send the difference. When nothing differs nothing is sent, which is
what makes a restart quiet. Each kind of object (``ObjectKind``: flows,
meters) is one table, keyed and compared its own way, diffed by one function.

Changes come in three phases, and a phase is only sent once every switch has
confirmed the one before (barriers), so traffic always has somewhere to go:

1. new meters, changed meter rates, and flows the switch does not have yet
   (a moved reservation's flows on its new path);
2. flows whose content changes in place (the ingress flow that switches the
   traffic onto the new path), and flows refreshed before their hard timeout;
3. flows and then meters that are no longer wanted (the old path).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

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
        if phase == 1:
            return Changes(
                flow_modify=self.flow_modify,
                flow_delete=self.flow_delete,
                meter_delete=self.meter_delete,
            )
        if phase == 2:
            return replace(self, flow_modify=())
        if phase == 3:
            return replace(self, flow_delete=(), meter_delete=())
        return self

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


KeyT = TypeVar("KeyT", bound=Hashable)
ValueT = TypeVar("ValueT")
HeldT = TypeVar("HeldT")


@dataclass(frozen=True)
class ObjectKind(Generic[KeyT, ValueT, HeldT]):
    """One kind of object the reconciler keeps on switches: how it is keyed, what an installed
    entry holds, and when an installed one must be sent again.

    Flows and meters are the two today; a group, an OVSDB row or an agent's
    action is another kind (its transport and codec live with its protocol),
    not another loop.
    """

    name: str
    key: Callable[[ValueT], KeyT]
    held: Callable[[HeldT], ValueT]
    stale: Callable[[ValueT, HeldT, float], bool]


FLOWS: ObjectKind[FlowKey, Flow, InstalledFlow] = ObjectKind(
    "flow",
    key=lambda flow: flow.key,
    held=lambda entry: entry.flow,
    stale=lambda want, have, now: have.flow != want or _expires_early(want, have, now),
)
METERS: ObjectKind[int, Meter, Meter] = ObjectKind(
    "meter",
    key=lambda meter: meter.id,
    held=lambda meter: meter,
    stale=lambda want, have, now: have != want,
)


def diff_table(
    kind: ObjectKind[KeyT, ValueT, HeldT],
    desired: Mapping[KeyT, ValueT],
    installed: Mapping[KeyT, HeldT],
    now: float,
    keys: Iterable[KeyT] | None = None,
) -> tuple[list[ValueT], list[ValueT], list[ValueT]]:
    """(add, modify, delete) that make ``installed`` what ``desired`` says, for ``keys``
    (default: every key either side has)."""
    if keys is None:
        keys = [*desired, *(key for key in installed if key not in desired)]
    add, modify, delete = [], [], []
    for key in keys:
        want, have = desired.get(key), installed.get(key)
        if want is None:
            if have is not None:
                delete.append(kind.held(have))
        elif have is None:
            add.append(want)
        elif kind.stale(want, have, now):
            modify.append(want)
    return add, modify, delete


def diff(
    desired_flows: Iterable[Flow],
    desired_meters: Iterable[Meter],
    installed_flows: Mapping[FlowKey, InstalledFlow],
    installed_meters: Mapping[int, Meter],
    now: float,
) -> Changes:
    """Everything needed to turn the installed state into the desired one."""
    flows = diff_table(FLOWS, by_key(desired_flows), installed_flows, now)
    meters = diff_table(METERS, {m.id: m for m in desired_meters}, installed_meters, now)
    return _changes(flows, meters)


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
    flows = diff_table(FLOWS, desired_flows, installed_flows, now, flow_keys)
    meters = diff_table(METERS, desired_meters, installed_meters, now, meter_ids)
    return _changes(flows, meters)


def _changes(
    flows: tuple[list[Flow], list[Flow], list[Flow]],
    meters: tuple[list[Meter], list[Meter], list[Meter]],
) -> Changes:
    (flow_add, flow_modify, flow_delete), (meter_add, meter_modify, meter_delete) = flows, meters
    return Changes(
        meter_add=tuple(meter_add),
        meter_modify=tuple(meter_modify),
        flow_add=tuple(flow_add),
        flow_modify=tuple(flow_modify),
        flow_delete=tuple(flow_delete),
        meter_delete=tuple(meter_delete),
    )


def _expires_early(flow: Flow, have: InstalledFlow, now: float) -> bool:
    """True if the installed entry will time out before ``flow.until`` and soon."""
    if flow.until is None or have.deadline is None:
        return False
    return have.deadline < flow.until - 1 and have.deadline - now < REFRESH_MARGIN
