"""Desired versus installed: the smallest set of changes that makes a switch right.

One mechanism serves every occasion (switch connect, topology change,
controller restart, drift repair): read what the switch holds under our
cookies, compare it with what should be there, send the difference. When
nothing differs nothing is sent, which is what makes a restart quiet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tegu_ryu.openflow.flows import Flow, by_key


@dataclass(frozen=True)
class FlowDiff:
    """Changes for one switch. Adds (which replace same-key entries) go before deletes."""

    add: tuple[Flow, ...]
    delete: tuple[Flow, ...]

    def __bool__(self) -> bool:
        return bool(self.add or self.delete)


def diff_flows(desired: Iterable[Flow], installed: Iterable[Flow]) -> FlowDiff:
    """Flows to add or replace, and flows to delete, to turn ``installed`` into ``desired``.

    Adds come first so that traffic moving from one entry to another is never
    left without either (make before break).
    """
    want = by_key(desired)
    have = by_key(installed)
    add = tuple(flow for key, flow in sorted(want.items(), key=_order) if have.get(key) != flow)
    delete = tuple(flow for key, flow in sorted(have.items(), key=_order) if key not in want)
    return FlowDiff(add=add, delete=delete)


def _order(
    item: tuple[tuple[int, int, tuple[tuple[str, int | str], ...]], Flow],
) -> tuple[int, int, str]:
    (table, priority, fields), _ = item
    return (table, -priority, repr(fields))
