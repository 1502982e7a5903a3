"""A restart with thousands of reservations on the switches: quick, quiet, and nobody dropped.

The six-bridge line of ``tools/bench_install.py`` on the private
ovs-vswitchd, 1,500 reservations (13,500 flows; 9 per reservation over 3 or
6 switches). The controller is stopped and started again on the same state.
What must hold: every reservation reports ``installed`` again, nothing is
sent to the switches, no switch connection drops (Open vSwitch drops a
controller that leaves its echo requests unanswered) and every switch answers
the controller's own echo promptly. ``tools/bench_restart.py`` measures the
same with 10,000 (README figures); the bounds here are generous.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from bench_install import BRIDGES, build, ready, static_topology
from bench_restart import all_installed, post_all
from controller_process import ControllerProcess
from privateovs import PrivateOvs

pytestmark = pytest.mark.ovs

COUNT = 1500


def test_a_restart_with_thousands_of_reservations_sends_nothing_and_drops_nobody(
    ovs: PrivateOvs, tmp_path: Path
) -> None:
    controller = ControllerProcess(
        tmp_path / "controller",
        topology=static_topology(),
        options={"capacity_override_default": "100G"},
    )
    try:
        controller.start()
        build(ovs, controller.of_port)
        controller.wait_for(lambda: ready(controller), timeout=30, what="six bridges synced")
        post_all(controller, COUNT)
        controller.wait_for(lambda: all_installed(controller, COUNT), timeout=120, what="installed")
        log_before, ovs_log_before = len(controller.log()), len(ovs.log())
        assert controller.stop() == 0
        began = time.monotonic()
        controller.start()
        controller.wait_for(lambda: all_installed(controller, COUNT), timeout=60, what="again")
        took = time.monotonic() - began
        controller.wait_for(
            lambda: all(
                s["echo_ms"] is not None
                for s in controller.get("/v1/topology")[1]["switches"]
                if s["connected"]
            ),
            timeout=10,
            what="an echo round trip from every switch",
        )
        time.sleep(1)  # a change sent late would be in the log by now
        log, ovs_log = controller.log()[log_before:], ovs.log()[ovs_log_before:]
        switches = [s for s in controller.get("/v1/topology")[1]["switches"] if s["connected"]]
    finally:
        controller.stop()
        for n in range(1, BRIDGES + 1):
            ovs.del_bridge(f"b{n}")
    print(f"{COUNT} reservations reconciled in {took:.1f} s after the restart")
    assert re.findall(r"sent \d+ changes", log) == []
    assert "disconnected" not in log and "inactivity probe" not in ovs_log
    assert len(switches) == BRIDGES
    assert all(s["echo_ms"] is not None and s["echo_ms"] < 1000 and not s["slow"] for s in switches)
    assert took < 45
