"""What each switch can do, asked of the switch (OpenFlow meter features) and of its OVSDB
server (datapath type, OVS version), and the enforcement chosen from it, as the topology
shows it: meters on Open vSwitch's userspace datapaths, unless a per-switch override says
otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from controller_process import ControllerProcess
from privateovs import PrivateOvs

pytestmark = pytest.mark.ovs

PROBED, OVERRIDDEN = 0x31, 0x32


@pytest.fixture(scope="module")
def controller(
    ovs: PrivateOvs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ControllerProcess]:
    controller = ControllerProcess(
        tmp_path_factory.mktemp("capabilities"),
        options={
            "ovsdb_remotes": f"unix:{ovs.rundir / 'db.sock'}",
            "enforcement_override": f"{OVERRIDDEN:016x}=meters",
        },
    )
    controller.start()
    ovs.add_bridge("p1", PROBED, controller.of_port)
    ovs.add_bridge("p2", OVERRIDDEN, controller.of_port)
    yield controller
    controller.stop()
    ovs.del_bridge("p1")
    ovs.del_bridge("p2")


def switch(controller: ControllerProcess, dpid: int) -> dict[str, Any] | None:
    status, topology = controller.get("/v1/topology")
    found = (
        [s for s in topology["switches"] if s["dpid"] == f"{dpid:016x}"] if status == 200 else []
    )
    return found[0] if found else None


def described(controller: ControllerProcess, dpid: int) -> bool:
    entry = switch(controller, dpid)
    return bool(
        entry
        and entry["connected"]
        and entry["datapath_type"] is not None
        and "switch answers" not in entry["enforcement"]["reason"]
    )


def test_the_datapath_is_described_and_meters_are_chosen(
    controller: ControllerProcess, ovs: PrivateOvs
) -> None:
    controller.wait_for(lambda: described(controller, PROBED), timeout=20, what="p1 probed")
    probed = switch(controller, PROBED)
    assert probed is not None
    stored = ovs.vsctl("get", "bridge", "p1", "datapath_type").strip().strip('"')
    assert probed["datapath_type"] == stored  # this private switch's test datapath: "dummy"
    version = ovs.vsctl("get", "open_vswitch", ".", "ovs_version").strip().strip('"')
    assert probed["ovs_version"] == (None if version == "[]" else version)  # unset here
    assert probed["enforcement"]["backend"] == "meters"
    assert "OpenFlow meters with drop bands" in probed["enforcement"]["reason"]
    assert "meter" in controller.log() and "OpenFlow meters" in controller.log()


def test_a_per_switch_override_is_honoured_and_said(controller: ControllerProcess) -> None:
    controller.wait_for(lambda: described(controller, OVERRIDDEN), timeout=20, what="p2 probed")
    overridden = switch(controller, OVERRIDDEN)
    assert overridden is not None and overridden["enforcement"] == {
        "backend": "meters",
        "reason": "enforcement = meters (configured for this switch)",
        "problem": None,
    }
