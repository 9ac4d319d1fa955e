"""The OpenAPI document, with links between operations so that clients (and fuzzers) can follow real ids.

A link goes from every operation that answers a record (its schema has an `id`) to every operation whose path ids
that answer can fill: the record's own id, ids it names (`demand_id`), or the first of a list of them
(`demand_ids`). So `POST /rounds` leads to `PUT /rounds/{round_id}/preferences/demands/{demand_id}` with both ids
taken from the new round.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# Response schema → the path parameter its `id` fills.
RECORD_PARAMS = {
    "EnterprisePublic": "enterprise_id",
    "DemandPublic": "demand_id",
    "ExpertPublic": "expert_id",
    "EngagementPublic": "engagement_id",
    "RoundPublic": "round_id",
    "AssignmentPublic": "assignment_id",
    "ApiKeyCreated": "key_id",
    "IssuePublic": "issue_id",
}
# Answers that wrap a record: (property, its schema); their links fill path ids from the wrapped record.
WRAPPED = {"InterestResult": ("interest", "InterestPublic")}


def _response_schema(operation: dict[str, Any]) -> str | None:
    for status in ("201", "200"):
        content = operation.get("responses", {}).get(status, {}).get("content", {})
        ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
        if ref:
            return ref.rsplit("/", 1)[-1]
    return None


def _derived_param(schema_name: str, schemas: dict[str, Any]) -> str | None:
    """`UnitPublic` with an `id` fills `unit_id`: new domains get links without being listed here."""
    if not schema_name.endswith("Public") or "id" not in schemas.get(schema_name, {}).get("properties", {}):
        return None
    stem = re.sub(r"(?<!^)(?=[A-Z])", "_", schema_name.removesuffix("Public")).lower()
    return f"{stem}_id"


def _path_params(operation: dict[str, Any]) -> list[str]:
    return [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]


def add_links(document: dict[str, Any]) -> dict[str, Any]:
    """Add OpenAPI links from record-answering operations to the operations their ids reach (in place)."""
    schemas = document.get("components", {}).get("schemas", {})
    operations = [
        (path, method, op)
        for path, item in document.get("paths", {}).items()
        for method, op in item.items()
        if isinstance(op, dict) and "responses" in op
    ]
    for _, _, producer in operations:
        schema_name = _response_schema(producer) or ""
        own, prefix = RECORD_PARAMS.get(schema_name) or _derived_param(schema_name, schemas), ""
        if schema_name in WRAPPED:
            prefix, schema_name = f"/{WRAPPED[schema_name][0]}", WRAPPED[schema_name][1]
        elif own is None:
            continue
        properties = schemas.get(schema_name, {}).get("properties", {})
        status = "201" if "201" in producer["responses"] else "200"
        links: dict[str, Any] = {}
        for _, _, consumer in operations:
            params = _path_params(consumer)
            if not params or consumer is producer:
                continue
            values: dict[str, str] = {}
            for name in params:
                if name == own:
                    values[name] = "$response.body#/id"
                elif name in properties:
                    values[name] = f"$response.body#{prefix}/{name}"
                elif name.removesuffix("_id") + "_ids" in properties:
                    values[name] = f"$response.body#{prefix}/{name.removesuffix('_id')}_ids/0"
            if (own is None or own in params) and len(values) == len(params):
                links[consumer["operationId"]] = {"operationId": consumer["operationId"], "parameters": values}
        if links:
            producer["responses"][status]["links"] = links
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve the generated document with its links."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = add_links(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
