"""Schemathesis hooks: half the generated requests name things that exist.

Random strings for ``src`` and ``dst`` are almost never hosts, so left alone
the fuzzer would test the 404 path of every reservation and never create one
for the stateful phase to read, change and cancel. These hooks keep every
generated value and add, beside it, the same request with known hosts, links
and a bounded window: both the refusals and the admissions get fuzzed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

HOSTS = ["h1", "h2", "h3", "h4", "10.0.0.1", "10.0.0.3", "fd00::3", "00:00:00:00:00:04"]
LINK_ENDS = ["0000000000000001:3", "0000000000000002:3", "0000000000000002:4", "0000000000000003:3"]


DOCUMENT = json.loads((Path(__file__).parents[2] / "tegu_ryu/api/openapi.json").read_text())
REQUEST = Draft202012Validator(
    {"$ref": "#/components/schemas/ReservationRequest", "components": DOCUMENT["components"]}
)


@schemathesis.hook("flatmap_body").apply_to(method="POST", path="/v1/reservations")
def reservations_between_known_hosts(context: Any, body: Any) -> st.SearchStrategy[Any]:
    """A body the document forbids is left as it is (negative_data_rejection needs it
    invalid); a valid one may become a valid one between known hosts."""
    if not isinstance(body, dict) or not REQUEST.is_valid(body):
        return st.just(body)
    kept = {k: v for k, v in body.items() if k not in ("start", "end", "duration", "bandwidth")}
    realistic = st.fixed_dictionaries(
        {
            "src": st.sampled_from(HOSTS[:4]),
            "dst": st.sampled_from(HOSTS[4:]),
            "duration": st.one_of(st.integers(1, 86400), st.floats(0.5, 1e6)),
            "bandwidth": st.sampled_from(["1M", "100K", 25000, {"out": "1M", "in": "10K"}]),
        }
    ).map(lambda known: {**kept, **known})
    return st.one_of(st.just(body), realistic.map(lambda r: r if REQUEST.is_valid(r) else body))


@schemathesis.hook("flatmap_query").apply_to(method="GET", path="/v1/availability")
def availability_between_known_hosts(context: Any, query: Any) -> st.SearchStrategy[Any]:
    if not isinstance(query, dict) or not {"src", "dst"} <= set(query):  # keep it invalid
        return st.just(query)
    known = st.fixed_dictionaries(
        {"src": st.sampled_from(HOSTS), "dst": st.sampled_from(HOSTS)}
    ).map(lambda hosts: {**query, **hosts})
    return st.one_of(st.just(query), known)


@schemathesis.hook("flatmap_path_parameters").apply_to(path="/v1/links/{src}/{dst}/schedule")
def schedules_of_known_links(context: Any, parameters: Any) -> st.SearchStrategy[Any]:
    known = st.fixed_dictionaries(
        {"src": st.sampled_from(LINK_ENDS), "dst": st.sampled_from(LINK_ENDS)}
    )
    return st.one_of(st.just(parameters), known)


@schemathesis.hook("map_query").apply_to(
    path=["/v1/reservations", "/v1/reservations/{rid}"], method=["GET", "POST"]
)
def short_waits(context: Any, query: Any) -> Any:
    """No switch is connected here, so a valid ``wait`` would last its whole length: cut it
    short, and keep every invalid one for the validation to be fuzzed."""
    wait = query.get("wait") if isinstance(query, dict) else None
    if isinstance(wait, int | float) and 0 < wait <= 30:
        return {**query, "wait": min(wait, 0.05)}
    return query
