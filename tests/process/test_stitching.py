"""Two real controllers, siteA and siteB, stitching reservations over their REST APIs.

Static topologies (no switches needed): admission, the two-phase protocol over
real HTTP, the CLI, cancels from either side, and a cancel owed across
restarts of both controllers. Prints the measured setup time of a stitched
reservation (hold + commit across the two controllers) for the README.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from controller_process import ControllerProcess, free_port

STATIC = Path(__file__).resolve().parents[2] / "conf" / "static-topology.json"
BIN = Path(sys.executable).parent


def configure(workdir: Path, me: str, other: str, other_port: int, port: int) -> ControllerProcess:
    token = workdir / "shared.token"
    return ControllerProcess(
        workdir / me,
        api_port=port,
        options={
            "static_topology": str(STATIC),
            "domain": me,
            "stitch": f"wan:0000000000000002:9 peer={other} vlan=100-101 capacity=100M",
            "peer": f"{other}=http://127.0.0.1:{other_port}",
            "peer_token_file": f"{other}={token}",
            "stitch_hold_timeout": "3",
            "peer_timeout": "2",
            "peer_retry_interval": "0.5",
        },
    )


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[tuple[ControllerProcess, ControllerProcess]]:
    (tmp_path / "shared.token").write_text("a-and-b\n")
    port_a, port_b = free_port(), free_port()
    a = configure(tmp_path, "siteA", "siteB", port_b, port_a)
    b = configure(tmp_path, "siteB", "siteA", port_a, port_b)
    a.start()
    b.start()
    yield a, b
    a.stop()
    b.stop()


def reserve(a: ControllerProcess, bandwidth: str = "10M", dst: str = "siteB/h3") -> tuple[int, Any]:
    body = {"src": "h1", "dst": dst, "bandwidth": bandwidth, "duration": 3600}
    return a.request("POST", "/v1/reservations", body)


def state_of(site: ControllerProcess, reservation_id: str) -> str:
    status, body = site.get(f"/v1/reservations/{reservation_id}")
    assert status == 200, body
    return str(body["state"])


def test_the_cli_reserves_across_domains_and_both_sides_show_it(
    sites: tuple[ControllerProcess, ControllerProcess],
) -> None:
    a, b = sites
    env = {**os.environ, "TEGU_CONFIG": "/nonexistent", "TEGU_URL": a.url}
    made = subprocess.run(
        [str(BIN / "tegu"), "--json", "reserve", "h1", "siteB/h3", "20M", "--for", "1h"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    mine = json.loads(made.stdout)
    assert mine["type"] == "stitch" and mine["state"] == "active"
    theirs_id = mine["stitch"]["peer_reservation"]
    status, theirs = b.get(f"/v1/reservations/{theirs_id}")
    assert status == 200 and theirs["stitch"]["peer_reservation"] == mine["id"]
    assert theirs["stitch"]["label"] == mine["stitch"]["label"] == 100
    shown = subprocess.run(
        [str(BIN / "tegu"), "show", mine["id"]],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert shown.returncode == 0 and mine["id"] in shown.stdout


def test_setup_time_labels_and_cancel_from_either_side(
    sites: tuple[ControllerProcess, ControllerProcess],
) -> None:
    a, b = sites
    took = []
    for _ in range(10):
        began = time.perf_counter()
        status, mine = reserve(a)
        took.append(time.perf_counter() - began)
        assert status == 201, mine
        assert a.request("DELETE", f"/v1/reservations/{mine['id']}")[0] == 204
    print(
        f"\nstitched setup (hold + commit across two controllers), 10 runs: "
        f"median {statistics.median(took) * 1000:.1f} ms, max {max(took) * 1000:.1f} ms"
    )
    first, second = reserve(a)[1], reserve(a, dst="siteB/h4")[1]
    assert [first["stitch"]["label"], second["stitch"]["label"]] == [100, 101]
    status, refused = reserve(a, dst="siteB/h2")
    assert status == 409 and refused["error"]["code"] == "no_label"
    status, duplicate = reserve(a)
    assert status == 409 and duplicate["error"]["code"] == "duplicate"
    # Cancel on B's side: A's side goes within 2 s.
    began = time.monotonic()
    status, _ = b.request("DELETE", f"/v1/reservations/{second['stitch']['peer_reservation']}")
    assert status == 204
    assert state_of(a, second["id"]) == "cancelled"
    assert time.monotonic() - began < 2


def test_a_cancel_owed_to_a_dead_peer_survives_restarts_and_is_delivered(
    sites: tuple[ControllerProcess, ControllerProcess],
) -> None:
    a, b = sites
    _, mine = reserve(a)
    theirs = mine["stitch"]["peer_reservation"]
    b.stop()
    assert a.request("DELETE", f"/v1/reservations/{mine['id']}")[0] == 204
    assert a.get(f"/v1/reservations/{mine['id']}")[1]["stitch"]["peer_pending"] == "cancel"
    a.stop()
    a.start()
    b.start()
    b.wait_for(lambda: state_of(b, theirs) == "cancelled", timeout=10, what="the owed cancel")
    a.wait_for(
        lambda: a.get(f"/v1/reservations/{mine['id']}")[1]["stitch"]["peer_pending"] is None,
        timeout=10,
        what="the cancel acknowledged",
    )


def test_a_dead_peer_leaves_nothing_held(
    sites: tuple[ControllerProcess, ControllerProcess],
) -> None:
    a, b = sites
    b.stop()
    status, failed = reserve(a)
    assert status == 502 and failed["error"]["code"] == "peer_unreachable"
    assert a.get("/v1/reservations?state=held")[1]["reservations"] == []


def test_a_peer_frozen_during_the_hold_leaves_nothing_held_on_either_side(
    sites: tuple[ControllerProcess, ControllerProcess],
) -> None:
    """B stops answering (SIGSTOP) while A asks it to hold: A gives up after peer_timeout and
    holds nothing; B, woken, may still hold what it read, until its hold lapses by itself."""
    a, b = sites
    assert b.process is not None
    b.process.send_signal(signal.SIGSTOP)
    try:
        began = time.monotonic()
        status, failed = reserve(a)
        assert status == 502 and failed["error"]["code"] == "peer_unreachable"
        assert time.monotonic() - began < 4  # peer_timeout is 2 s
        assert a.get("/v1/reservations?state=held")[1]["reservations"] == []
    finally:
        b.process.send_signal(signal.SIGCONT)
    b.wait_for(
        lambda: b.get("/v1/reservations?state=held")[1]["reservations"] == [],
        timeout=8,
        what="B's orphaned hold lapsed (stitch_hold_timeout is 3 s)",
    )
    assert a.get("/v1/reservations?state=active")[1]["reservations"] == []


def agreed_terms(site: ControllerProcess, reservation_id: str) -> tuple[Any, ...]:
    """What both sides must agree on: end, bandwidth, cancelled; and the change held, if any."""
    status, body = site.get(f"/v1/reservations/{reservation_id}")
    assert status == 200, body
    stitch = body["stitch"]
    return body["end"], body["bandwidth"], body["state"] == "cancelled", stitch.get("change")


def test_a_peer_frozen_during_a_change_ends_agreeing_with_the_origin(
    sites: tuple[ControllerProcess, ControllerProcess],
) -> None:
    """B stops answering (SIGSTOP) while A asks it to hold a change: A gives up after
    peer_timeout and keeps the terms before; B, woken, holds what it read after A gave up
    (the old protocol applied it there for good), and its hold lapses by itself, so both
    sides end with the same end and bandwidth and the reservation live on both."""
    a, b = sites
    _, mine = reserve(a)
    theirs = mine["stitch"]["peer_reservation"]
    before = agreed_terms(a, mine["id"])
    assert before == agreed_terms(b, theirs) and before[3] is None
    assert b.process is not None
    b.process.send_signal(signal.SIGSTOP)
    try:
        status, failed = a.request(
            "PATCH",
            f"/v1/reservations/{mine['id']}",
            {"bandwidth": "20M", "end": int(time.time()) + 7200},
        )
        assert status == 502 and failed["error"]["code"] == "peer_unreachable"
        assert agreed_terms(a, mine["id"]) == before
    finally:
        b.process.send_signal(signal.SIGCONT)
    b.wait_for(
        lambda: agreed_terms(b, theirs) != before,
        timeout=8,
        what="B, woken, read the hold of the change A gave up on",
    )
    b.wait_for(
        lambda: agreed_terms(b, theirs) == before,
        timeout=8,
        what="B's hold of the change lapsed (stitch_hold_timeout is 3 s)",
    )
    assert agreed_terms(a, mine["id"]) == before
    assert state_of(a, mine["id"]) == state_of(b, theirs) == "active"
