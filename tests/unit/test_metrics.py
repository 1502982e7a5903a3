"""``GET /metrics``: Prometheus' text format, counting what happened and showing what is held."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from webob import Request

from tegu_ryu.api.wsgi import Api
from tegu_ryu.config import metrics_public

from .test_api import Client, reserve, sample_api


def scrape(api: Api, token: str | None = None) -> tuple[int, dict[tuple[str, tuple], float]]:
    request = Request.blank("/metrics")
    if token:
        request.headers["Authorization"] = f"Bearer {token}"
    response = request.get_response(api)
    if response.status_int != 200:
        return response.status_int, {}
    assert response.content_type == "text/plain"
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return 200, samples


def test_admissions_requests_and_what_links_hold_are_exposed(tmp_path: Path) -> None:
    api = sample_api(tmp_path)
    client = Client(api)
    assert reserve(client, "20M")[0] == 201
    assert reserve(client, "10G", protocol="udp")[0] == 409
    status, samples = scrape(api)
    assert status == 200
    accepted = ("tegu_admissions_total", (("kind", "bandwidth"), ("outcome", "accepted")))
    refused = ("tegu_admissions_total", (("kind", "bandwidth"), ("outcome", "no_capacity")))
    assert samples[accepted] == 1 and samples[refused] == 1
    assert samples[("tegu_admission_seconds_count", ())] == 2
    assert samples[("tegu_reservations", (("kind", "bandwidth"), ("state", "active")))] == 1
    posted = (
        "tegu_api_requests_total",
        (("method", "POST"), ("route", "/v1/reservations"), ("status", "201")),
    )
    assert samples[posted] == 1
    booked = {
        labels: value for (name, labels), value in samples.items() if name == "tegu_link_booked_bps"
    }
    assert sorted(booked.values())[-1] == 20_000_000  # both directions of the path, booked now
    usable = [v for (name, _), v in samples.items() if name == "tegu_link_usable_bps"]
    assert usable and min(usable) > 0
    assert samples[("tegu_switches_connected", ())] == 0


def test_metrics_are_for_admins_off_loopback(tmp_path: Path) -> None:
    api = sample_api(tmp_path)
    api.metrics_public = False
    assert scrape(api)[0] == 401
    assert scrape(api, "acme-token")[0] == 403
    assert scrape(api, "admin-token")[0] == 200
    assert metrics_public("auto", "127.0.0.1") and metrics_public("auto", "::1")
    assert not metrics_public("auto", "0.0.0.0") and not metrics_public("admin", "127.0.0.1")
    assert metrics_public("public", "192.0.2.1")


def test_made_up_methods_and_paths_cannot_grow_the_metrics(tmp_path: Path) -> None:
    api = sample_api(tmp_path)
    for n in range(50):
        Request.blank(f"/nowhere/{n}", method=f"X{n}").get_response(api)
    _, samples = scrape(api)
    requests = [
        labels for (name, labels), _ in samples.items() if name == "tegu_api_requests_total"
    ]
    routes = {dict(labels)["route"] for labels in requests}
    methods = {dict(labels)["method"] for labels in requests}
    assert routes == {"other"} and methods == {"other"}
