"""The static topology file: switches, links and hosts declared by the operator.

Format (JSON)::

    {"switches": ["0000000000000001", "0000000000000002"],
     "links": [{"src": "0000000000000001:3", "dst": "0000000000000002:3",
                "capacity": "50M", "bidirectional": true}],
     "hosts": [{"name": "h1", "mac": "00:00:00:00:00:01", "ips": ["10.0.0.1"],
                "attach": "0000000000000001:1", "tenant": "acme"}]}

A host's ``tenant`` (optional) is the tenant that may mirror its port and
send mirror copies to it; hosts without one are mirrored by admins only.

Every error names the entry and the field, because an operator fixing a
200-line file needs to know where to look.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

from tegu_ryu.errors import ConfigurationError
from tegu_ryu.topology.model import Host, Topology
from tegu_ryu.topology.refs import LinkId, RefError, parse_dpid, parse_port_ref
from tegu_ryu.units import UnitError, parse_bitrate

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


class StaticTopologyError(ConfigurationError):
    """The static topology file is unreadable or wrong; the message says where."""


def load_static_topology(path: str | Path, topology: Topology) -> None:
    """Read ``path`` and add everything it declares to ``topology``."""
    try:
        document = json.loads(Path(path).read_text())
    except OSError as exc:
        raise StaticTopologyError(f"cannot read static topology {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise StaticTopologyError(f"{path}: not valid JSON: {exc}") from exc
    try:
        apply_static_topology(document, topology)
    except StaticTopologyError as exc:
        raise StaticTopologyError(f"{path}: {exc}") from exc


def apply_static_topology(document: Any, topology: Topology) -> None:
    """Validate a parsed static topology document and add it to ``topology``.

    Everything is validated before anything is added, so a bad file changes nothing.
    """
    if not isinstance(document, dict):
        raise StaticTopologyError("the top level must be an object")
    unknown = set(document) - {"switches", "links", "hosts"}
    if unknown:
        raise StaticTopologyError(f"unknown top-level keys: {', '.join(sorted(unknown))}")
    switches = [_parse_switch(i, s) for i, s in enumerate(_list(document, "switches"))]
    links = [lk for i, entry in enumerate(_list(document, "links")) for lk in _parse_link(i, entry)]
    hosts = [_parse_host(i, h) for i, h in enumerate(_list(document, "hosts"))]
    declared = set(switches)
    for link_id, _ in links:
        for end in (link_id.src, link_id.dst):
            if end.dpid not in declared:
                raise StaticTopologyError(f"link {link_id}: switch {end.dpid:016x} is not declared")
    for host in hosts:
        if host.attach.dpid not in declared:
            raise StaticTopologyError(
                f"host {host.mac}: switch {host.attach.dpid:016x} is not declared"
            )
    for dpid in switches:
        topology.add_static_switch(dpid)
    for link_id, capacity in links:
        topology.add_static_link(link_id, capacity)
    for host in hosts:
        topology.add_static_host(host)


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key, [])
    if not isinstance(value, list):
        raise StaticTopologyError(f'"{key}" must be a list')
    return value


def _parse_switch(index: int, entry: Any) -> int:
    if not isinstance(entry, str):
        raise StaticTopologyError(f"switches[{index}]: expected a datapath id string")
    try:
        return parse_dpid(entry)
    except RefError as exc:
        raise StaticTopologyError(f"switches[{index}]: {exc}") from exc


def _parse_link(index: int, entry: Any) -> list[tuple[LinkId, int | None]]:
    where = f"links[{index}]"
    if not isinstance(entry, dict):
        raise StaticTopologyError(f"{where}: expected an object")
    unknown = set(entry) - {"src", "dst", "capacity", "bidirectional"}
    if unknown:
        raise StaticTopologyError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    try:
        src = parse_port_ref(_required_str(entry, "src", where))
        dst = parse_port_ref(_required_str(entry, "dst", where))
    except RefError as exc:
        raise StaticTopologyError(f"{where}: {exc}") from exc
    if src.dpid == dst.dpid:
        raise StaticTopologyError(f"{where}: a link must join two different switches")
    capacity: int | None = None
    if "capacity" in entry:
        try:
            capacity = parse_bitrate(entry["capacity"])
        except UnitError as exc:
            raise StaticTopologyError(f"{where}.capacity: {exc}") from exc
        if capacity <= 0:
            raise StaticTopologyError(f"{where}.capacity: must be positive")
    bidirectional = entry.get("bidirectional", True)
    if not isinstance(bidirectional, bool):
        raise StaticTopologyError(f"{where}.bidirectional: expected true or false")
    forward = LinkId(src, dst)
    return (
        [(forward, capacity), (forward.reversed(), capacity)]
        if bidirectional
        else [(forward, capacity)]
    )


def _parse_host(index: int, entry: Any) -> Host:
    where = f"hosts[{index}]"
    if not isinstance(entry, dict):
        raise StaticTopologyError(f"{where}: expected an object")
    unknown = set(entry) - {"name", "mac", "ips", "attach", "tenant"}
    if unknown:
        raise StaticTopologyError(f"{where}: unknown keys: {', '.join(sorted(unknown))}")
    mac = _required_str(entry, "mac", where).lower()
    if not _MAC.match(mac):
        raise StaticTopologyError(f"{where}.mac: {mac!r} is not a MAC address")
    try:
        attach = parse_port_ref(_required_str(entry, "attach", where))
    except RefError as exc:
        raise StaticTopologyError(f"{where}.attach: {exc}") from exc
    ips = entry.get("ips", [])
    if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
        raise StaticTopologyError(f"{where}.ips: expected a list of address strings")
    try:
        canonical = tuple(str(ipaddress.ip_address(ip)) for ip in ips)
    except ValueError as exc:
        raise StaticTopologyError(f"{where}.ips: {exc}") from exc
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise StaticTopologyError(f"{where}.name: expected a string")
    tenant = entry.get("tenant")
    if tenant is not None and (not isinstance(tenant, str) or not tenant):
        raise StaticTopologyError(f"{where}.tenant: expected a tenant name")
    return Host(mac=mac, attach=attach, ips=canonical, name=name, tenant=tenant)


def _required_str(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str):
        raise StaticTopologyError(f"{where}.{key}: required string is missing")
    return value
