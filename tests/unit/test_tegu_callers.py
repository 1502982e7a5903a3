"""Tokens and projects in Tegu host names: every token must be valid, every project its
token's tenant, and the command acts for that tenant (issue: two holes in the first port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tegu_ryu.api.wsgi import Api

from .test_api import sample_api, tegu_post


class Tegu:
    def __init__(self, api: Api) -> None:
        self.api = api

    def one(self, body: str, header: str | None = None) -> dict[str, Any]:
        reply = tegu_post(self.api, body, header)
        assert len(reply["reqstate"]) == 1
        state: dict[str, Any] = reply["reqstate"][0]
        return state

    def reservations(self) -> list[Any]:
        return list(self.api.controller.reservations.engine.reservations.values())


@pytest.fixture
def tegu(tmp_path: Path) -> Iterator[Tegu]:
    yield Tegu(sample_api(tmp_path))


def reserve(hosts: str) -> str:
    return f"reserve 1M +60 {hosts} cookie voice"


@pytest.mark.parametrize(
    ("hosts", "header", "words"),
    [
        ("forged/acme/h1,forged/acme/h3", "acme-token", "h1 validation failed"),
        ("acme-token/acme/h1,forged/acme/h3", "acme-token", "h2 validation failed"),
        ("acme-token/globex/h1,acme-token/globex/h3", None, "invalid token/tenant pair"),
        ("globex/h1,globex/h3", "acme-token", "invalid token/tenant pair"),
        ("acme-token/acme/h1,globex-token/globex/h3", None, "different tenants"),
        ("acme-token/acme/h1,acme-token/acme/h3", "forged", "not authorised"),
    ],
)
def test_a_bad_token_or_a_foreign_project_refuses_and_stores_nothing(
    tegu: Tegu, hosts: str, header: str | None, words: str
) -> None:
    state = tegu.one(reserve(hosts), header)
    assert state["status"] == "ERROR" and words in state["comment"], state
    assert tegu.reservations() == []


@pytest.mark.parametrize("header", [None, "", "/", "/acme"])
def test_a_valid_token_in_the_host_names_is_enough(tegu: Tegu, header: str | None) -> None:
    state = tegu.one(reserve("acme-token/acme/h1,acme-token/acme/h3"), header)
    assert state["status"] == "OK", state
    (made,) = tegu.reservations()
    assert made.owner == "acme"


def test_the_owner_is_the_tokens_tenant_and_others_do_not_see_it(tegu: Tegu) -> None:
    assert tegu.one(reserve("acme-token//h1,acme-token//h3"))["status"] == "OK"
    mine = tegu.one("listres", "acme-token")["details"]["reservations"]
    theirs = tegu.one("listres", "globex-token")["details"]["reservations"]
    assert len(mine) == 1 and theirs == []
    wrong = tegu.one(reserve("globex/h2,globex/h4"), "admin-token")  # h2 is acme's
    assert wrong["status"] == "ERROR"
    assert wrong["comment"] == "h1 validation failed: h2 is not in project globex"
    assert tegu.one(reserve("acme/h2,globex/h4"), "admin-token")["status"] == "OK"  # h4: none
    assert {r.owner for r in tegu.reservations()} == {"acme", "ops"}


def test_listconns_and_refresh_read_tokens_in_host_names(tegu: Tegu) -> None:
    found = tegu.one("listconns acme-token/acme/h1")
    assert found["status"] == "OK" and found["details"]["host"]["mac"] == "00:00:00:00:00:01"
    assert "validation failed" in tegu.one("listconns forged/acme/h1")["comment"]
    refused = tegu.one("refresh acme-token/acme/h1")
    assert refused["status"] == "ERROR" and "not authorised" in refused["comment"]  # admins only
