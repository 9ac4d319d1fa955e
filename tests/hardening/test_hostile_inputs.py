"""Hostile requests over every operation of the OpenAPI document: never a 5xx, never a change to the data.

Probes (see hostile.py): lone surrogates, NUL, over-long text, deep nesting, wrong JSON types, huge numbers and
bad ids, in every body field (lists' items and field names included), every query parameter and every path id.
Each operation's probes run between two dumps of every table, which must be equal.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.factories import ADMIN
from tests.hardening.hostile import dump, operations, probes, world


@pytest.mark.slow
def test_no_hostile_request_answers_5xx_or_changes_data(app, client, engine) -> None:
    ids = world(client, ADMIN)
    failures: list[str] = []
    changed: list[str] = []
    seen: Counter[str] = Counter()
    for op in operations(app.openapi()):
        before = dump(engine) if op.method != "GET" else None
        for probe in probes(op, ids):
            headers = {**ADMIN, "Content-Type": "application/json"}
            response = client.request(probe.method, probe.path, content=probe.raw_body, headers=headers)
            seen[probe.kind] += 1
            where = f"{probe.kind} {probe.method} {probe.path[:80]} [{probe.label}]"
            if response.status_code >= 500:
                failures.append(f"{where} -> {response.status_code}")
            elif op.method != "GET" and response.status_code < 400:
                failures.append(f"{where} accepted")
        if before is not None and dump(engine) != before:
            changed.append(f"{op.method} {op.path}")
    assert not failures, "\n".join(failures[:40])
    assert not changed, changed
    assert set(seen) == {"surrogate", "nul", "overlong", "deep", "wrong_type", "huge_number", "bad_id"}
