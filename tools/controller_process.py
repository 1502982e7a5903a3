"""Run ``tegu-manager`` as a child process and talk to its REST API.

Used by the demo, the benchmarks and the integration tests, so that all of
them exercise the real console script with a real configuration file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manager_command() -> list[str]:
    """The tegu-manager beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("tegu-manager")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("tegu-manager")
    if found is None:
        raise FileNotFoundError("tegu-manager is not installed; run tools/setup first")
    return [found]


def run_manager(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """tegu-manager with ``args`` on free ports, to its exit: for starts that must fail."""
    ports = ["--api-port", str(free_port()), "--ofp-tcp-listen-port", str(free_port())]
    return subprocess.run(
        [*manager_command(), *ports, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ControllerProcess:
    """One tegu-manager child: configuration file in, API URL out, log kept for failures.

    ``topology`` is a static topology document, written beside the
    configuration and named by its ``static_topology``. No OVSDB server is
    read unless ``options`` names one (``ovsdb_remotes``): the machine's own
    may hold bridges with the same datapath ids as a test's.
    """

    def __init__(
        self,
        workdir: Path,
        options: dict[str, str | Sequence[str]] | None = None,
        api_port: int | None = None,
        of_port: int | None = None,
        topology: Mapping[str, Any] | None = None,
    ) -> None:
        self.workdir = workdir
        self.api_port = api_port or free_port()
        self.of_port = of_port or free_port()
        self.topology = topology
        self.options: dict[str, str | Sequence[str]] = {
            "state_dir": str(workdir / "state"),
            "ovsdb_remotes": "none",
        }
        if topology is not None:
            self.options["static_topology"] = str(workdir / "static.json")
        self.options.update(options or {})
        self.config_path = workdir / "tegu.conf"
        self.log_path = workdir / "tegu-manager.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def write_config(self) -> None:
        if self.topology is not None:
            (self.workdir / "static.json").write_text(json.dumps(self.topology, indent=1))
        lines = [
            "[DEFAULT]",
            f"api_port = {self.api_port}",
            f"ofp_tcp_listen_port = {self.of_port}",
        ]
        for key, value in self.options.items():
            values = [value] if isinstance(value, str) else list(value)
            lines.extend(f"{key} = {item}" for item in values)
        self.config_path.write_text("\n".join(lines) + "\n")

    def start(self, extra_args: Sequence[str] = ()) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*manager_command(), "--config-file", str(self.config_path), *extra_args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.wait_for(lambda: self.get("/v1/health")[0] == 200, timeout=20, what="API up")

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL if it will not go; returns the exit status."""
        if self.process is None:
            return None
        status = terminate(self.process, timeout)
        self.process = None
        return status

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def metric(self, name: str) -> float:
        """The value of one unlabelled metric in ``GET /metrics`` (0 when absent)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def restart_and_sync_rows(self, switches: int, syncs: int = 2) -> str:
        """Stop, start again, and wait until the switches are synced and the OVSDB sync has
        compared the bridges ``syncs`` times; the log written since the stop (what the
        restart did)."""
        self.stop()
        logged = len(self.log())
        self.start()
        self.wait_for_sync(switches, 0)
        self.wait_for(
            lambda: self.metric("tegu_ovsdb_bridge_syncs_total") >= syncs,
            timeout=30,
            what=f"{syncs} OVSDB syncs",
        )
        return self.log()[logged:]

    def get(self, path: str) -> tuple[int, Any]:
        try:
            return self.request("GET", path)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, None

    def wait_for_links(self, count: int, timeout: float = 30) -> None:
        """Wait until the controller sees ``count`` directed links up (discovery is done)."""
        self.wait_for(
            lambda: sum(link["up"] for link in self.get("/v1/topology")[1]["links"]) == count,
            timeout=timeout,
            what=f"{count} directed links",
        )

    def wait_for_sync(self, switches: int, links: int, timeout: float = 30) -> None:
        """Wait until ``switches`` switches are connected, each of them synced, and ``links``
        directed links are up: the fabric is ready for its flows to be checked."""

        def synced() -> bool:
            status, topo = self.get("/v1/topology")
            connected = [s for s in topo["switches"] if s["connected"]] if status == 200 else []
            return (
                len(connected) == switches
                and all(s["sync"] == "synced" for s in connected)
                and sum(link["up"] for link in topo["links"]) == links
            )

        self.wait_for(synced, timeout, f"{switches} switches synced, {links} directed links")

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``condition`` until true; fail with the controller log if it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"tegu-manager exited with {self.process.returncode}:\n{self.log()}"
                )
            if condition():
                return
            time.sleep(0.2)
        raise TimeoutError(
            f"timed out after {timeout}s waiting for {what}; log:\n{self.log()[-4000:]}"
        )


def terminate(process: subprocess.Popen[Any], timeout: float) -> int:
    """SIGTERM, then SIGKILL if ``process`` will not go within ``timeout``; its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
