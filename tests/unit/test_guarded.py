"""A failing os-ken handler stops the whole controller, loudly, with context."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import tegu_ryu.app as tegu_app
from tegu_ryu.process import StopRequest


def test_handler_failure_is_logged_with_context_and_stops_the_controller(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    stop = StopRequest()
    monkeypatch.setattr(tegu_app, "STOP", stop)

    @tegu_app.guarded
    def _packet_in(self: Any, ev: Any) -> None:
        raise KeyError("in_port")

    event = SimpleNamespace(msg=SimpleNamespace(datapath=SimpleNamespace(id=0x2A)))
    _packet_in(None, event)
    assert stop.requested and stop.exit_status == 1
    assert "000000000000002a" in stop.reason and "_packet_in" in stop.reason
    assert (
        "KeyError" in caplog.text
        and "_packet_in failed on SimpleNamespace from switch 000000000000002a" in caplog.text
    )


def test_a_working_handler_does_not_stop_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    stop = StopRequest()
    monkeypatch.setattr(tegu_app, "STOP", stop)
    seen = []

    @tegu_app.guarded
    def handler(self: Any, ev: Any) -> None:
        seen.append(ev)

    handler(None, "event")
    assert seen == ["event"] and not stop.requested
