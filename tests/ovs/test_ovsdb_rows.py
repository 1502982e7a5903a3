"""tegu_ryu's OVSDB rows on a real ovsdb-server: written in one transaction, read back equal
(so nothing is written again), removed again, and other rows left exactly as they were."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from privateovs import PrivateOvs

from tegu_ryu.ovsdb.client import OvsdbClient
from tegu_ryu.ovsdb.rows import BridgeRows, PortQueues, QueueRow, TunnelPort, row_changes

pytestmark = pytest.mark.ovs

DPID = 0x51
TUNNEL = TunnelPort("tegu-t64001", "gre", "10.99.0.3", 42, 64001, "r-1")
QUEUES = PortQueues(1, 100_000_000, (QueueRow(7, 20_000_000, 20_000_000, "r-2"),))
WANTED = BridgeRows(frozenset({TUNNEL}), {1: QUEUES})


@pytest.fixture()
def bridge(ovs: PrivateOvs) -> Iterator[str]:
    ovs.add_bridge("rows1", DPID, 6999)
    ovs.add_host_port("rows1", "rows1-h1", 1)
    ovs.add_host_port("rows1", "rows1-h2", 2)
    ovs.vsctl(
        "add-port", "rows1", "rows1-gre", "--", "set", "interface", "rows1-gre", "type=gre",
        "options:remote_ip=10.0.0.9",
    )  # fmt: skip
    ovs.vsctl(
        "set", "port", "rows1-h2", "qos=@q", "--", "--id=@q", "create", "qos", "type=linux-htb",
        "other_config:max-rate=5000000",
    )  # fmt: skip
    yield "rows1"
    ovs.del_bridge("rows1")
    for qos in ovs.vsctl("--bare", "--columns=_uuid", "list", "qos").split():
        ovs.vsctl("destroy", "qos", qos)


@pytest.fixture()
def client(ovs: PrivateOvs) -> Iterator[OvsdbClient]:
    client = OvsdbClient(f"unix:{ovs.rundir / 'db.sock'}")
    yield client
    client.close()


def held_when(client: OvsdbClient, bridge: str, wanted: BridgeRows) -> BridgeRows:
    """What the replica says once it shows ``wanted`` (or after 5 s)."""
    deadline = time.monotonic() + 5
    held, _ = client.held(bridge)
    while held != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        held, _ = client.held(bridge)
    return held


def snapshot(ovs: PrivateOvs) -> dict[str, str]:
    return {
        table: ovs.vsctl("--columns=name,type,options,external_ids", "list", table)
        if table == "interface"
        else ovs.vsctl("list", table)
        for table in ("interface", "qos")
    }


def test_rows_are_written_read_back_equal_and_removed(
    ovs: PrivateOvs, client: OvsdbClient, bridge: str
) -> None:
    held, foreign = client.held(bridge)
    assert held == BridgeRows() and foreign == frozenset({2})  # rows1-h2's QoS is not ours
    changes = row_changes(bridge, WANTED, held, foreign)
    assert len(changes) == 2
    client.apply(changes)
    assert held_when(client, bridge, WANTED) == WANTED
    assert ovs.vsctl("get", "interface", "tegu-t64001", "ofport").strip() == "64001"
    assert "tegu-owner=tegu_ryu" in ovs.vsctl("list", "queue")
    assert not row_changes(bridge, WANTED, *client.held(bridge))  # nothing to write again

    client.apply(row_changes(bridge, BridgeRows(), *client.held(bridge)))
    assert held_when(client, bridge, BridgeRows()) == BridgeRows()
    assert "tegu" not in ovs.vsctl("list", "queue") + ovs.vsctl("list", "qos")
    assert "rows1-gre" in ovs.vsctl("list-ports", bridge)
    assert "5000000" in ovs.vsctl("list", "qos")  # the foreign QoS is still there


def test_foreign_rows_are_never_changed(ovs: PrivateOvs, client: OvsdbClient, bridge: str) -> None:
    before = snapshot(ovs)
    queues_on_foreign_port = BridgeRows(queues={2: PortQueues(2, 1, ())})
    changes = row_changes(bridge, queues_on_foreign_port, *client.held(bridge))
    assert not changes  # a port whose QoS is someone else's is not ours to set
    client.apply(row_changes(bridge, WANTED, *client.held(bridge)))
    held_when(client, bridge, WANTED)
    client.apply(row_changes(bridge, BridgeRows(), *client.held(bridge)))
    held_when(client, bridge, BridgeRows())
    assert snapshot(ovs) == before


def test_a_hand_deleted_row_is_found_missing(
    ovs: PrivateOvs, client: OvsdbClient, bridge: str
) -> None:
    client.apply(row_changes(bridge, WANTED, *client.held(bridge)))
    held_when(client, bridge, WANTED)
    ovs.vsctl("del-port", bridge, "tegu-t64001")
    held = held_when(client, bridge, BridgeRows(queues={1: QUEUES}))
    assert row_changes(bridge, WANTED, held).add_tunnels == (TUNNEL,)
