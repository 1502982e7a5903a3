"""A private Open vSwitch (ovsdb-server + ovs-vswitchd) for switch-integration tests.

It runs from a temporary directory with the *dummy* datapath, so it needs no
kernel module, does not touch the system's OVS or mininet's bridges, and
lets tests inject packets (``netdev-dummy/receive``) and capture what a port
transmits (``options:tx_pcap``). Flows, meters, patch ports and the OpenFlow
channel are the real ovs-vswitchd code.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from os_ken.lib import pcaplib
from os_ken.lib.packet import packet

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


@dataclass(frozen=True)
class DumpedFlow:
    cookie: int
    duration: float
    priority: int
    n_packets: int
    text: str


class PrivateOvs:
    def __init__(self, rundir: Path, *, dummy_tunnels: bool = True) -> None:
        """``dummy_tunnels``: GRE and VXLAN ports are dummies too (``--enable-dummy=override``);
        without, they are real userspace tunnels (encapsulated through a bridge's address)."""
        self.rundir = rundir
        self.dummy = "--enable-dummy=override" if dummy_tunnels else "--enable-dummy"
        self.env = {
            **os.environ,
            "OVS_RUNDIR": str(rundir),
            "OVS_DBDIR": str(rundir),
            "OVS_LOGDIR": str(rundir),
            "OVS_SYSCONFDIR": str(rundir),
        }

    def _run(self, *args: str) -> str:
        result = subprocess.run(
            args, env=self.env, capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def start(self) -> None:
        self.rundir.mkdir(parents=True, exist_ok=True)
        db = self.rundir / "conf.db"
        self._run("ovsdb-tool", "create", str(db), SCHEMA)
        self._run(
            "ovsdb-server",
            str(db),
            f"--remote=punix:{self.rundir / 'db.sock'}",
            f"--pidfile={self.rundir / 'ovsdb-server.pid'}",
            f"--log-file={self.rundir / 'ovsdb-server.log'}",
            "--detach",
        )
        self.vsctl("--no-wait", "init")
        self._run(
            "ovs-vswitchd",
            f"unix:{self.rundir / 'db.sock'}",
            self.dummy,
            "--disable-system",
            f"--pidfile={self.rundir / 'ovs-vswitchd.pid'}",
            f"--log-file={self.rundir / 'ovs-vswitchd.log'}",
            "--detach",
        )

    def stop(self) -> None:
        """Ask both daemons to exit; kill by their own pidfiles if they will not."""
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            pidfile = self.rundir / f"{daemon}.pid"
            if not pidfile.exists():
                continue
            pid = int(pidfile.read_text().strip())
            command = ["ovs-appctl", "-t", daemon, "exit"]
            subprocess.run(command, env=self.env, capture_output=True, timeout=10, check=False)
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, 9)

    def log(self) -> str:
        """What ovs-vswitchd has logged so far (connection drops, inactivity probes, ...)."""
        path = self.rundir / "ovs-vswitchd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def vsctl(self, *args: str) -> str:
        return self._run("ovs-vsctl", f"--db=unix:{self.rundir / 'db.sock'}", *args)

    def ofctl(self, *args: str) -> str:
        return self._run("ovs-ofctl", "-O", "OpenFlow13", *args)

    def appctl(self, *args: str) -> str:
        return self._run("ovs-appctl", *args)

    def add_bridge(self, name: str, dpid: int, controller_port: int) -> None:
        self.vsctl(
            "add-br", name,
            "--", "set", "bridge", name, "datapath_type=dummy", "protocols=OpenFlow13",
            f"other-config:datapath-id={dpid:016x}", "fail_mode=secure",
            "--", "set-controller", name, f"tcp:127.0.0.1:{controller_port}",
        )  # fmt: skip

    def add_host_port(self, bridge: str, name: str, ofport: int) -> Path:
        """A port a test host sits on; returns the pcap file of what the port sends."""
        pcap = self.rundir / f"{name}.pcap"
        self.vsctl(
            "add-port", bridge, name,
            "--", "set", "interface", name, "type=dummy", f"ofport_request={ofport}",
            f"options:tx_pcap={pcap}",
        )  # fmt: skip
        return pcap

    def add_patch(self, bridge_a: str, port_a: int, bridge_b: str, port_b: int) -> None:
        name_a, name_b = f"{bridge_a}-{bridge_b}", f"{bridge_b}-{bridge_a}"
        self.vsctl(
            "add-port", bridge_a, name_a,
            "--", "set", "interface", name_a, "type=patch", f"options:peer={name_b}",
            f"ofport_request={port_a}",
            "--", "add-port", bridge_b, name_b,
            "--", "set", "interface", name_b, "type=patch", f"options:peer={name_a}",
            f"ofport_request={port_b}",
        )  # fmt: skip

    def del_bridge(self, name: str) -> None:
        self.vsctl("--if-exists", "del-br", name)

    def inject(self, port: str, data: bytes) -> None:
        """Make ``port`` receive ``data`` as if a host had sent it."""
        self.appctl("netdev-dummy/receive", port, data.hex())

    def flows(self, bridge: str) -> list[DumpedFlow]:
        found = []
        for line in self.ofctl("dump-flows", bridge).splitlines():
            if "cookie=" not in line:
                continue  # multipart reply headers
            fields = dict(re.findall(r"(\w+)=([^,\s]+)", line))
            found.append(
                DumpedFlow(
                    cookie=int(fields["cookie"], 16),
                    duration=float(fields["duration"].rstrip("s")),
                    priority=int(fields.get("priority", "32768")),
                    n_packets=int(fields["n_packets"]),
                    text=line.strip(),
                )
            )
        return found


def captured(pcap: Path) -> list[packet.Packet]:
    """Every packet written to a tx_pcap file so far."""
    if not pcap.exists():
        return []
    with pcap.open("rb") as f:
        return [packet.Packet(data) for _, data in pcaplib.Reader(f)]
