"""Check API responses against the OpenAPI document the controller serves."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator


def validate_response(
    document: dict[str, Any], path: str, method: str, status: int, body: Any
) -> None:
    """Raise if ``body`` is not what the document promises for this operation and status.

    Error statuses the operation does not list must still be the common Error shape.
    """
    operation = document["paths"][path][method.lower()]
    response = operation["responses"].get(str(status))
    if response is None:
        schema: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
        assert status >= 400, f"{method} {path} answered {status}, which the document does not list"
    else:
        if "$ref" in response:
            response = _resolve(document, response["$ref"])
        if "content" not in response:
            assert body is None, f"{method} {path} {status} promises no body"
            return
        schema = response["content"]["application/json"]["schema"]
    Draft202012Validator({**schema, "components": document["components"]}).validate(body)


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return dict(node)
