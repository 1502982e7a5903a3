"""What a host has, read from its OVSDB replica: bridges by datapath id and their interfaces.

Hypervisors tag a VM's interface with ``external_ids`` (libvirt, Nova and
Neutron set ``iface-id``, ``attached-mac``, ``vm-uuid`` or ``vm-id``; some
also ``vm-name``); these let the controller resolve ``vm:NAME`` and
``iface:ID`` endpoints to a MAC. Bridges without a datapath id (not yet
started by ovs-vswitchd) and ports without an OpenFlow number are left out:
the controller could not use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tegu_ryu.agents.protocol import MAX_TEXT, Interface, InventoryBridge

MAX_PORT = 0xFEFF  # OVSDB keeps OpenFlow 1.0 numbers: above this are LOCAL (65534) and such


def read_inventory(tables: Mapping[str, Any]) -> tuple[InventoryBridge, ...]:
    """For ``OvsdbClient.read``: every bridge with a datapath id, sorted by name."""
    bridges = []
    for bridge in tables["Bridge"].rows.values():
        dpid = _single(bridge.datapath_id)
        if not dpid:
            continue
        interfaces = sorted(
            (
                found
                for port in bridge.ports
                for iface in port.interfaces
                if (found := _interface(iface)) is not None
            ),
            key=lambda i: i.ofport,
        )
        bridges.append(InventoryBridge(_clip(bridge.name), int(dpid, 16), tuple(interfaces)))
    return tuple(sorted(bridges, key=lambda b: b.name))


def _interface(row: Any) -> Interface | None:
    ofport = _single(row.ofport)
    if not isinstance(ofport, int) or not 0 < ofport <= MAX_PORT:
        return None
    ids: Mapping[str, str] = row.external_ids
    return Interface(
        name=_clip(row.name),
        ofport=ofport,
        mac=_clip(str(_single(row.mac_in_use) or "")),
        iface_id=_clip(ids.get("iface-id", "")),
        attached_mac=_clip(ids.get("attached-mac", "")),
        vm_uuid=_clip(ids.get("vm-uuid") or ids.get("vm-id", "")),
        vm_name=_clip(ids.get("vm-name", "")),
    )


def _single(value: Any) -> Any:
    """An optional column's value: python-ovs gives a list of zero or one."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _clip(text: str) -> str:
    return text[:MAX_TEXT]
