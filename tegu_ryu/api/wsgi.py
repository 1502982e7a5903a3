"""The REST API as a WSGI application (WebOb requests, Routes for paths).

Every answer is JSON, errors included: ``{"error": {"code", "message",
"details"?}}`` with the status that fits (400 bad input, 401 no or bad token,
403 not yours or not admin, 404 unknown, 405 wrong method with ``Allow``, 409
refused by the current state). 500 is only for our own bugs, which are
logged with the request. The one exception: the web page's files under
``/ui/`` (``tegu_ryu.ui``), HTML, scripts and styles.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

import routes
from webob import Request, Response

from tegu_ryu import __version__
from tegu_ryu.agents.registry import AgentRegistry
from tegu_ryu.api import views
from tegu_ryu.api.paging import page_of
from tegu_ryu.auth import Authenticator
from tegu_ryu.compat.tegu_api import TeguApi
from tegu_ryu.compat.tegu_mirrors import MirrorCall, TeguMirrors
from tegu_ryu.controller import ENFORCEMENT_STATUSES, Controller
from tegu_ryu.errors import (
    Forbidden,
    InvalidField,
    MethodNotAllowed,
    NotFound,
    RequestError,
    Unauthorized,
    clipped,
)
from tegu_ryu.metrics import CONTENT_TYPE
from tegu_ryu.reservations.model import Reservation, StitchReservation
from tegu_ryu.stitching.coordinator import Stitcher, peer_view
from tegu_ryu.stitching.peer_client import PeerClient
from tegu_ryu.stitching.points import Peer
from tegu_ryu.stitching.requests import parse_stitched, remote_of
from tegu_ryu.strict_json import parse_json
from tegu_ryu.tenancy import Principal
from tegu_ryu.ui.assets import Assets

LOG = logging.getLogger(__name__)

Handler = Callable[[Request, dict[str, str], Principal], Response]
MAX_WAIT = 30.0  # seconds a request may ask to wait for the switches (``?wait=``)
# A number as JSON (and the OpenAPI document's ``number``) writes it, of any length.
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
NOBODY = Principal(tenant="", admin=False)  # who public endpoints (health, openapi) serve


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


def wait_seconds(request: Request) -> float:
    """``?wait=SECONDS`` (up to 30): answer once the switches are settled; 0 when absent."""
    text = request.GET.get("wait")
    if text is None:
        return 0.0
    seconds = float(text) if JSON_NUMBER.fullmatch(text) else math.nan
    if not 0 <= seconds <= MAX_WAIT:
        raise InvalidField("wait", f"expected a number of seconds from 0 to {MAX_WAIT:.0f}")
    return seconds


def json_body(request: Request) -> Any:
    """The body as strict JSON (``tegu_ryu.strict_json``), or 400 ``bad_json``."""
    return parse_json(request.body)


class Router:
    """Paths to per-method handlers; knows the difference between 404 and 405."""

    def __init__(self) -> None:
        self._mapper = routes.Mapper()
        self._handlers: dict[str, dict[str, tuple[Handler, bool]]] = {}

    def add(self, method: str, path: str, handler: Handler, public: bool = False) -> None:
        if path not in self._handlers:
            self._mapper.connect(path, path, route_path=path)
            self._handlers[path] = {}
        self._handlers[path][method] = (handler, public)

    def match(self, request: Request) -> tuple[Handler, dict[str, str], bool]:
        """The handler for a request; HEAD is served by GET's handler (WebOb drops the body)."""
        path = request.path_info
        found = self._mapper.match(path)
        if found is None:
            raise NotFound(f"no such resource: {clipped(path, 80)}")
        params = dict(found)
        route = params.pop("route_path")
        request.environ["tegu.route"] = route  # the template, for /metrics (not the raw path)
        methods = self._handlers[route]
        method = "GET" if request.method == "HEAD" and "GET" in methods else request.method
        if method not in methods:
            allowed = ", ".join(sorted({*methods, *(["HEAD"] if "GET" in methods else [])}))
            method_text = clipped(request.method, 80)
            raise MethodNotAllowed(
                f"{method_text} is not allowed on {clipped(path, 80)}; use {allowed}",
                headers={"Allow": allowed},
            )
        handler, public = methods[method]
        return handler, params, public


