"""Tegu's verification scenario through the real ``tegu_req`` console script, in its default
(rjprt) output, as old operator scripts drove it: they read ``key = value`` lines.

Extended with the host-name token cases: a bad token in the host names, a
project that is not the token's tenant, and a tenant whose token is only in
the host names (``tegu_req`` without ``-t``). User link caps below and above a
request. Tegu's ``passthru``, refused where markings are not reset, and a
``steer``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from controller_process import ControllerProcess

from .test_tegu_api import TOKENS, TOPOLOGY

BIN = Path(sys.executable).parent


class TeguReq:
    def __init__(self, controller: ControllerProcess) -> None:
        self.host = controller.url.removeprefix("http://")

    def run(self, *args: str, token: str | None = None) -> tuple[int, dict[str, list[str]]]:
        """Exit status and the rjprt lines as ``{key: [values in order]}``."""
        options = ["-h", self.host, *(["-t", token] if token else [])]
        result = subprocess.run(
            [str(BIN / "tegu_req"), *options, *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TEGU_CONFIG": "/nonexistent"},
            check=False,
        )
        fields: dict[str, list[str]] = {}
        for line in result.stdout.splitlines():
            key, sep, value = line.strip().partition(" = ")
            if sep:
                fields.setdefault(key, []).append(value)
        return result.returncode, fields


def said(fields: dict[str, list[str]]) -> str:
    """The request's own comment (the envelope's is "N errors processing requests")."""
    return next(c for c in fields["comment"] if not c.endswith("errors processing requests"))


# The hosts are project proj's, as the VMs of the script's project were.
PROJECT_TOPOLOGY = {
    **TOPOLOGY,
    "hosts": [{**host, "tenant": "proj"} for host in TOPOLOGY["hosts"]],  # type: ignore[attr-defined]
}


def started(workdir: Path, **options: str) -> ControllerProcess:
    tokens = workdir / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    controller = ControllerProcess(
        workdir,
        topology=PROJECT_TOPOLOGY,
        options={"auth_mode": "token", "token_file": str(tokens), **options},
    )
    controller.start()
    return controller


@pytest.fixture
def tegu_req(tmp_path: Path) -> Iterator[TeguReq]:
    controller = started(tmp_path)
    yield TeguReq(controller)
    controller.stop()


@pytest.fixture
def relaxed_tegu_req(tmp_path: Path) -> Iterator[TeguReq]:
    """Markings reset where traffic enters: what Tegu's relaxed mode (``-r``) meant for passthru."""
    controller = started(tmp_path, dscp_policy="reset")
    yield TeguReq(controller)
    controller.stop()


def test_the_verification_scenario_through_tegu_req(tegu_req: TeguReq) -> None:
    status, pong = tegu_req.run("ping")
    assert status == 0 and pong["details"][0].startswith("pong")

    status, made = tegu_req.run("reserve", "10M", "+90", "proj/vm0,proj/vm1", "ck", token="projtok")
    assert status == 0 and said(made).startswith("reservation accepted")
    (pledge,) = made["id"]
    assert made["host1"] == ["proj/vm0:0"] and made["state"] == ["ACTIVE"]
    status, listed = tegu_req.run("listres", token="projtok")
    assert status == 0 and pledge in listed["id"]
    assert tegu_req.run("listres", token="othertok")[1].get("id") is None  # not theirs

    status, duplicate = tegu_req.run(
        "reserve", "10M", "+90", "proj/vm0,proj/vm1", "ck", token="projtok"
    )
    assert status == 1 and "duplicates existing reservation" in said(duplicate)
    assert tegu_req.run("cancel", pledge, "wrong", token="projtok")[0] == 1
    assert tegu_req.run("cancel", pledge, "ck", token="projtok")[0] == 0
    status, zero = tegu_req.run("reserve", "0", "+90", "proj/vm0,proj/vm1", "z", token="projtok")
    assert status == 1 and "greater than zero" in said(zero)

    # host-name tokens, with no -t: tegu_req then sends no usable header
    status, refused = tegu_req.run("reserve", "1M", "+90", "forged/proj/vm0,forged/proj/vm1", "t")
    assert status == 1 and "h1 validation failed" in said(refused)
    status, foreign = tegu_req.run(
        "reserve", "1M", "+90", "projtok/other/vm0,projtok/other/vm1", "t"
    )
    assert status == 1 and "invalid token/tenant pair" in said(foreign)
    # a bad project (the script's step 6), even with an admin's token: vm0 is proj's
    status, bad = tegu_req.run(
        "reserve", "1M", "+90", "%t/bad_project/vm0,%t/proj/vm1", "b", token="admintok"
    )
    assert status == 1 and said(bad) == "h1 validation failed: vm0 is not in project bad_project"
    status, theirs = tegu_req.run("reserve", "1M", "+90", "projtok/proj/vm0,projtok/proj/vm2", "t")
    assert status == 0 and theirs["host1"] == ["proj/vm0:0"]
    assert theirs["id"][0] in tegu_req.run("listres", token="projtok")[1]["id"]

    # user link caps: 10 % of each port (the hosts' ports are 1G: 100M); above refused, below not
    assert tegu_req.run("setulcap", "proj", "10", token="admintok")[0] == 0
    status, capped = tegu_req.run(
        "reserve", "200M", "+90", "proj/vm0,proj/vm1", "c1", token="projtok"
    )
    assert status == 1 and "no capacity" in said(capped)
    assert tegu_req.run("reserve", "50M", "+90", "proj/vm0,proj/vm1", "c2", token="projtok")[0] == 0
    status, caps = tegu_req.run("listulcap", token="admintok")
    assert status == 0 and "proj" in caps["name"]
    assert tegu_req.run("setulcap", "proj", "-1", token="admintok")[0] == 0
    status, cancelled = tegu_req.run("cancel", "all", "c2", token="projtok")
    assert status == 0 and said(cancelled) == "1 reservations were cancelled"

    # passthru (Tegu's step 9): refused where markings are not reset, as Tegu refused it
    # outside relaxed mode; the steering prototype is there too
    status, passthru = tegu_req.run("passthru", "+90", "proj/vm0", "p", token="projtok")
    assert status == 1 and "passthru reservations not allowed" in said(passthru)
    status, steered = tegu_req.run(
        "steer", "+90", "proj", "vm0", "vm1", "vm2", "s", token="admintok"
    )
    assert status == 0 and said(steered).startswith("steering reservation accepted")


def test_passthru_as_the_script_asks_it_in_relaxed_mode(relaxed_tegu_req: TeguReq) -> None:
    """Step 9: create, cancel all, and ``proto=`` with any address, with and without udp."""
    status, made = relaxed_tegu_req.run("passthru", "+90", "proj/vm0", "p", token="projtok")
    assert status == 0 and said(made) == "passthru reservation accepted"
    status, cancelled = relaxed_tegu_req.run("cancel", "all", "p", token="projtok")
    assert status == 0 and said(cancelled) == "1 reservations were cancelled"
    for proto, shown in (("udp:135.23.45.67:8800", "udp:8800"), ("1.2.3.4:8800", "tcp:8800")):
        status, made = relaxed_tegu_req.run(
            "-k", f"proto={proto}", "passthru", "+90", "proj/vm0", "p", token="projtok"
        )
        assert status == 0 and said(made) == "passthru reservation accepted", (proto, made)
        assert made["protocol"] == [shown]
