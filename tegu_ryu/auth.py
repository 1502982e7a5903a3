"""Who is asking: bearer tokens mapped to a tenant and roles.

Token file (JSON)::

    {"s3cret-admin-token": {"tenant": "ops", "roles": ["admin"]},
     "acme-token": {"tenant": "acme", "roles": ["tenant"]}}

Tokens are looked up by their SHA-256, so a request's token is never compared
character by character with a real one. With ``auth_mode = none`` every
request is the admin tenant ``default``; that mode is refused unless the API
listens on loopback only.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from pathlib import Path
from typing import Any

from tegu_ryu.errors import ConfigurationError, Unauthorized
from tegu_ryu.tenancy import ANONYMOUS, Principal

ROLES = {"admin", "tenant"}
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tegu_ryu"'}  # sent with every 401


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """Turns a request's ``Authorization`` header into a Principal, or refuses it."""

    def __init__(self, tokens: dict[str, Principal] | None) -> None:
        self._by_digest = None if tokens is None else {_digest(t): p for t, p in tokens.items()}

    @classmethod
    def from_config(cls, mode: str, token_file: str | None, api_host: str) -> Authenticator:
        if mode == "none":
            if not _is_loopback(api_host):
                raise ConfigurationError(
                    f"auth_mode = none is only allowed with the API on loopback, not {api_host}; "
                    "set auth_mode = token and token_file"
                )
            return cls(None)
        if not token_file:
            raise ConfigurationError("auth_mode = token needs token_file")
        return cls(load_tokens(token_file))

    @property
    def required(self) -> bool:
        return self._by_digest is not None

    def authenticate(self, authorization: str | None) -> Principal:
        if self._by_digest is None:
            return ANONYMOUS
        if not authorization:
            raise Unauthorized(
                "this request needs an Authorization: Bearer TOKEN header", headers=CHALLENGE
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        principal = (
            self._by_digest.get(_digest(token)) if scheme.lower() == "bearer" and token else None
        )
        if principal is None:
            raise Unauthorized("the bearer token is not valid", headers=CHALLENGE)
        return principal


def load_tokens(path: str) -> dict[str, Principal]:
    """Read a token file, naming the entry that is wrong."""
    try:
        document: Any = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigurationError(f"cannot read token_file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"token_file {path}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigurationError(
            f"token_file {path}: expected an object of token: {{tenant, roles}}"
        )
    tokens = {}
    for token, entry in document.items():
        where = f"token_file {path}: token {token[:4]}..."
        if not token.strip() or token != token.strip():
            raise ConfigurationError(
                f"{where}: a token must not be empty or begin or end with white space"
            )
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("tenant"), str)
            or not entry["tenant"]
        ):
            raise ConfigurationError(f"{where}: needs a tenant name")
        roles = entry.get("roles", ["tenant"])
        if not isinstance(roles, list) or not set(roles) <= ROLES or not roles:
            raise ConfigurationError(f"{where}: roles must be a list of {sorted(ROLES)}")
        tokens[token] = Principal(tenant=entry["tenant"], admin="admin" in roles)
    return tokens


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