class Api:
    """The WSGI callable serving ``/v1``."""

    def __init__(
        self,
        controller: Controller,
        authenticator: Authenticator | None = None,
        clock: Callable[[], float] = time.time,
        super_cookie: str | None = None,
        *,
        max_body: int = 1024 * 1024,
        max_waiting: int = 4,
        metrics_public: bool = True,
        agents: AgentRegistry | None = None,
        stitcher: Stitcher | None = None,
    ) -> None:
        """``max_waiting``: requests that may wait (``?wait=``) at once; the others answer
        at once, so that waiting clients can never take every server thread."""
        self.controller = controller
        self.max_body = max_body
        self._waiting = threading.BoundedSemaphore(max_waiting)
        self.metrics_public = metrics_public
        self.agents = agents or AgentRegistry()
        controller.metrics.watch(controller, clock)
        self.service = controller.reservations
        self.authenticator = authenticator or Authenticator(None)
        self.clock = clock
        self.openapi_document = load_openapi(self.authenticator.required)
        stitching = controller.settings.stitching
        self.stitcher = stitcher or Stitcher(
            self.service, stitching, PeerClient(stitching.peer_timeout), clock
        )
        self.tegu = TeguApi(
            controller, self.authenticator, super_cookie, clock, stitcher=self.stitcher
        )
        self.tegu_mirror_api = TeguMirrors(controller, self.authenticator, super_cookie, clock)
        r = self.router = Router()
        r.add("GET", "/v1/health", self.health, public=True)
        r.add("GET", "/v1/openapi.json", self.openapi, public=True)
        r.add("GET", "/v1/topology", self.topology)
        r.add("GET", "/v1/reservations", self.list_reservations)
        r.add("POST", "/v1/reservations", self.create_reservation)
        r.add("GET", "/v1/reservations/{rid}", self.get_reservation)
        r.add("PATCH", "/v1/reservations/{rid}", self.modify_reservation)
        r.add("DELETE", "/v1/reservations/{rid}", self.cancel_reservation)
        r.add("GET", "/v1/availability", self.availability)
        r.add("GET", "/v1/links", self.links)
        r.add("GET", "/v1/links/{src}/{dst}/schedule", self.schedule)
        r.add("GET", "/v1/fences", self.list_fences)
        r.add("GET", "/v1/fences/{tenant}", self.get_fence)
        r.add("PUT", "/v1/fences/{tenant}", self.put_fence)
        r.add("DELETE", "/v1/fences/{tenant}", self.delete_fence)
        r.add("GET", "/v1/settings", self.get_settings)
        r.add("PUT", "/v1/settings", self.put_settings)
        r.add("GET", "/v1/alarms", self.alarms)
        r.add("GET", "/v1/agents", self.list_agents)
        r.add("GET", "/metrics", self.metrics, public=True)  # its access is decided inside
        # Peer controllers present their shared token, checked inside (not tenants' tokens).
        r.add("POST", "/v1/stitches", self.peer_hold, public=True)
        r.add("GET", "/v1/stitches/{sid}", self.peer_segment, public=True)
        r.add("PATCH", "/v1/stitches/{sid}", self.peer_modify, public=True)
        r.add("DELETE", "/v1/stitches/{sid}", self.peer_cancel, public=True)
        r.add("POST", "/v1/stitches/{sid}/commit", self.peer_commit, public=True)
        # The web page's files hold no data: its scripts ask /v1 with the user's token.
        ui = Assets()
        r.add("GET", "/ui", ui.redirect, public=True)
        r.add("GET", "/ui/", ui.page, public=True)
        r.add("GET", "/ui/{asset}", ui.asset, public=True)
        # Tegu's text protocol authenticates per command (auth=, X-Auth-Tegu), inside.
        for path in ("/tegu/api", "/tegu/bandwidth"):
            for method in ("POST", "PUT", "DELETE", "GET"):
                r.add(method, path, self.tegu_api, public=True)
        for path in ("/tegu/mirrors/", "/tegu/mirrors/{name}/"):
            for method in ("GET", "POST", "PUT", "DELETE"):
                r.add(method, path, self.tegu_mirrors, public=True)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        began = time.perf_counter()
        statuses: list[str] = []

        def counted(status: str, headers: Any, *info: Any) -> Any:
            statuses.append(status)
            return start_response(status, headers, *info)

        try:
            return self._serve(environ, counted)
        finally:
            self.controller.metrics.record_request(
                environ.get("tegu.route", "other"),
                str(environ.get("REQUEST_METHOD", "")),
                int(statuses[0].split()[0]) if statuses else 500,
                time.perf_counter() - began,
            )

    def _serve(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = Request(environ)
        if (request.content_length or 0) > self.max_body:
            response = error_response(
                413,
                "request_too_large",
                f"the request body is larger than the limit of {self.max_body} bytes",
            )
            return response(environ, start_response)  # type: ignore[no-any-return]
        try:
            handler, params, public = self.router.match(request)
            principal = (
                NOBODY
                if public
                else self.authenticator.authenticate(request.headers.get("Authorization"))
            )
            response = handler(request, params, principal)
        except UnicodeDecodeError:
            response = error_response(
                400, "bad_request", "the request path or query is not valid UTF-8"
            )
        except RequestError as error:
            response = error_response(error.status, error.code, error.message, error.details)
            response.headers.update(error.headers)
        except Exception:
            query = environ.get("QUERY_STRING", "")
            LOG.exception(
                "internal error serving %s %s%s",
                request.method,
                environ.get("PATH_INFO", ""),
                f"?{query}" if query else "",
            )
            response = error_response(
                500, "internal_error", "internal error; see the controller log"
            )
        result: Iterable[bytes] = response(environ, start_response)
        return result

    def _reservation(
        self, reservation: Reservation, enforcement: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The v1 view; ``enforcement`` when the caller has just asked the switches' state."""
        view = views.reservation_json(
            reservation, enforcement or self.controller.enforcement(reservation)
        )
        measured = self.controller.measured(reservation)
        if measured:
            view["measured"] = measured
        return view

    # ------------------------------------------------------------ handlers

    def metrics(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        """Prometheus' text exposition; behind an admin token unless ``metrics_public``."""
        if not self.metrics_public:
            caller = self.authenticator.authenticate(request.headers.get("Authorization"))
            if not caller.admin:
                raise Forbidden("metrics are for admins (metrics_access)")
        response = Response(body=self.controller.metrics.exposition())
        response.content_type = "text/plain"
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    def health(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return json_response(self.controller.health())

    def openapi(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return json_response(self.openapi_document)

    def topology(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return json_response(self.controller.topology_view())

    def list_reservations(
        self, request: Request, params: dict[str, str], who: Principal
    ) -> Response:
        query = dict(request.GET)
        unknown = set(query) - {"state", "owner", "type", "enforcement", "limit", "cursor"}
        if unknown:
            raise RequestError(
                f"unknown parameter {sorted(unknown)[0]}; use state, owner, type, enforcement, "
                "limit or cursor",
                code="invalid_field",
                details={"field": sorted(unknown)[0]},
            )
        wanted = query.get("enforcement")
        if wanted is not None and wanted not in ENFORCEMENT_STATUSES:
            raise InvalidField("enforcement", f"expected one of {', '.join(ENFORCEMENT_STATUSES)}")
        found = self.service.visible(who, query.get("state"), query.get("type"), query.get("owner"))
        enforcement: dict[str, dict[str, Any]] = {}

        def enforced_as_wanted(reservation: Reservation) -> bool:
            enforcement[reservation.id] = self.controller.enforcement(reservation)
            return bool(enforcement[reservation.id]["status"] == wanted)

        page = page_of(found, query, None if wanted is None else enforced_as_wanted)
        shown, damaged = [], [views.damaged_json(d) for d in self.service.damaged_records(who)]
        for reservation in page.items:
            try:
                shown.append(self._reservation(reservation, enforcement.get(reservation.id)))
            except Exception as exc:
                LOG.exception("reservation %s cannot be shown; left out", reservation.id)
                if who.admin:
                    damaged.append(views.unshowable_json(reservation, exc))
        body: dict[str, Any] = {"reservations": shown, "next": page.next_cursor}
        if damaged:
            body["damaged"] = damaged
        return json_response(body)

    def create_reservation(
        self, request: Request, params: dict[str, str], who: Principal
    ) -> Response:
        wait = wait_seconds(request)
        body = json_body(request)
        remote = remote_of(body)
        if remote is not None:
            stitched = self.stitcher.reserve(who, parse_stitched(body, self.clock(), remote))
            view = self._reservation(stitched)
        else:
            view = self.service.create(who, body, self.clock(), self._reservation)
        if wait:
            view = self._reservation(self._settled(who, view["id"], wait))
        response = json_response(view, status=201)
        response.headers["Location"] = f"/v1/reservations/{view['id']}"
        return response

    def get_reservation(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        wait = wait_seconds(request)
        reservation = self.service.get(who, params["rid"])
        if wait:
            reservation = self._settled(who, reservation.id, wait)
        return json_response(self._reservation(reservation))

    def _settled(self, who: Principal, reservation_id: str, wait: float) -> Reservation:
        """The reservation once its switches are settled (or ``wait`` s have passed); at once
        when too many requests are waiting already."""
        if self._waiting.acquire(blocking=False):
            try:
                self.controller.await_enforcement(reservation_id, wait)
            finally:
                self._waiting.release()
        return self.service.get(who, reservation_id)

    def modify_reservation(
        self, request: Request, params: dict[str, str], who: Principal
    ) -> Response:
        body = json_body(request)
        changed: Reservation
        if isinstance(self.service.get(who, params["rid"]), StitchReservation):
            changed = self.stitcher.modify(who, params["rid"], body)
        else:
            changed = self.service.modify(who, params["rid"], body, self.clock())
        return json_response(self._reservation(changed))

    def cancel_reservation(
        self, request: Request, params: dict[str, str], who: Principal
    ) -> Response:
        if self.service.forget_damaged(who, params["rid"]):
            return Response(status=204)
        if isinstance(self.service.get(who, params["rid"]), StitchReservation):
            self.stitcher.cancel(who, params["rid"])
        else:
            self.service.cancel(who, params["rid"], self.clock())
        return Response(status=204)

    # ------------------------------------------------- the peer endpoint

    def _peer(self, request: Request) -> Peer:
        """The peer by its token: 401 without one, 403 for a tenant's (known, not a peer)."""
        authorization = request.headers.get("Authorization")
        try:
            return self.stitcher.peer_of(authorization)
        except Unauthorized:
            if authorization and self.authenticator.required:
                self.authenticator.authenticate(authorization)  # 401 unless a tenant's
                raise Forbidden(
                    "the stitching endpoint is for peer controllers (their token), not tenants"
                ) from None
            raise

    def peer_hold(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        """A peer domain asks us to hold our side of its stitched reservation."""
        peer = self._peer(request)
        held = self.stitcher.peer_hold(peer, json_body(request))
        response = json_response(peer_view(held), status=201)
        response.headers["Location"] = f"/v1/stitches/{held.id}"
        return response

    def peer_segment(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        segment = self.stitcher.peer_segment(self._peer(request), params["sid"])
        return json_response(peer_view(segment))

    def peer_commit(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        segment = self.stitcher.peer_commit(self._peer(request), params["sid"])
        return json_response(peer_view(segment))

    def peer_modify(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        peer = self._peer(request)
        segment = self.stitcher.peer_modify(peer, params["sid"], json_body(request))
        return json_response(peer_view(segment))

    def peer_cancel(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        self.stitcher.peer_cancel(self._peer(request), params["sid"])
        return Response(status=204)

    def availability(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        result = self.service.availability(who, dict(request.GET), self.clock())
        return json_response(views.availability_json(result))

    def links(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return json_response(
            {"links": [views.link_json(*row) for row in self.service.links(self.clock())]}
        )

    def schedule(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        found = self.service.schedule(params["src"], params["dst"], dict(request.GET), self.clock())
        return json_response(views.schedule_json(found, who))

    def list_fences(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        fences = self.service.fences(who)
        default = self.service.policy().default_fence
        return json_response(
            {
                "default": default.as_json(),
                "fences": [views.fence_json(t, f, False) for t, f in sorted(fences.items())],
            }
        )

    def get_fence(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        fence, is_default = self.service.fence(who, params["tenant"])
        return json_response(views.fence_json(params["tenant"], fence, is_default))

    def put_fence(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        fence = self.service.set_fence(who, params["tenant"], json_body(request))
        return json_response(views.fence_json(params["tenant"], fence, False))

    def delete_fence(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        self.service.clear_fence(who, params["tenant"])
        return Response(status=204)

    def get_settings(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return json_response(self.service.policy().as_json())

    def put_settings(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return json_response(self.service.set_policy(who, json_body(request)).as_json())

    def tegu_api(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        """Tegu's protocol: HTTP 200 whatever happened; the envelope says what did."""
        body = request.body.decode("utf-8", errors="replace")
        reply = self.tegu.handle(request.method, body, request.headers.get("X-Auth-Tegu"))
        return json_response(reply)

    def tegu_mirrors(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        """Tegu's mirror API: its own statuses and ``{"error": ...}`` bodies."""
        reply = self.tegu_mirror_api.handle(
            MirrorCall(
                method=request.method,
                name=params.get("name"),
                query=dict(request.GET),
                body=request.body,
                header=request.headers.get("X-Auth-Tegu"),
                base_url=request.host_url,
            )
        )
        if reply.body is None:
            return Response(status=reply.status)
        return json_response(reply.body, status=reply.status)

    def list_agents(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        """The host agents and their inventories (admins: they show every tenant's VMs)."""
        if not who.admin:
            raise Forbidden("the list of host agents is for admins")
        return json_response({"agents": self.agents.view()})

    def alarms(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return json_response({"alarms": [views.alarm_json(a) for a in self.service.alarms(who)]})


def load_openapi(tokens_required: bool = True) -> dict[str, Any]:
    """The OpenAPI document shipped with the package, stamped with our version.

    Without tokens (``auth_mode = none``) the tenants' endpoints need no
    ``Authorization``, and the document served says so; peers still need theirs."""
    text = resources.files("tegu_ryu.api").joinpath("openapi.json").read_text()
    document: dict[str, Any] = json.loads(text)
    document["info"]["version"] = __version__
    if not tokens_required:
        for operations in document["paths"].values():
            for operation in operations.values():
                if isinstance(operation, dict) and {"bearer": []} in operation.get("security", []):
                    operation["security"] = []
    return document
