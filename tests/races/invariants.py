"""SPEC §2's invariants, checked directly in the database after a race."""

from __future__ import annotations

import json

from sqlalchemy import text
from sqlalchemy.engine import Engine

LIVE = "('offered', 'active')"


def _conflicts(value: object) -> list[int]:
    return json.loads(value) if isinstance(value, str) else list(value or [])


def violations(engine: Engine) -> dict[str, list]:
    """Every broken invariant, by name (all lists empty when the database is consistent)."""
    with engine.connect() as conn:
        over_capacity = conn.execute(
            text(
                f"SELECT x.id, x.capacity, COUNT(*) FROM engagement g JOIN expert x ON x.id = g.expert_id "
                f"WHERE g.status IN {LIVE} GROUP BY x.id, x.capacity HAVING COUNT(*) > x.capacity"
            )
        ).all()
        over_headcount = conn.execute(
            text(
                f"SELECT d.id, d.headcount, COUNT(*) FROM engagement g JOIN demand d ON d.id = g.demand_id "
                f"WHERE g.status IN {LIVE} GROUP BY d.id, d.headcount HAVING COUNT(*) > d.headcount"
            )
        ).all()
        doubled_pairs = conn.execute(
            text(
                f"SELECT demand_id, expert_id, COUNT(*) FROM engagement WHERE status IN {LIVE} "
                f"GROUP BY demand_id, expert_id HAVING COUNT(*) > 1"
            )
        ).all()
        pairs = conn.execute(
            text(
                "SELECT g.id, d.enterprise_id, x.conflicts, x.origin, d.accepted_origins, g.enterprise_id "
                "FROM engagement g JOIN demand d ON d.id = g.demand_id JOIN expert x ON x.id = g.expert_id"
            )
        ).all()
        demands = conn.execute(
            text(
                "SELECT d.id, d.status, d.headcount, "
                "(SELECT COUNT(*) FROM engagement g WHERE g.demand_id = d.id AND g.status = 'active') FROM demand d"
            )
        ).all()
        both_pending = conn.execute(
            text(
                "SELECT demand_id, expert_id FROM interest WHERE engagement_id IS NULL "
                "GROUP BY demand_id, expert_id HAVING COUNT(DISTINCT side) > 1"
            )
        ).all()
    conflicted = [row[0] for row in pairs if row[1] in _conflicts(row[2])]
    wrong_origin = [row[0] for row in pairs if _conflicts(row[4]) and row[3] not in _conflicts(row[4])]
    wrong_enterprise = [row[0] for row in pairs if row[1] != row[5]]
    status_drift = [
        (demand_id, status, headcount, active)
        for demand_id, status, headcount, active in demands
        if status in ("open", "matched") and (status == "matched") != (active >= headcount)
    ]
    return {
        "specialist over capacity": list(over_capacity),
        "demand over headcount": list(over_headcount),
        "pair with two live engagements": list(doubled_pairs),
        "conflict of interest paired": conflicted,
        "origin not accepted": wrong_origin,
        "engagement's enterprise differs from its demand's": wrong_enterprise,
        "demand status not following its engagements": status_drift,
        "pair with pending interests from both sides": list(both_pending),
    }


def print_violations(found: dict[str, list]) -> None:
    width = max(len(name) for name in found)
    print("\ninvariant violations (checked in the database):")
    for name, rows in found.items():
        print(f"  {name:<{width}}  {len(rows)}")
