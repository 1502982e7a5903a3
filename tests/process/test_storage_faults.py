"""The reservation database's disk misbehaving under a running tegu-manager.

A full disk (a small tmpfs, filled), the database deleted while running, and a
read-only state directory at start. What must hold: no acknowledged write is
lost, refused writes say why (503 ``storage_unavailable``), reads and time go
on, the controller never exits on its own, and writes resume once the disk is
fixed.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_process import ControllerProcess, run_manager

STATIC = Path(__file__).resolve().parents[2] / "conf" / "static-topology.json"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a file system needs root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write zeros until the file system is full; returns the filler file."""
    filler = disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
    return filler


def reserve(controller: ControllerProcess, **fields: object) -> tuple[int, dict[str, object]]:
    body = {"src": "h1", "dst": "h3", "bandwidth": "1M", "duration": 600, **fields}
    status, answer = controller.request("POST", "/v1/reservations", body)
    return status, answer


def ids(controller: ControllerProcess) -> set[str]:
    status, listed = controller.request("GET", "/v1/reservations")
    assert status == 200
    return {r["id"] for r in listed["reservations"]}


@needs_root
def test_a_full_disk_refuses_writes_keeps_everything_else_and_recovers(
    tmp_path: Path, small_disk: Path
) -> None:
    controller = ControllerProcess(
        tmp_path, options={"static_topology": str(STATIC), "state_dir": str(small_disk / "state")}
    )
    controller.start()
    try:
        status, soon = reserve(controller, start=time.time() + 2, protocol="tcp")
        assert status == 201 and soon["state"] == "pending"
        filler = fill(small_disk)

        status, refused = reserve(controller, protocol="udp")
        assert status == 503, refused
        assert refused["error"]["code"] == "storage_unavailable"
        assert "full" in refused["error"]["message"]
        assert ids(controller) == {soon["id"]}
        health = controller.request("GET", "/v1/health")[1]
        assert health["status"] == "degraded" and not health["storage"]["writable"]
        controller.wait_for(
            lambda: (
                controller.request("GET", f"/v1/reservations/{soon['id']}")[1]["state"] == "active"
            ),
            timeout=10,
            what="the pending reservation to start while the disk is full",
        )
        time.sleep(2)  # ticks that cannot save must not stop the controller
        assert controller.process is not None and controller.process.poll() is None

        filler.unlink()
        controller.wait_for(
            lambda: controller.request("GET", "/v1/health")[1]["status"] == "ok",
            timeout=10,
            what="health to notice the disk has room again",
        )
        status, later = reserve(controller, protocol="udp")
        assert status == 201
        assert "writes are refused" in controller.log() and "writable again" in controller.log()

        assert controller.stop() == 0
        controller.start()
        assert ids(controller) == {soon["id"], later["id"]}
        restored = controller.request("GET", f"/v1/reservations/{soon['id']}")[1]
        assert restored["state"] == "active"
    finally:
        controller.stop()


def test_a_database_deleted_while_running_loses_no_acknowledged_write(tmp_path: Path) -> None:
    controller = ControllerProcess(tmp_path, options={"static_topology": str(STATIC)})
    controller.start()
    try:
        made = [reserve(controller, protocol="tcp")[1]["id"]]
        (tmp_path / "state" / "tegu.db").unlink()  # rm tegu.db: its log stays behind
        for port in (1, 2, 3):
            status, answer = reserve(controller, protocol="udp", dst_port=port)
            assert status == 201, answer
            made.append(answer["id"])
        for leftover in (tmp_path / "state").glob("tegu.db*"):  # rm tegu.db*: all of it
            leftover.unlink()
        status, answer = reserve(controller, protocol="icmp")
        assert status == 201, answer
        made.append(answer["id"])
        assert (tmp_path / "state" / "tegu.db").exists()
        assert "has been written again from the open copy" in controller.log()
        assert controller.stop() == 0
        controller.start()
        assert ids(controller) == set(made)
    finally:
        controller.stop()


@needs_root
def test_a_read_only_state_dir_stops_the_start_with_a_clear_message(tmp_path: Path) -> None:
    state = tmp_path / "state"
    controller = ControllerProcess(tmp_path, options={"static_topology": str(STATIC)})
    controller.start()
    reserve(controller)
    assert controller.stop() == 0
    subprocess.run(["mount", "--bind", str(state), str(state)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(state)], check=True)
        result = run_manager("--state-dir", str(state))
    finally:
        subprocess.run(["umount", str(state)], check=True)
    assert result.returncode == 2, result.stderr
    assert "read-only file system" in result.stderr
    controller.start()
    assert len(ids(controller)) == 1
    controller.stop()
