"""``/ui/``: the web page's files, served from the package, self-contained and public."""

from __future__ import annotations

import re
from pathlib import Path

from webob import Request

from tegu_ryu.api.wsgi import Api
from tegu_ryu.ui.assets import POLICY, TYPES

from .test_api import sample_api

STATIC = Path(__file__).resolve().parents[2] / "tegu_ryu" / "ui" / "static"


def get(api: Api, path: str, **headers: str) -> Request:
    request = Request.blank(path)
    request.headers.update(headers)
    return request.get_response(api)


def test_the_page_and_every_file_it_names_are_served_without_a_token(tmp_path: Path) -> None:
    api = sample_api(tmp_path)  # auth_mode = token: the files need none, the data does
    page = get(api, "/ui/")
    assert page.status_int == 200 and page.content_type == "text/html"
    assert page.headers["Content-Security-Policy"] == POLICY
    named = set(re.findall(r'(?:src|href)="([\w.-]+)"', page.text))
    imported = {
        name
        for script in STATIC.glob("*.js")
        for name in re.findall(r'from "\./([\w.-]+)"', script.read_text())
    }
    assert {"main.js", "ui.css", "favicon.svg"} <= named and imported
    for name in named | imported:
        response = get(api, f"/ui/{name}")
        assert response.status_int == 200, name
        assert response.content_type == TYPES[Path(name).suffix], name
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert get(api, "/v1/topology").status_int == 401


def test_unknown_files_are_json_404_and_ui_without_slash_redirects(tmp_path: Path) -> None:
    api = sample_api(tmp_path)
    for path in ("/ui/nothing.js", "/ui/..%2Fapi%2Fopenapi.json", "/ui/static"):
        response = get(api, path)
        assert response.status_int == 404 and response.json["error"]["code"] == "not_found"
    moved = get(api, "/ui")
    assert moved.status_int == 301 and moved.location == "http://localhost/ui/"


def test_an_unchanged_file_is_not_sent_again(tmp_path: Path) -> None:
    api = sample_api(tmp_path)
    first = get(api, "/ui/main.js")
    again = get(api, "/ui/main.js", **{"If-None-Match": first.headers["ETag"]})
    assert again.status_int == 304 and not again.body


def test_every_file_is_shipped_and_nothing_comes_from_elsewhere() -> None:
    """Package data is ``ui/static/*``: no subdirectories, no file of a type not served, and no
    address of another host (the page must work without the internet; SVG's namespace is a name,
    never fetched)."""
    for entry in STATIC.iterdir():
        assert entry.is_file() and entry.suffix in TYPES, entry.name
        text = entry.read_text().replace("http://www.w3.org/2000/svg", "")
        assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), entry.name
