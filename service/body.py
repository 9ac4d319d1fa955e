"""One guard over every JSON request body: clean text, bounded nesting, strict JSON types.

FastAPI validates a parsed body in pydantic's Python mode, which is lenient (`true` is 1, `"5"` is 5, `0` is
1970-01-01) — the right thing for spreadsheet imports, the wrong one for an API. So every route's body is also
validated here in JSON strict mode against the very type the route declares; nothing per field, nothing per domain:
a new route (on a router included in `service.api`) is covered the moment it declares a body.

- Text: a NUL character or a lone UTF-16 surrogate anywhere in the body (keys too) answers 422 naming its path
  before anything else, as malformed JSON does: neither can be stored (PostgreSQL refuses both).
- Nesting deeper than `MAX_DEPTH`, and the non-JSON constants NaN/Infinity, answer 422 too.
- Types: a strict-mode failure answers 422 naming each field, after authentication (a caller without a valid key
  still hears 401 first): `current_principal` raises what this guard deferred.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError

from service.common import text_problem

MAX_DEPTH = 32
_DEFERRED = "deferred_body_errors"
_adapters: dict[int, TypeAdapter[Any] | None] = {}
_needs_key: dict[int, bool] = {}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _path(parts: tuple[Any, ...]) -> tuple[Any, ...]:
    return ("body", *parts)


def text_errors(data: Any) -> Iterator[dict[str, Any]]:
    """Each string (or key) in a parsed JSON document that cannot be stored, and containers nested too deep."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(data, ())]
    while stack:
        value, parts = stack.pop()
        if len(parts) > MAX_DEPTH:
            yield {
                "loc": _path(parts),
                "msg": f"nested more than {MAX_DEPTH} levels deep",
                "type": "too_deep",
                "input": None,
            }
            continue
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                yield {"loc": _path(parts), "msg": problem, "type": "invalid_text", "input": None}
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key)
                if problem:
                    safe = key.encode("utf-8", "backslashreplace").decode().replace("\x00", "\\u0000")
                    yield {"loc": _path((*parts, safe)), "msg": f"field name {problem}", "type": "invalid_text"}
                    continue
                stack.append((item, (*parts, key)))
        elif isinstance(value, list):
            stack.extend((item, (*parts, index)) for index, item in enumerate(value))


def _adapter(route: APIRoute) -> TypeAdapter[Any] | None:
    key = id(route)
    if key not in _adapters:
        field = route.body_field
        adapter = getattr(field, "_type_adapter", None) if field is not None else None
        _adapters[key] = adapter if isinstance(adapter, TypeAdapter) else None
    return _adapters[key]


def _route_needs_key(route: APIRoute) -> bool:
    key = id(route)
    if key not in _needs_key:
        stack, found = list(route.dependant.dependencies), False
        while stack and not found:
            dependant = stack.pop()
            found = bool(getattr(dependant.call, "resolves_principal", False))
            stack.extend(dependant.dependencies)
        _needs_key[key] = found
    return _needs_key[key]


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type == "" or content_type == "application/json" or content_type.endswith("+json")


async def guard_json_body(request: Request) -> None:
    """Router-level dependency: refuse unstorable text now, strict-type errors once the caller is known."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or route.body_field is None or not _is_json(request):
        return
    raw = await request.body()
    if not raw.strip():
        return
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:
        if "is not JSON" in str(exc):
            raise RequestValidationError(
                [{"loc": ("body",), "msg": f"malformed JSON: {exc}", "type": "json_invalid", "input": None}]
            ) from None
        return  # FastAPI has already answered malformed JSON; nothing else reaches here
    except RecursionError:
        return
    errors = list(text_errors(data))
    if errors:
        raise RequestValidationError(errors)
    adapter = _adapter(route)
    if adapter is None:
        return
    try:
        adapter.validate_json(raw, strict=True)
    except ValidationError as exc:
        strict_errors = [
            {"loc": _path(tuple(err["loc"])), "msg": err["msg"], "type": err["type"], "input": None}
            for err in exc.errors(include_url=False)
            # JSON Schema counts 1.0 as an integer; the lenient pass below turns it into 1.
            if not (err["type"] == "int_type" and isinstance(err["input"], float) and err["input"].is_integer())
        ]
        if not strict_errors:
            return
        if _route_needs_key(route):
            setattr(request.state, _DEFERRED, strict_errors)
        else:
            raise RequestValidationError(strict_errors) from None


def raise_deferred_body_errors(request: Request) -> None:
    """Called once the caller is authenticated: the body's strict-type errors, if the guard found any."""
    errors = getattr(request.state, _DEFERRED, None)
    if errors:
        raise RequestValidationError(errors)
