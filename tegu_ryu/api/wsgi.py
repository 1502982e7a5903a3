"""The REST API as a WSGI application (WebOb requests, Routes for paths).

Every answer is JSON, errors included: ``{"error": {"code", "message"}}`` with
the HTTP status that fits (404 for unknown paths, 405 with ``Allow`` for a
wrong method, 500 only for our own bugs, which are logged with the request).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

import routes
from webob import Request, Response

from tegu_ryu import __version__
from tegu_ryu.controller import Controller
from tegu_ryu.errors import MethodNotAllowed, NotFound, RequestError

LOG = logging.getLogger(__name__)

Handler = Callable[[Request, dict[str, str]], Response]


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return json_response({"error": body}, status=status)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(
        body=json.dumps(body, sort_keys=True).encode(),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


class Router:
    """Paths to per-method handlers; knows the difference between 404 and 405."""

    def __init__(self) -> None:
        self._mapper = routes.Mapper()
        self._handlers: dict[str, dict[str, Handler]] = {}

    def add(self, method: str, path: str, handler: Handler) -> None:
        if path not in self._handlers:
            self._mapper.connect(path, path, route_path=path)
            self._handlers[path] = {}
        self._handlers[path][method] = handler

    def dispatch(self, request: Request) -> Response:
        found = self._mapper.match(request.path_info)
        if found is None:
            raise NotFound(f"no such resource: {request.path_info}")
        params = dict(found)
        methods = self._handlers[params.pop("route_path")]
        handler = methods.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(methods))
            raise MethodNotAllowed(
                f"{request.method} is not allowed on {request.path_info}; use {allowed}",
                headers={"Allow": allowed},
            )
        return handler(request, params)


class Api:
    """The WSGI callable serving ``/v1``."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.router = Router()
        self.router.add("GET", "/v1/health", self.health)
        self.router.add("GET", "/v1/topology", self.topology)
        self.router.add("GET", "/v1/openapi.json", self.openapi)
        self._openapi = load_openapi()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.router.dispatch(request)
        except RequestError as error:
            response = error_response(error.status, error.code, error.message, error.details)
            response.headers.update(error.headers)
        except Exception:
            LOG.exception("internal error serving %s %s", request.method, request.path_qs)
            response = error_response(
                500, "internal_error", "internal error; see the controller log"
            )
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def health(self, request: Request, params: dict[str, str]) -> Response:
        return json_response(self.controller.health())

    def topology(self, request: Request, params: dict[str, str]) -> Response:
        return json_response(self.controller.topology_view())

    def openapi(self, request: Request, params: dict[str, str]) -> Response:
        return json_response(self._openapi)


def load_openapi() -> dict[str, Any]:
    """The OpenAPI document shipped with the package, stamped with our version."""
    text = resources.files("tegu_ryu.api").joinpath("openapi.json").read_text()
    document: dict[str, Any] = json.loads(text)
    document["info"]["version"] = __version__
    return document
