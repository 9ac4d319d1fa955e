"""Probe a build of the service the way issue 12's hostile client did, and print the counts.

    python bench/hostile_probe.py --db sqlite|postgres [--code DIR] [--wrong-keys 4000]

`--code DIR` probes another checkout of the service (e.g. an older commit unpacked with `git archive`): its
`service` package is imported instead of this one's; the probes themselves (tests/hardening/hostile.py) are this
checkout's. Everything runs in process over a fresh migrated database; prints one JSON object per probe.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
KEY = "test-admin-key-0123456789"  # the factories' administrator key
ADMIN = {"Authorization": f"Bearer {KEY}"}


def _database(kind: str, tmp: Path) -> tuple[str, object]:
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'probe.db'}", None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server_url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    server = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"em_probe_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return make_url(server_url).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--code", type=Path, default=HERE)
    parser.add_argument("--wrong-keys", type=int, default=4000)
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    import importlib.util
    import tempfile

    import service

    assert Path(service.__file__).resolve().is_relative_to(args.code.resolve()), service.__file__
    from fastapi.testclient import TestClient

    from service.config import Settings
    from service.db import make_engine
    from service.main import create_app
    from service.migrate import upgrade

    # The probes are this checkout's; `tests.factories` (used by them) and `service` are the probed checkout's.
    spec = importlib.util.spec_from_file_location("hostile", HERE / "tests" / "hardening" / "hostile.py")
    hostile = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["hostile"] = hostile
    spec.loader.exec_module(hostile)  # type: ignore[union-attr]
    dump, operations, probes, world = hostile.dump, hostile.operations, hostile.probes, hostile.world

    tmp = Path(tempfile.mkdtemp(prefix="hostile-probe-"))
    url, drop = _database(args.db, tmp)
    try:
        upgrade(url)
        settings = Settings(database_url=url, admin_key=KEY, log_json=False, log_level="WARNING", _env_file=None)
        app = create_app(settings)
        out: dict[str, object] = {"db": args.db, "code": str(args.code)}
        with TestClient(app, raise_server_exceptions=False) as client:
            engine = app.state.engine
            ids = world(client, ADMIN)
            out.update(_issue_probes(client, ids))
            out["hostile"] = _hostile_suite(client, engine, ids, operations(app.openapi()), probes, dump)
            out["wrong_keys"] = _wrong_keys(client, args.wrong_keys)
        try:
            Settings(admin_key="a", _env_file=None)
            out["admin_key_a"] = "accepted"
        except Exception as exc:  # the settings' validation error
            out["admin_key_a"] = f"refused: {str(exc).splitlines()[2].strip()[:90]}"
        for key, value in out.items():
            print(json.dumps({key: value}, ensure_ascii=False))
        make_engine  # noqa: B018  (imported to prove the checkout builds an engine the same way)
    finally:
        if drop is not None:
            drop()


def _issue_probes(client, ids):  # type: ignore[no-untyped-def]
    """The hand-made probes of issue 12, each with the status it got."""
    from tests.factories import credit_code, demand_body, enterprise_body, expert_body

    h = ADMIN
    out: dict[str, object] = {}
    raw = {**h, "Content-Type": "application/json"}
    out["surrogate POST /experts"] = client.post("/experts", content=b'{"name": "a\\ud800"}', headers=raw).status_code
    spare = client.post("/experts", json=expert_body(name="spare"), headers=h).json()
    demand = client.post("/demands", json=demand_body(ids["enterprise"], headcount=3), headers=h).json()
    before = client.get("/engagements", headers=h).json()["total"]
    r = client.post(f"/demands/{demand['id']}/selections", json={"expert_id": True}, headers=h)
    out["selection expert_id=true"] = [r.status_code, client.get("/engagements", headers=h).json()["total"] - before]
    expert_path = f"/experts/{spare['id']}"
    for label, body in {
        "PATCH active=0": {"active": 0},
        "PATCH capacity='5'": {"capacity": "5"},
        "PATCH contact.email NUL": {"contact": {"email": "a\x00@b.cn"}},
        "PATCH unknown field": {"favourite_colour": "blue"},
    }.items():
        out[label] = client.patch(expert_path, json=body, headers=h).status_code
    out["POST /demands deadline=0"] = client.post(
        "/demands", json=demand_body(ids["enterprise"], deadline=0), headers=h
    ).status_code
    # An active engagement, then a conflict of interest with its enterprise.
    enterprise = client.post("/enterprises", json=enterprise_body(), headers=h).json()
    d = client.post("/demands", json=demand_body(enterprise["id"]), headers=h).json()
    e = client.post("/experts", json=expert_body(name="active one"), headers=h).json()
    g = client.post(f"/demands/{d['id']}/selections", json={"expert_id": e["id"]}, headers=h).json()
    client.post(f"/engagements/{g['id']}/accept", headers=h)
    out["PATCH conflicts vs active engagement"] = client.patch(
        f"/experts/{e['id']}", json={"conflicts": [enterprise["id"]]}, headers=h
    ).status_code
    # Unique values.
    client.post("/experts", json=expert_body(external_id="DUP-1"), headers=h)
    r = client.post("/experts", json=expert_body(external_id="DUP-1"), headers=h)
    out["duplicate external_id"] = [r.status_code, [x.get("field") for x in r.json().get("errors", [])]]
    code = credit_code(987654)
    client.post("/enterprises", json=enterprise_body(credit_code=code), headers=h)
    r = client.post("/enterprises", json=enterprise_body(credit_code=code), headers=h)
    out["duplicate credit_code"] = [r.status_code, [x.get("field") for x in r.json().get("errors", [])]]
    # Headers.
    r = client.get(f"/experts/{e['id']}", headers=h)
    out["headers on GET /experts/{id}"] = {
        name: r.headers.get(name)
        for name in ("x-content-type-options", "x-frame-options", "referrer-policy", "cache-control")
    }
    r = client.get("/docs")
    out["frame protection on /docs"] = r.headers.get("x-frame-options") or r.headers.get("content-security-policy")
    out["405 Allow on PUT /experts"] = client.put("/experts", headers=h).headers.get("allow")
    return out


def _hostile_suite(client, engine, ids, ops, probes, dump):  # type: ignore[no-untyped-def]
    """Every generated probe: how many, how many 5xx, how many writes accepted, which operations changed data."""
    sent, errors, accepted = Counter(), Counter(), Counter()
    changed = []
    started = time.perf_counter()
    for op in ops:
        before = dump(engine) if op.method != "GET" else None
        for probe in probes(op, ids):
            headers = {**ADMIN, "Content-Type": "application/json"}
            response = client.request(probe.method, probe.path, content=probe.raw_body, headers=headers)
            sent[probe.kind] += 1
            if response.status_code >= 500:
                errors[probe.kind] += 1
            elif op.method != "GET" and response.status_code < 400:
                accepted[probe.kind] += 1
        if before is not None and dump(engine) != before:
            changed.append(f"{op.method} {op.path}")
    return {
        "operations": len(ops),
        "requests": dict(sent),
        "5xx": dict(errors),
        "writes accepted": dict(accepted),
        "operations whose data changed": changed,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _wrong_keys(client, n: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    for i in range(n):
        statuses[client.get("/experts", headers={"Authorization": f"Bearer wrong-key-{i}"}).status_code] += 1
    return {"sent": n, "statuses": dict(statuses), "seconds": round(time.perf_counter() - started, 1)}


if __name__ == "__main__":
    main()
