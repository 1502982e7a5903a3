"""Run ``tegu-agent`` as a child process (``python -m tegu_agent`` from this tree), and a bare
ovsdb-server for it to read when no ovs-vswitchd is wanted.

The agent is run by module from this checkout (its ``agent/`` directory and
the repository root first on ``PYTHONPATH``), so a test exercises the code it
sits beside even where another checkout is installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from controller_process import terminate

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


class AgentProcess:
    def __init__(
        self, workdir: Path, controller: str, token: str, ovsdb: str, host: str = "compute-1"
    ) -> None:
        self.workdir = workdir
        self.token_file = workdir / f"{host}.token"
        self.log_path = workdir / f"{host}-agent.log"
        self.args = [
            "--controller", controller, "--token-file", str(self.token_file), "--ovsdb", ovsdb,
            "--host-name", host, "--heartbeat", "1", "--poll", "0.5", "--resync", "1",
        ]  # fmt: skip
        self.token = token
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.token_file.write_text(self.token + "\n")
        path = os.pathsep.join([str(ROOT / "agent"), str(ROOT), os.environ.get("PYTHONPATH", "")])
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tegu_agent", *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"},
            )

    def kill(self) -> None:
        """SIGKILL: no goodbye to the controller."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self, timeout: float = 10) -> int | None:
        if self.process is None:
            return None
        status = terminate(self.process, timeout)
        self.process = None
        return status

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class BareOvsdb:
    """An ovsdb-server alone (no ovs-vswitchd, no root): rows are whatever ``vsctl`` writes,
    datapath ids and OpenFlow port numbers included."""

    def __init__(self, rundir: Path) -> None:
        self.rundir = rundir
        self.socket = rundir / "db.sock"

    @property
    def remote(self) -> str:
        return f"unix:{self.socket}"

    def start(self) -> None:
        self.rundir.mkdir(parents=True, exist_ok=True)
        db = self.rundir / "conf.db"
        subprocess.run(["ovsdb-tool", "create", str(db), SCHEMA], check=True, timeout=30)
        subprocess.run(
            [
                "ovsdb-server", str(db), f"--remote=punix:{self.socket}",
                f"--pidfile={self.rundir / 'ovsdb-server.pid'}",
                f"--unixctl={self.rundir / 'ovsdb-server.ctl'}",
                f"--log-file={self.rundir / 'ovsdb-server.log'}", "--detach",
            ],
            check=True,
            timeout=30,
        )  # fmt: skip
        self.vsctl("init")

    def vsctl(self, *args: str) -> str:
        return subprocess.run(
            ["ovs-vsctl", f"--db={self.remote}", "--no-wait", *args],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout

    def stop(self) -> None:
        pidfile = self.rundir / "ovsdb-server.pid"
        if pidfile.exists():
            os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
