"""The OpenAPI document's links lead from a created record to the operations its ids reach, and they work."""

from __future__ import annotations

from tests.factories import ADMIN


def _links(app, path: str, method: str, status: str = "201") -> dict:  # type: ignore[no-untyped-def]
    return app.openapi()["paths"][path][method]["responses"][status]["links"]


def _operation(app, operation_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            if op.get("operationId") == operation_id:
                return method.upper(), path
    raise AssertionError(operation_id)


def _resolve(expression: str, body: dict):  # type: ignore[no-untyped-def]
    value = body
    for part in expression.removeprefix("$response.body#/").split("/"):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def test_a_new_round_links_to_both_rank_list_routes_with_real_ids(app, api, client) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    expert = api.expert()
    body = {"name": "r", "demand_ids": [demand["id"]], "expert_ids": [expert["id"]]}
    rnd = client.post("/rounds", json=body, headers=ADMIN).json()
    followed = []
    for link in _links(app, "/rounds", "post").values():
        method, path = _operation(app, link["operationId"])
        if "/preferences/" not in path:
            continue
        for name, expression in link["parameters"].items():
            path = path.replace("{" + name + "}", str(_resolve(expression, rnd)))
        ranking = [expert["id"]] if "/demands/" in path else [demand["id"]]
        response = client.request(method, path, json=ranking, headers=ADMIN)
        assert response.status_code == 200, (path, response.text)
        followed.append(path)
    base = f"/rounds/{rnd['id']}/preferences"
    assert sorted(followed) == [f"{base}/demands/{demand['id']}", f"{base}/experts/{expert['id']}"]


def test_every_operation_with_a_path_id_is_reached_by_some_link(app) -> None:
    document = app.openapi()
    reached = {
        link["operationId"]
        for item in document["paths"].values()
        for op in item.values()
        for response in op.get("responses", {}).values()
        for link in response.get("links", {}).values()
    }
    by_id = [op["operationId"] for path, item in document["paths"].items() if "{" in path for op in item.values()]
    unreached = [op for op in by_id if op not in reached]
    # Routes of records no operation answers whole (their ids come from lists) are named here, nothing else.
    assert all(
        not op.startswith(("rank_", "read_round", "close_round", "read_unit", "read_webhook")) for op in unreached
    ), unreached
