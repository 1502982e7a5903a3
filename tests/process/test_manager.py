"""tegu-manager as a real process: static topology over HTTP, config errors, signals."""

from __future__ import annotations

import configparser
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
from controller_process import ControllerProcess, free_port, manager_command, run_manager

from ..openapi import validate_response

STATIC = Path(__file__).resolve().parents[2] / "conf" / "static-topology.json"


@pytest.fixture
def controller(tmp_path: Path) -> ControllerProcess:
    process = ControllerProcess(tmp_path, options={"static_topology": str(STATIC)})
    process.start()
    yield process
    process.stop()


def test_static_topology_is_served_exactly_with_no_switch_connected(
    controller: ControllerProcess,
) -> None:
    document = requests.get(controller.url + "/v1/openapi.json", timeout=5).json()
    response = requests.get(controller.url + "/v1/topology", timeout=5)
    assert response.status_code == 200
    body = response.json()
    validate_response(document, "/v1/topology", "GET", 200, body)
    declared = json.loads(STATIC.read_text())
    assert [s["dpid"] for s in body["switches"]] == declared["switches"]
    assert not any(s["connected"] for s in body["switches"])
    expected = set()
    for link in declared["links"]:
        capacity = {"50M": 50_000_000, "100M": 100_000_000, "1G": 10**9}[link["capacity"]]
        expected.add((link["src"], link["dst"], capacity))
        if link["bidirectional"]:
            expected.add((link["dst"], link["src"], capacity))
    served = {
        (
            f"{lk['src']['dpid']}:{lk['src']['port']}",
            f"{lk['dst']['dpid']}:{lk['dst']['port']}",
            lk["capacity_bps"],
        )
        for lk in body["links"]
    }
    assert served == expected
    assert all(lk["up"] and lk["static"] for lk in body["links"])
    hosts = {h["name"]: h for h in body["hosts"]}
    for host in declared["hosts"]:
        served_host = hosts[host["name"]]
        assert served_host["mac"] == host["mac"] and served_host["ips"] == host["ips"]
        assert f"{served_host['dpid']}:{served_host['port']}" == host["attach"]
    health = requests.get(controller.url + "/v1/health", timeout=5).json()
    validate_response(document, "/v1/health", "GET", 200, health)
    assert health["switches"] == 0


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 404),
        ("GET", "/v1/hosts", 404),
        ("POST", "/v1/topology", 405),
        ("DELETE", "/v1/health", 405),
    ],
)
def test_malformed_requests_get_json_errors(
    controller: ControllerProcess, method: str, path: str, status: int
) -> None:
    response = requests.request(method, controller.url + path, data=b"{not json", timeout=5)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] in {"not_found", "method_not_allowed"}


@pytest.mark.parametrize(
    "body", [b"[" * 1000 + b"]" * 1000, b'{"end_time": "+600", "port": ["h1"], "output": NaN}']
)
@pytest.mark.parametrize("path", ["/tegu/mirrors/", "/v1/reservations", "/v1/settings"])
def test_deep_or_nan_bodies_are_400_on_the_served_routes(
    controller: ControllerProcess, path: str, body: bytes
) -> None:
    """Parsed in the server's own threads: a deep body was a RecursionError there (500)."""
    method = "PUT" if path == "/v1/settings" else "POST"
    headers = {"Content-Type": "application/json"}
    response = requests.request(
        method, controller.url + path, data=body, headers=headers, timeout=5
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error.startswith("Bad JSON") if path.startswith("/tegu") else error["code"] == "bad_json"


def test_sigterm_stops_cleanly_and_quickly(tmp_path: Path) -> None:
    process = ControllerProcess(tmp_path)
    process.start()
    assert process.process is not None
    started = time.monotonic()
    process.process.send_signal(signal.SIGTERM)
    status = process.process.wait(timeout=10)
    assert status == 0
    assert time.monotonic() - started < 5
    assert "stopping: received SIGTERM" in process.log()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--static-topology", "/nonexistent/topo.json"], "cannot read static topology"),
        (["--capacity-override", "0000000000000001:3"], "expected DPID:PORT=RATE"),
        (["--capacity-fallback", "fast"], "not a bit-rate"),
        (["--api-port", "99999"], "api_port"),
        (["--no-such-option"], "no-such-option"),
    ],
)
def test_bad_configuration_fails_fast_with_a_clear_message(args: list[str], message: str) -> None:
    result = run_manager(*args)
    assert result.returncode == 2
    assert message in result.stderr


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ["store = etcd", "etcd_endpoints = http://127.0.0.1:2379", "ha_lease = 3"],
            "unknown option 'store' in [DEFAULT]",
        ),
        (
            ["enforcment = queues"],
            "unknown option 'enforcment' in [DEFAULT] (this version has "
            "no such option; did you mean enforcement?)",
        ),
    ],
)
def test_an_unknown_key_in_default_refuses_to_start_naming_it(
    tmp_path: Path, lines: list[str], message: str
) -> None:
    config = tmp_path / "tegu.conf"
    config.write_text("\n".join(["[DEFAULT]", "api_threads = 4", *lines, ""]))
    result = run_manager("--config-file", str(config))
    assert result.returncode == 2
    assert message in result.stderr


def test_os_ken_s_own_keys_and_the_sample_configuration_still_start(tmp_path: Path) -> None:
    sample = configparser.ConfigParser(interpolation=None)
    sample.read(Path(__file__).resolve().parents[2] / "conf" / "tegu.conf")
    mine = ("api_port", "ofp_tcp_listen_port", "ovsdb_remotes", "state_dir", "static_topology")
    options = {k: v for k, v in sample["DEFAULT"].items() if k not in mine}
    controller = ControllerProcess(tmp_path, {**options, "observe-links": "true"})
    controller.start()
    assert "unknown option" not in controller.log()
    controller.stop()


def test_a_busy_api_port_is_reported(tmp_path: Path, controller: ControllerProcess) -> None:
    result = subprocess.run(
        [
            *manager_command(),
            "--api-port",
            str(controller.api_port),
            "--ofp-tcp-listen-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "Address already in use" in result.stderr


def test_manager_is_installed_as_a_console_script() -> None:
    assert shutil.which(manager_command()[0])
