"""One OVSDB server through ovsdbapp: its bridges by datapath id, their datapath types and the
Open vSwitch version.

ovsdbapp keeps one IDL thread per connection, replicating only the tables
registered here (``Open_vSwitch`` and ``Bridge``), and answers reads from
that replica. The controller learns from it what OpenFlow cannot say: whether
a bridge runs the userspace datapath (``netdev``, where ``set_queue`` means
nothing) or the kernel one, and which OVS it is.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

TABLES = ("Open_vSwitch", "Bridge")


@dataclass(frozen=True)
class OvsdbBridge:
    name: str
    dpid: int
    datapath_type: str  # "system" (the kernel's) where the row leaves it empty, as OVS does


@dataclass(frozen=True)
class OvsdbView:
    ovs_version: str | None  # None where the server's row does not say
    datapath_types: tuple[str, ...]
    bridges: tuple[OvsdbBridge, ...]


class OvsdbClient:
    """A connection to one OVSDB server (``unix:PATH``, ``tcp:HOST:PORT``, ``ssl:...``)."""

    def __init__(self, remote: str, timeout: float = 5.0) -> None:
        # Imported here: only a controller with an OVSDB remote needs python-ovs, which
        # imports eventlet when it is installed, and eventlet warns that it is deprecated.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
            from ovsdbapp.backend.ovs_idl import connection  # noqa: PLC0415
            from ovsdbapp.schema.open_vswitch import impl_idl  # noqa: PLC0415
        idl = connection.OvsdbIdl.from_server(remote, "Open_vSwitch", helper_tables=TABLES)
        self._connection = connection.Connection(idl, timeout)
        self._api = impl_idl.OvsdbIdl(self._connection)

    def view(self) -> OvsdbView:
        """The server's version, datapath types and bridges (those with a datapath id)."""
        system = self._api.db_list(
            "Open_vSwitch", columns=["ovs_version", "datapath_types"]
        ).execute(check_error=True)
        rows = self._api.db_list(
            "Bridge", columns=["name", "datapath_id", "datapath_type"]
        ).execute(check_error=True)
        first: dict[str, Any] = system[0] if system else {}
        bridges = tuple(
            OvsdbBridge(
                str(row["name"]),
                int(_single(row["datapath_id"]), 16),
                str(row["datapath_type"]) or "system",
            )
            for row in rows
            if _single(row["datapath_id"])
        )
        return OvsdbView(
            ovs_version=str(_single(first.get("ovs_version", ""))) or None,
            datapath_types=tuple(sorted(first.get("datapath_types", []) or [])),
            bridges=bridges,
        )

    def close(self) -> None:
        self._connection.stop()


def _single(value: Any) -> Any:
    """An optional OVSDB column's value: ovsdbapp gives [] when it is unset."""
    if isinstance(value, list):
        return value[0] if value else ""
    return value
