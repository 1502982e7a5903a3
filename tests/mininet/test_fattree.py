"""A k=4 fat-tree in mininet under the real controller: discovery, pingall, failover."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_process import ControllerProcess, free_port
from testbed import FatTreeTopo, Testbed

SWITCHES, DIRECTED_LINKS, HOSTS = 20, 64, 16


@pytest.fixture(scope="module")
def fattree(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Testbed, ControllerProcess]]:
    of_port = free_port()
    testbed = Testbed.build(FatTreeTopo(k=4, bw=100), of_port=of_port)
    controller = ControllerProcess(
        tmp_path_factory.mktemp("fattree"),
        options={"capacity_override": testbed.capacity_overrides()},
        of_port=of_port,
    )
    try:
        controller.start()
        testbed.start()
        yield testbed, controller
    finally:
        testbed.stop()
        controller.stop()


def counts(controller: ControllerProcess) -> tuple[int, int, int]:
    _, topo = controller.get("/v1/topology")
    return (
        sum(s["connected"] for s in topo["switches"]),
        sum(link["up"] for link in topo["links"]),
        len(topo["hosts"]),
    )


def test_discovery_and_pingall(fattree: tuple[Testbed, ControllerProcess]) -> None:
    testbed, controller = fattree
    controller.wait_for(
        lambda: counts(controller)[:2] == (SWITCHES, DIRECTED_LINKS),
        timeout=30,
        what="switches and links",
    )
    assert testbed.pingall() == 0
    assert counts(controller) == (SWITCHES, DIRECTED_LINKS, HOSTS)
    _, topo = controller.get("/v1/topology")
    assert {link["capacity_bps"] for link in topo["links"]} == {100_000_000}, (
        "tc shaping reached the controller"
    )
    ips = {ip for host in topo["hosts"] for ip in host["ips"]}
    assert {f"10.0.0.{n}" for n in range(1, HOSTS + 1)} <= ips


def test_pingall_recovers_within_10s_of_a_core_link_failure(
    fattree: tuple[Testbed, ControllerProcess],
) -> None:
    testbed, controller = fattree
    agg, core = "s5", "s1"  # pod 0's first aggregation switch and the first core
    agg_dpid = testbed.dpid(agg)
    testbed.link_down(agg, core)
    failed = time.monotonic()
    loss = 100.0
    while time.monotonic() - failed < 10 and loss > 0:
        loss = testbed.pingall()
    assert loss == 0, "pingall still loses packets 10 s after the link went down"
    print(f"pingall back to 0% loss {time.monotonic() - failed:.1f} s after the link went down")
    _, topo = controller.get("/v1/topology")
    down = [lk for lk in topo["links"] if not lk["up"]]
    assert down and all(agg_dpid in (lk["src"]["dpid"], lk["dst"]["dpid"]) for lk in down)
    assert len(down) == 2, "exactly the two directions of the failed link"


def test_demo_command_runs_to_the_end_without_a_terminal(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            str(root / "tools" / "demo"),
            "--no-cli",
            "--of-port",
            str(free_port()),
            "--api-port",
            str(free_port()),
            "--workdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Results: 0% dropped" in output
    assert f"Controller sees {SWITCHES} switches, {DIRECTED_LINKS} links, {HOSTS} hosts" in output
    assert "curl -s http://127.0.0.1:" in output
    assert "down    # take a link down; forwarding moves within seconds" in output  # on a loop
