"""The one JSON parser for bodies a client or a peer sends (every route, every answer read).

Python's ``json.loads`` takes ``NaN``, ``Infinity`` and ``1e999`` (a float
no later check expects) and recurses once per nesting level, so a body of a
thousand ``[`` is a ``RecursionError`` wherever it is parsed. Here every
such body is a ``BadJson`` (400 ``bad_json``) instead, and a document nested
deeper than ``MAX_DEPTH`` is refused too: no request of ours goes past a
few levels, and code walking a parsed document must not meet a deep one.
A number with no fraction is an ``int`` however it is written, so that every
check for an integer agrees with the OpenAPI document.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tegu_ryu.errors import RequestError

MAX_DEPTH = 32  # arrays and objects inside each other


class BadJson(RequestError):
    """The body is not JSON, not strict JSON, or nested too deeply."""

    code = "bad_json"


def parse_json(data: bytes | str, what: str = "the request body") -> Any:
    """``data`` as strict JSON (empty: ``None``); BadJson naming ``what`` otherwise."""
    try:
        document = json.loads(data or b"null", parse_constant=_no_constant, parse_float=_finite)
    except RecursionError as exc:
        raise BadJson(f"{what} is nested too deeply") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJson(f"{what} is not valid JSON: {exc}") from exc
    if _depth(document) > MAX_DEPTH:
        raise BadJson(f"{what} is nested deeper than {MAX_DEPTH} levels")
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite(text: str) -> float | int:
    """A finite number; an integral one (``360795.0``, ``1e3``) is an int, as JSON Schema
    (and so the OpenAPI document's ``integer``) counts it."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return int(value) if value.is_integer() else value


def _depth(document: Any) -> int:
    """How deep arrays and objects nest in ``document``, without recursing."""
    deepest, pending = 0, [(document, 1)]
    while pending:
        value, level = pending.pop()
        children = (
            value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                pending.append((child, level + 1))
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
    return deepest
