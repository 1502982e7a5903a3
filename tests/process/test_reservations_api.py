"""The v1 reservations API on a real tegu-manager with a static topology and no switch."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from controller_process import ControllerProcess, run_manager

from ..openapi import validate_response

STATIC = Path(__file__).resolve().parents[2] / "conf" / "static-topology.json"
TOKENS = {
    "ops-secret": {"tenant": "ops", "roles": ["admin"]},
    "acme-secret": {"tenant": "acme", "roles": ["tenant"]},
    "globex-secret": {"tenant": "globex", "roles": ["tenant"]},
}


class Api:
    def __init__(self, controller: ControllerProcess) -> None:
        self.controller = controller
        self.document = requests.get(controller.url + "/v1/openapi.json", timeout=5).json()

    def call(
        self, method: str, path: str, token: str, body: Any = None, template: str | None = None
    ) -> tuple[int, Any]:
        response = requests.request(
            method,
            self.controller.url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        parsed = response.json() if response.content else None
        validate_response(
            self.document,
            template or path.split("?", maxsplit=1)[0],
            method,
            response.status_code,
            parsed,
        )
        return response.status_code, parsed


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[ControllerProcess]:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps(TOKENS))
    process = ControllerProcess(
        tmp_path,
        options={"static_topology": str(STATIC), "auth_mode": "token", "token_file": str(tokens)},
    )
    process.start()
    yield process
    process.stop()


def reserve(api: Api, token: str = "acme-secret", **fields: Any) -> tuple[int, Any]:
    body = {"src": "h1", "dst": "10.0.0.3", "bandwidth": "30M", "duration": 3600, **fields}
    return api.call("POST", "/v1/reservations", token, body)


def test_fill_a_link_cancel_and_retry_then_restart_keeps_everything(
    controller: ControllerProcess,
) -> None:
    api = Api(controller)
    status, first = reserve(api, dscp="voice")
    assert status == 201
    status, error = reserve(api, src="h2", protocol="udp")
    assert status == 409
    assert error["error"]["code"] == "no_capacity"
    assert error["error"]["details"]["available_bps"] == 20_000_000
    assert error["error"]["details"]["link"]["src"] == {"dpid": "0000000000000002", "port": 3}
    assert (
        api.call(
            "DELETE",
            f"/v1/reservations/{first['id']}",
            "acme-secret",
            template="/v1/reservations/{rid}",
        )[0]
        == 204
    )
    status, second = reserve(api, src="h2", protocol="udp")
    assert status == 201
    status, later = reserve(api, "globex-secret", bandwidth="5M", start=second["end"], duration=600)
    assert status == 201 and later["state"] == "pending"

    status, error = api.call(
        "PATCH",
        f"/v1/reservations/{second['id']}",
        "acme-secret",
        {"bandwidth": "60M"},
        template="/v1/reservations/{rid}",
    )
    assert status == 409
    _, unchanged = api.call(
        "GET", f"/v1/reservations/{second['id']}", "acme-secret", template="/v1/reservations/{rid}"
    )
    assert without_enforcement(unchanged) == without_enforcement(second)

    assert (
        api.call(
            "GET",
            f"/v1/reservations/{second['id']}",
            "globex-secret",
            template="/v1/reservations/{rid}",
        )[0]
        == 404
    )
    assert (
        api.call(
            "DELETE",
            f"/v1/reservations/{second['id']}",
            "globex-secret",
            template="/v1/reservations/{rid}",
        )[0]
        == 404
    )
    assert api.call("GET", "/v1/reservations", "nobody")[0] == 401

    _, before = api.call("GET", "/v1/reservations", "ops-secret")
    controller.stop()
    controller.start()
    api = Api(controller)
    _, after = api.call("GET", "/v1/reservations", "ops-secret")
    assert [without_enforcement(r) for r in after["reservations"]] == [
        without_enforcement(r) for r in before["reservations"]
    ]
    assert {(r["id"], r["state"]) for r in after["reservations"]} == {
        (first["id"], "cancelled"),
        (second["id"], "active"),
        (later["id"], "pending"),
    }
    status, error = reserve(api, src="h2", protocol="icmp")  # the ledger came back too
    assert status == 409 and error["error"]["details"]["available_bps"] == 20_000_000


def test_auth_mode_none_is_refused_off_loopback(tmp_path: Path) -> None:
    result = run_manager("--api-host", "0.0.0.0", "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "only allowed with the API on loopback" in result.stderr


def test_a_damaged_database_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "tegu.db").write_bytes(b"garbage" * 1000)
    result = run_manager("--state-dir", str(state))
    assert result.returncode == 2
    assert "cannot use the reservation database" in result.stderr


def test_states_change_on_time(controller: ControllerProcess) -> None:
    """pending -> active -> expired, each within a second of the window's edges."""
    api = Api(controller)
    start = time.time() + 1.5
    status, made = reserve(api, start=start, duration=1.5)
    assert status == 201 and made["state"] == "pending"
    path = f"/v1/reservations/{made['id']}"

    def state() -> str:
        return api.call("GET", path, "acme-secret", template="/v1/reservations/{rid}")[1]["state"]

    seen: dict[str, float] = {}
    deadline = start + 4
    while time.time() < deadline and "expired" not in seen:
        seen.setdefault(state(), time.time())
        time.sleep(0.05)
    assert seen["active"] - start < 1.0
    assert seen["expired"] - (start + 1.5) < 1.0


def without_enforcement(reservation: dict[str, Any]) -> dict[str, Any]:
    """The reservation itself, without what the switches hold of it (that changes on its own)."""
    return {k: v for k, v in reservation.items() if k != "enforcement"}
