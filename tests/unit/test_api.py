"""The REST API in-process: shapes match the OpenAPI document, errors are JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema.exceptions import ValidationError
from webob import Request

from tegu_ryu import __version__
from tegu_ryu.api.wsgi import Api
from tegu_ryu.controller import Controller, ControllerSettings
from tegu_ryu.topology.capacity import CapacityPolicy

from ..openapi import validate_response

STATIC = str(Path(__file__).resolve().parents[2] / "conf" / "static-topology.json")


@pytest.fixture
def api() -> Api:
    return Api(Controller(ControllerSettings(capacity=CapacityPolicy(), static_topology=STATIC)))


def call(api: Api, method: str, path: str) -> tuple[int, dict[str, object], str]:
    response = Request.blank(path, method=method).get_response(api)
    return response.status_int, json.loads(response.body), response.content_type


def test_health(api: Api) -> None:
    status, body, content_type = call(api, "GET", "/v1/health")
    assert (status, content_type) == (200, "application/json")
    assert body == {"status": "ok", "version": __version__, "switches": 0}
    validate_response(api._openapi, "/v1/health", "GET", status, body)


def test_topology_follows_the_static_file_and_the_schema(api: Api) -> None:
    status, body, _ = call(api, "GET", "/v1/topology")
    assert status == 200
    validate_response(api._openapi, "/v1/topology", "GET", status, body)
    assert [s["dpid"] for s in body["switches"]] == [
        "0000000000000001",
        "0000000000000002",
        "0000000000000003",
    ]  # type: ignore[index]
    assert len(body["links"]) == 5  # type: ignore[arg-type]
    assert {h["name"] for h in body["hosts"]} == {"h1", "h2", "h3", "h4"}  # type: ignore[union-attr]


def test_the_schema_check_would_catch_a_wrong_shape(api: Api) -> None:
    with pytest.raises(ValidationError):
        validate_response(
            api._openapi, "/v1/health", "GET", 200, {"status": "ok", "switches": "two"}
        )


def test_openapi_document_is_served_with_our_version(api: Api) -> None:
    status, body, _ = call(api, "GET", "/v1/openapi.json")
    assert (
        status == 200
        and body["openapi"].startswith("3.")
        and body["info"]["version"] == __version__
    )  # type: ignore[index]


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/nothing", "/v2/health", "/v1/health/extra"])
def test_unknown_paths_are_json_404(api: Api, path: str) -> None:
    status, body, content_type = call(api, "GET", path)
    assert (status, content_type) == (404, "application/json")
    assert body["error"]["code"] == "not_found"  # type: ignore[index]
    validate_response(api._openapi, "/v1/health", "GET", status, body)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_wrong_methods_are_json_405_with_allow(api: Api, method: str) -> None:
    response = Request.blank("/v1/topology", method=method).get_response(api)
    assert response.status_int == 405
    assert response.headers["Allow"] == "GET"
    assert json.loads(response.body)["error"]["code"] == "method_not_allowed"


def test_a_bug_is_a_json_500_and_logged(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> dict[str, object]:
        raise RuntimeError("boom")

    api.controller.health = broken  # type: ignore[method-assign]
    status, body, content_type = call(api, "GET", "/v1/health")
    assert (status, content_type) == (500, "application/json")
    assert body["error"]["code"] == "internal_error"  # type: ignore[index]
    assert "GET /v1/health" in caplog.text and "boom" in caplog.text
