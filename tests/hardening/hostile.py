"""Hostile requests generated from the OpenAPI document: every operation, every parameter and body field.

Used by the hostile-input suite (test_hostile_inputs.py) and by bench/hostile_probe.py, which prints the counts.
Probes: lone surrogates, NUL, over-long text, deep nesting, wrong JSON types, huge numbers, bad ids.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, select
from sqlalchemy.engine import Engine

PROBES = ("surrogate", "nul", "overlong", "deep", "wrong_type", "huge_number", "bad_id")
BAD_IDS = ("0", "-1", "2147483648", "99999999999999999999", "abc", "1.5", "1e3", "%00", "%ED%A0%80")
HUGE_NUMBERS = (2**63, -(10**30), 1e308)


@dataclass
class Operation:
    method: str
    path: str
    path_params: list[str]
    query: dict[str, dict[str, Any]]
    body: dict[str, Any] | None  # resolved JSON schema of the body, if any


@dataclass
class Probe:
    kind: str
    method: str
    path: str  # with ids filled in
    query: dict[str, str] = field(default_factory=dict)
    raw_body: bytes | None = None
    label: str = ""


def _resolve(schema: dict[str, Any], spec: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """The schema with $ref, allOf and optional anyOf collapsed (enough to build bodies, not a validator)."""
    if depth > 20:
        return {}
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(spec["components"]["schemas"][name], spec, depth + 1)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            if not options:
                return {"type": "null"}
            resolved = _resolve(options[0], spec, depth + 1)
            return {**resolved, "nullable": True} if len(options) < len(schema[key]) else resolved
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _resolve(schema["allOf"][0], spec, depth + 1)
    resolved = dict(schema)
    if "properties" in resolved:
        resolved["properties"] = {k: _resolve(v, spec, depth + 1) for k, v in resolved["properties"].items()}
    if "items" in resolved and isinstance(resolved["items"], dict):
        resolved["items"] = _resolve(resolved["items"], spec, depth + 1)
    return resolved


def operations(spec: dict[str, Any]) -> list[Operation]:
    """Every operation of the document, with its parameters and resolved body schema."""
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            params = op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            ops.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    path_params=[p["name"] for p in params if p["in"] == "path"],
                    query={p["name"]: _resolve(p.get("schema", {}), spec) for p in params if p["in"] == "query"},
                    body=_resolve(body, spec) if body else None,
                )
            )
    return ops


def sample(schema: dict[str, Any], ids: dict[str, int], name: str = "") -> Any:
    """A plausible value for the schema (every property filled, so that each can then be spoiled)."""
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: sample(v, ids, k) for k, v in schema.get("properties", {}).items()}
    if kind == "array":
        item = schema.get("items", {})
        return [sample(item, ids, name)] if item.get("type") in {"string", "integer"} and name != "conflicts" else []
    if kind == "integer":
        if name.endswith("_id") and name[:-3] in ids:
            return ids[name[:-3]]
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return max(float(schema.get("minimum", 1)), 1.0)
    if kind == "boolean":
        return True
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return "2024-01-01"
        if fmt == "date-time":
            return "2030-01-01T00:00:00Z"
        return "x" * max(int(schema.get("minLength", 1)), 1)
    return "x"


def _leaves(value: Any, schema: dict[str, Any], path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict]]:
    """(path, schema) of every scalar in a sampled body, lists' first item included."""
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, item in value.items():
            yield from _leaves(item, props.get(key, {}), (*path, key))
        if not value and not path:
            return
    elif isinstance(value, list):
        item_schema = schema.get("items", {})
        if value:
            yield from _leaves(value[0], item_schema, (*path, 0))
        else:
            yield (*path, 0), item_schema  # an empty list still takes items
    else:
        yield path, schema


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    document = copy.deepcopy(document)
    if not path:
        return value
    target = document
    for part in path[:-1]:
        target = target[part]
    last = path[-1]
    if isinstance(target, list) and last >= len(target):
        target.append(value)
    else:
        target[last] = value
    return document


def _dumps(value: Any) -> bytes:
    # ensure_ascii keeps a lone surrogate as the JSON escape \ud800, as a hostile client sends it.
    return json.dumps(value, ensure_ascii=True).encode()


def _wrong_types(schema: dict[str, Any]) -> list[Any]:
    kind = schema.get("type")
    if "enum" in schema:
        return [0, True, ["x"]]
    wrong = {
        "string": [1, True, {"a": 1}],
        "integer": [True, "5", 1.5, None],
        "number": [True, "5"],
        "boolean": [0, 1, "true"],
        "array": ["x", {"a": 1}],
        "object": ["x", [1]],
    }.get(kind, ["x"])
    return [value for value in wrong if value is not None or not schema.get("nullable")]


