"""Serving the web page's files from the package, with headers that keep the page self-contained.

The files are read once, when the API is built, into a table by name: a
request can only ever name one of them (no path is joined to a directory),
and a missing file is found at start, not by the first visitor.

The Content-Security-Policy allows scripts, styles and requests from this
origin only, so the page cannot load anything from elsewhere, and no inline
script runs: data the API returns (reservation names, host names) is shown
as text by the scripts and could not run even if it were HTML.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources

from webob import Request, Response

from tegu_ryu.errors import NotFound, clipped
from tegu_ryu.tenancy import Principal

TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
INDEX = "index.html"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets() -> dict[str, Asset]:
    """Every file of ``tegu_ryu/ui/static`` whose type we serve, by file name."""
    found = {}
    for entry in resources.files("tegu_ryu.ui").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in TYPES:
            body = entry.read_bytes()
            found[entry.name] = Asset(body, TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])
    if INDEX not in found:
        raise FileNotFoundError(f"tegu_ryu/ui/static/{INDEX} is missing from the package")
    return found


class Assets:
    """The handlers for ``/ui``, ``/ui/`` and ``/ui/{asset}`` (public: the files hold no data)."""

    def __init__(self) -> None:
        self.files = load_assets()

    def redirect(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        """``/ui`` to ``/ui/``: the page names its files relative to the directory."""
        response = Response(status=301)
        response.location = request.application_url + "/ui/"
        return response

    def page(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return self._serve(INDEX)

    def asset(self, request: Request, params: dict[str, str], who: Principal) -> Response:
        return self._serve(params["asset"])

    def _serve(self, name: str) -> Response:
        asset = self.files.get(name)
        if asset is None:
            raise NotFound(f"no such file of the web page: {clipped(name, 80)}")
        response = Response(
            body=asset.body,
            content_type=asset.content_type,
            charset="utf-8",
            conditional_response=True,  # If-None-Match: 304 when the browser has this version
        )
        response.etag = asset.etag
        response.cache_control = "no-cache"  # revalidate: an upgraded controller serves new files
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
