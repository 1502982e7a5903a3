"""The `tegu` and `tegu_req` console scripts against a real controller (static topology)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from controller_process import ControllerProcess, free_port

from tegu_ryu import __version__

STATIC = Path(__file__).resolve().parents[2] / "conf" / "static-topology.json"
BIN = Path(sys.executable).parent


def run(
    controller: ControllerProcess | None, *args: str, script: str = "tegu"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEGU_CONFIG": "/nonexistent", "COLUMNS": "200"}
    if controller is not None:
        env["TEGU_URL"] = controller.url
    return subprocess.run(
        [str(BIN / script), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


@pytest.fixture(scope="module")
def controller(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControllerProcess]:
    process = ControllerProcess(
        tmp_path_factory.mktemp("cli"), options={"static_topology": str(STATIC)}
    )
    process.start()
    yield process
    process.stop()


def test_health_and_topology(controller: ControllerProcess) -> None:
    result = run(controller, "health")
    assert result.returncode == 0 and result.stdout.startswith("ok: tegu_ryu")
    topology = run(controller, "topology")
    assert (
        topology.returncode == 0
        and "h3" in topology.stdout
        and "0000000000000002" in topology.stdout
    )
    as_json = json.loads(run(controller, "--json", "topology").stdout)
    assert len(as_json["links"]) == 5


def test_reserve_list_show_extend_cancel(controller: ControllerProcess) -> None:
    made = run(
        controller,
        "--json",
        "reserve",
        "h1",
        "h4",
        "10M",
        "--for",
        "30m",
        "--protocol",
        "tcp",
        "--dst-port",
        "80",
    )
    assert made.returncode == 0, made.stderr
    reservation = json.loads(made.stdout)
    assert reservation["bandwidth"] == {"out": 10_000_000, "in": 10_000_000}
    rid = reservation["id"]
    listed = run(controller, "list", "--state", "active")
    assert listed.returncode == 0 and rid in listed.stdout and "10Mbit/s" in listed.stdout
    shown = run(controller, "show", rid)
    assert shown.returncode == 0 and "protocol=tcp, dst_port=80" in shown.stdout
    extended = run(controller, "--json", "extend", rid, "--for", "1h")
    assert extended.returncode == 0
    assert json.loads(extended.stdout)["end"] > reservation["end"]
    cancelled = run(controller, "cancel", rid)
    assert cancelled.returncode == 0 and f"cancelled {rid}" in cancelled.stdout
    again = run(controller, "cancel", rid)
    assert again.returncode == 1 and "already cancelled" in again.stderr


def test_a_refusal_is_explained_in_one_paragraph_with_exit_1(controller: ControllerProcess) -> None:
    assert run(controller, "reserve", "h1", "h3", "40M", "--for", "10m").returncode == 0
    refused = run(controller, "reserve", "h2", "h3", "40M", "--for", "10m", "--protocol", "udp")
    assert refused.returncode == 1
    paragraph = " ".join(refused.stderr.split())
    assert "Refused: the in direction needs 40Mbit/s" in paragraph
    assert "0000000000000002:3 -> 0000000000000001:3 has only 10Mbit/s free" in paragraph
    unknown = run(controller, "reserve", "h1", "nowhere", "1M", "--for", "1m")
    assert unknown.returncode == 1 and "not a host the controller knows" in " ".join(
        unknown.stderr.split()
    )


def test_availability_and_link_timeline(controller: ControllerProcess) -> None:
    available = run(controller, "availability", "h1", "h4", "--for", "1h")
    assert available.returncode == 0 and "out:" in available.stdout and "in:" in available.stdout
    links = run(controller, "links")
    assert links.returncode == 0 and "0000000000000001:3" in links.stdout
    timeline = run(
        controller, "links", "--schedule", "0000000000000001:3->0000000000000002:3", "--to", "+2h"
    )
    assert (
        timeline.returncode == 0 and "usable 50Mbit/s" in timeline.stdout and "#" in timeline.stdout
    )


def test_fences(controller: ControllerProcess) -> None:
    set_fence = run(controller, "fences", "acme", "--percent", "25")
    assert set_fence.returncode == 0 and json.loads(set_fence.stdout)["percent"] == 25
    cleared = run(controller, "fences", "acme", "--clear")
    assert json.loads(cleared.stdout)["default"] is True


def test_usage_errors_exit_2_and_unreachable_exit_3(controller: ControllerProcess) -> None:
    assert run(controller, "reserve", "h1", "h3", "1M").returncode == 2  # neither --for nor --until
    assert run(controller, "reserve", "h1", "h3", "1M", "--for", "soon").returncode == 2
    assert run(controller, "no-such-command").returncode == 2
    down = subprocess.run(
        [str(BIN / "tegu"), "--url", f"http://127.0.0.1:{free_port()}", "health"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert down.returncode == 3 and "cannot reach the controller" in down.stderr


def test_tegu_req_speaks_the_old_protocol(controller: ControllerProcess) -> None:
    host = controller.url.removeprefix("http://")
    pong = run(None, "-h", host, "ping", script="tegu_req")
    assert pong.returncode == 0 and "pong" in pong.stdout
    made = run(
        None,
        "-h",
        host,
        "-j",
        "-k",
        "proto=udp",
        "reserve",
        "2M",
        "+60",
        "h2,h4",
        "oldcookie",
        "data",
        script="tegu_req",
    )
    assert made.returncode == 0, made.stdout
    pledge = json.loads(made.stdout)["reqstate"][0]["details"]
    assert pledge["protocol"] == "udp" and pledge["dscp"] == 18
    listed = json.loads(run(None, "-h", host, "-j", "listres", script="tegu_req").stdout)
    assert pledge["id"] in [p["id"] for p in listed["reqstate"][0]["details"]["reservations"]]
    wrong = run(None, "-h", host, "cancel", pledge["id"], "nope", script="tegu_req")
    assert wrong.returncode == 1
    right = run(None, "-h", host, "cancel", pledge["id"], "oldcookie", script="tegu_req")
    assert right.returncode == 0
    conns = run(None, "-h", host, "-j", "listconns", "h1", "h3", script="tegu_req")
    assert len(json.loads(conns.stdout)["reqstate"]) == 2


def test_list_follows_the_pages_and_limit_stops_early(tmp_path: Path) -> None:
    controller = ControllerProcess(tmp_path, options={"static_topology": str(STATIC)})
    controller.start()
    try:
        with requests.Session() as session:
            for port in range(1, 1003):  # more than one page of the API's default 1000
                made = session.post(
                    f"{controller.url}/v1/reservations",
                    json={
                        "src": "h1",
                        "dst": "h3",
                        "bandwidth": "1K",
                        "duration": 600,
                        "protocol": "udp",
                        "dst_port": port,
                    },
                    timeout=10,
                )
                assert made.status_code == 201, made.text
        every = json.loads(run(controller, "--json", "list").stdout)
        ports = [r["match"]["dst_port"] for r in every["reservations"]]
        assert sorted(ports) == list(range(1, 1003)) and every["next"] is None
        first = json.loads(run(controller, "--json", "list", "--limit", "5").stdout)
        assert len(first["reservations"]) == 5
    finally:
        controller.stop()


def test_mirrors_from_both_command_lines(controller: ControllerProcess) -> None:
    made = run(controller, "--json", "mirror", "h1", "--to", "h2", "--for", "10m")
    assert made.returncode == 0, made.stderr
    mirror = json.loads(made.stdout)
    assert (mirror["type"], mirror["state"]) == ("mirror", "active")
    table = run(controller, "list", "--type", "mirror")
    assert table.returncode == 0 and mirror["id"] in table.stdout and "copy to h2" in table.stdout
    shown = run(controller, "show", mirror["id"])
    assert shown.returncode == 0 and "collector" in shown.stdout and "best effort" in shown.stdout
    assert run(controller, "cancel", mirror["id"]).returncode == 0
    host = controller.url.removeprefix("http://")
    added = run(
        None, "-h", host, "-j", "add-mirror", "+600", "h1", "h2", "mc", "7", script="tegu_req"
    )
    assert added.returncode == 0, added.stdout
    (entry,) = json.loads(added.stdout)
    name = entry["name"]
    listed = run(None, "-h", host, "-j", "list-mirrors", script="tegu_req")
    assert json.loads(listed.stdout) == []  # cookie-protected mirrors stay hidden
    shown = run(None, "-h", host, "-j", "show-mirror", name, "mc", script="tegu_req")
    assert shown.returncode == 0 and json.loads(shown.stdout)["vlan"] == "7"
    refused = run(None, "-h", host, "del-mirror", name, script="tegu_req")
    assert refused.returncode == 1 and "Unauthorized" in refused.stdout
    assert run(None, "-h", host, "del-mirror", name, "mc", script="tegu_req").returncode == 0
    bad = run(None, "-h", host, "add-mirror", "+5", "h1", "h2", script="tegu_req")
    assert bad.returncode == 1 and "minimum interval" in bad.stdout


def test_steering_from_both_command_lines(controller: ControllerProcess) -> None:
    """To h4: h1's reservation to h3 (above) would refuse a chain taking part of its traffic."""
    made = run(
        controller, "--json", "steer", "h1", "h4", "--via", "h2", "--protocol", "tcp",
        "--dst-port", "80", "--for", "10m",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    chain = json.loads(made.stdout)
    assert (chain["type"], chain["state"]) == ("steering", "active")
    table = run(controller, "list", "--type", "steering")
    assert table.returncode == 0 and chain["id"] in table.stdout and "via h2" in table.stdout
    shown = run(controller, "show", chain["id"])
    assert shown.returncode == 0 and "through" in shown.stdout and "out leg 1" in shown.stdout
    overlapping = run(controller, "steer", "h1", "h4", "--via", "h2", "--for", "10m")
    assert overlapping.returncode != 0 and "same traffic" in overlapping.stderr
    assert run(controller, "cancel", chain["id"]).returncode == 0
    host = controller.url.removeprefix("http://")
    steered = run(
        None, "-h", host, "-j", "-k", "proto=udp:53", "steer", "+600", "acme", "h1", "h4", "h2",
        "ck", script="tegu_req",
    )  # fmt: skip
    assert steered.returncode == 0, steered.stdout
    (entry,) = json.loads(steered.stdout)["reqstate"]
    assert entry["details"]["mbox_list"] == ["h2"] and entry["details"]["protocol"] == "udp:53"
    cancel = run(None, "-h", host, "cancel", entry["details"]["id"], "ck", script="tegu_req")
    assert cancel.returncode == 0, cancel.stdout


@pytest.mark.parametrize("script", ["tegu-manager", "tegu", "tegu_req"])
def test_every_console_script_answers_help_and_version(script: str) -> None:
    helped = run(None, "--help", script=script)
    assert helped.returncode == 0, helped.stderr
    assert "usage" in helped.stdout.lower() and len(helped.stdout.splitlines()) > 5
    versioned = run(None, "--version", script=script)
    assert versioned.returncode == 0, versioned.stderr
    assert __version__ in versioned.stdout + versioned.stderr


def test_tegu_req_prints_as_rjprt_did_and_knows_the_old_options(
    controller: ControllerProcess,
) -> None:
    host = controller.url.removeprefix("http://")
    made = run(None, "-h", host, "reserve", "1M", "+60", "h2,h3", "c", script="tegu_req")
    assert made.returncode == 0, made.stdout
    fields = [line.split() for line in made.stdout.splitlines()]
    assert fields[0] == ["reserve:"]
    (pledge_id,) = [words[2] for words in fields if words[:2] == ["id", "="]]  # awk '$1=="id"'
    comments = [" ".join(words[2:]) for words in fields if words[:2] == ["comment", "="]]
    assert any(c.startswith("reservation accepted") for c in comments), comments
    dotted = run(None, "-h", host, "-d", "-r", "q", "listres", script="tegu_req")
    assert re.search(
        rf"^q\.reqstate\[0\]\.details\.reservations\[\d+\]\.id = {pledge_id}$",
        dotted.stdout,
        re.MULTILINE,
    ), dotted.stdout
    ignored = run(None, "-c", "-R", "region1", "-h", host, "ping", script="tegu_req")
    assert ignored.returncode == 0 and "no effect here" in ignored.stderr
    unknown = run(None, "-x", "-h", host, "ping", script="tegu_req")
    assert unknown.returncode == 2 and "No such option" in unknown.stderr
    assert run(None, "-h", host, "cancel", pledge_id, "c", script="tegu_req").returncode == 0