def world(client: Any, headers: dict[str, str]) -> dict[str, int]:
    """One record of every kind for the probes' ids: enterprise, demand, specialist, an active engagement with a
    service log and an issue, an open round, an assignment, a key, a team."""
    from tests.factories import Api

    api = Api(client)
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"], headcount=2)
    expert = api.expert()
    other = api.expert(name="王强")
    engagement = client.post(f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]}, headers=headers)
    engagement_id = engagement.json()["id"]
    client.post(f"/engagements/{engagement_id}/accept", headers=headers)
    issue = client.post(
        f"/engagements/{engagement_id}/issues", json={"title": "t", "description": "d"}, headers=headers
    ).json()
    rnd = client.post(
        "/rounds",
        json={"name": "r", "demand_ids": [demand["id"]], "expert_ids": [expert["id"], other["id"]]},
        headers=headers,
    ).json()
    assignment = client.post("/assignments", json={}, headers=headers).json()
    key = api.key("expert", expert_id=other["id"])
    team = client.post(
        "/teams",
        json={"name": "t", "lead_expert_id": expert["id"], "member_ids": [expert["id"], other["id"]]},
        headers=headers,
    ).json()
    return {
        "team": team.get("id", 1),
        "enterprise": enterprise["id"],
        "demand": demand["id"],
        "expert": expert["id"],
        "engagement": engagement_id,
        "issue": issue.get("id", 1),
        "round": rnd["id"],
        "assignment": assignment.get("id", 1),
        "key": key.get("id", 1),
    }


def probes(op: Operation, ids: dict[str, int]) -> Iterator[Probe]:
    """Every hostile variant of one operation."""
    real_path = op.path
    for name in op.path_params:
        real_path = real_path.replace("{" + name + "}", str(ids.get(name.removesuffix("_id"), 1)))
    for name in op.path_params:
        for bad in BAD_IDS:
            spoiled = op.path
            for other in op.path_params:
                value = bad if other == name else str(ids.get(other.removesuffix("_id"), 1))
                spoiled = spoiled.replace("{" + other + "}", value)
            body = _dumps(sample(op.body, ids)) if op.body else None
            yield Probe("bad_id", op.method, spoiled, raw_body=body, label=f"{name}={bad}")
    for name, schema in op.query.items():
        text = {
            "surrogate": "a%ED%A0%80",
            "nul": "a%00",
            "overlong": "x" * 5000,
            "wrong_type": "[]" if schema.get("type") != "string" else "1",
            "huge_number": "99999999999999999999999",
        }
        for kind, value in text.items():
            yield Probe(kind, op.method, real_path + f"?{name}={value}", label=f"query {name}")
    if op.body is None:
        return
    base = sample(op.body, ids)
    for leaf, schema in _leaves(base, op.body):
        label = ".".join(map(str, leaf)) or "body"
        yield Probe("surrogate", op.method, real_path, raw_body=_dumps(_set(base, leaf, "a\ud800b")), label=label)
        yield Probe("nul", op.method, real_path, raw_body=_dumps(_set(base, leaf, "a\x00b")), label=label)
        yield Probe("overlong", op.method, real_path, raw_body=_dumps(_set(base, leaf, "长" * 30_000)), label=label)
        deep: Any = "x"
        for _ in range(200):
            deep = {"a": [deep]}
        yield Probe("deep", op.method, real_path, raw_body=_dumps(_set(base, leaf, deep)), label=label)
        for wrong in _wrong_types(schema):
            yield Probe("wrong_type", op.method, real_path, raw_body=_dumps(_set(base, leaf, wrong)), label=label)
        for huge in HUGE_NUMBERS:
            yield Probe("huge_number", op.method, real_path, raw_body=_dumps(_set(base, leaf, huge)), label=label)
    yield Probe("deep", op.method, real_path, raw_body=b"[" * 100_000 + b"]" * 100_000, label="body")
    yield Probe("huge_number", op.method, real_path, raw_body=b'{"x": 1' + b"0" * 10_000 + b"}", label="body")
    if isinstance(base, dict):
        yield Probe("nul", op.method, real_path, raw_body=_dumps({"a\x00": 1, **base}), label="field name")
        yield Probe("surrogate", op.method, real_path, raw_body=_dumps({**base, "\udfff": 1}), label="field name")


_reflected: dict[str, MetaData] = {}


def dump(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every table, in a stable order (to compare before and after a request)."""
    key = engine.url.render_as_string()
    if key not in _reflected:
        _reflected[key] = MetaData()
        _reflected[key].reflect(engine)
    metadata = _reflected[key]
    out = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            out[table.name] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
    return out
