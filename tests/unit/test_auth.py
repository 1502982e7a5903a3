"""Bearer tokens, the token file, and the loopback rule for auth_mode = none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tegu_ryu.auth import Authenticator, load_tokens
from tegu_ryu.errors import ConfigurationError, Unauthorized
from tegu_ryu.tenancy import ANONYMOUS, Principal


def write(tmp_path: Path, document: object) -> str:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_tokens_map_to_tenants_and_roles(tmp_path: Path) -> None:
    path = write(tmp_path, {"t1": {"tenant": "ops", "roles": ["admin"]}, "t2": {"tenant": "acme"}})
    auth = Authenticator.from_config("token", path, "0.0.0.0")
    assert auth.authenticate("Bearer t1") == Principal("ops", admin=True)
    assert auth.authenticate("bearer t2") == Principal("acme", admin=False)
    for header in (None, "", "Bearer", "Bearer ", "Bearer  \t", "Bearer nope", "Basic t1"):
        with pytest.raises(Unauthorized) as refused:
            auth.authenticate(header)
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_auth_is_everyone_admin_on_loopback_only() -> None:
    assert Authenticator.from_config("none", None, "127.0.0.1").authenticate(None) == ANONYMOUS
    assert Authenticator.from_config("none", None, "::1").authenticate("anything") == ANONYMOUS
    for host in ("0.0.0.0", "10.1.2.3", "example.org"):
        with pytest.raises(ConfigurationError, match="only allowed with the API on loopback"):
            Authenticator.from_config("none", None, host)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected an object"),
        ({"t": "acme"}, "needs a tenant"),
        ({"t": {"tenant": ""}}, "needs a tenant"),
        ({"t": {"tenant": "a", "roles": ["root"]}}, "roles must be"),
        ({"t": {"tenant": "a", "roles": []}}, "roles must be"),
        ({"": {"tenant": "a"}}, "must not be empty"),
        ({" t": {"tenant": "a"}}, "white space"),
    ],
)
def test_bad_token_files_are_named(tmp_path: Path, document: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_tokens(write(tmp_path, document))


def test_token_mode_needs_a_readable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="needs token_file"):
        Authenticator.from_config("token", None, "127.0.0.1")
    with pytest.raises(ConfigurationError, match="cannot read token_file"):
        Authenticator.from_config("token", str(tmp_path / "missing"), "127.0.0.1")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_tokens(str(broken))
