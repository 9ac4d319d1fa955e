"""One guard over every JSON body: clean text anywhere, strict JSON types, unknown fields named."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.factories import ADMIN, demand_body, enterprise_body, expert_body


def _post_raw(client, path: str, raw: str, headers=ADMIN):  # type: ignore[no-untyped-def]
    return client.post(path, content=raw.encode(), headers={**headers, "Content-Type": "application/json"})


def _fields(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["field"] for e in response.json().get("errors", [])]


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/experts", '{"name": "a\\ud800"}', "body.name"),
        ("/experts", '{"name": "ok", "contact": {"email": "a\\u0000@b.cn"}}', "body.contact.email"),
        ("/experts", '{"name": "ok", "keywords": ["x", "\\udfff"]}', "body.keywords.1"),
        ("/enterprises", '{"name": "ok", "contact": {"name": "\\ud83d"}}', "body.contact.name"),
    ],
)
def test_unstorable_text_anywhere_answers_422_naming_the_field(client, path, raw, field) -> None:
    response = _post_raw(client, path, raw)
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    assert response.json()["type"].endswith("validation-error")


def test_a_lone_surrogate_in_a_field_name_answers_422(client) -> None:
    response = _post_raw(client, "/experts", '{"name": "ok", "\\ud800x": 1}')
    assert response.status_code == 422
    assert "field name" in response.json()["errors"][0]["message"]


def test_a_valid_surrogate_pair_is_stored_as_its_character(client) -> None:
    response = _post_raw(client, "/experts", '{"name": "\\ud83d\\ude00 李"}')
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "😀 李"


def test_nan_and_infinity_are_not_json(api, client) -> None:
    expert = api.expert()
    response = _post_raw(client, f"/experts/{expert['id']}", "{}")  # warm-up: 405 on POST by id
    assert response.status_code == 405
    response = _post_raw(client, "/assignments", '{"candidates_per_demand": NaN}')
    assert response.status_code == 422
    assert _fields(response) == ["body"]


def test_nesting_too_deep_answers_422(client) -> None:
    raw = '{"name": "ok", "contact": ' + '{"name": ' * 40 + '"x"' + "}" * 40 + "}"
    response = _post_raw(client, "/experts", raw)
    assert response.status_code == 422
    assert "nested" in response.json()["errors"][0]["message"]


def test_a_bool_is_not_an_id(api, client) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    api.expert()
    response = client.post(f"/demands/{demand['id']}/selections", json={"expert_id": True}, headers=ADMIN)
    assert response.status_code == 422
    assert _fields(response) == ["body.expert_id"]
    assert client.get("/engagements", headers=ADMIN).json()["total"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"active": 0}, "body.active"),
        ({"capacity": "5"}, "body.capacity"),
        ({"capacity": 2.5}, "body.capacity"),
        ({"travels": "true"}, "body.travels"),
        ({"name": 7}, "body.name"),
        ({"conflicts": [True]}, "body.conflicts.0"),
        ({"favourite_colour": "blue"}, "body.favourite_colour"),
        ({"contact": {"email": "a@b.cn", "fax": "1"}}, "body.contact.fax"),
    ],
)
def test_loose_types_and_unknown_fields_answer_422_and_change_nothing(api, client, body, field) -> None:
    expert = api.expert()
    response = client.patch(f"/experts/{expert['id']}", json=body, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert field in _fields(response)
    assert client.get(f"/experts/{expert['id']}", headers=ADMIN).json() == expert


@pytest.mark.parametrize("deadline", [0, 1700000000, True])
def test_a_number_is_not_a_date(api, client, deadline) -> None:
    enterprise = api.enterprise()
    response = client.post("/demands", json=demand_body(enterprise["id"], deadline=deadline), headers=ADMIN)
    assert response.status_code == 422
    assert _fields(response) == ["body.deadline"]
    assert client.get("/demands", headers=ADMIN).json()["total"] == 0


def test_strict_json_still_takes_strings_for_enums_and_dates(api, client) -> None:
    enterprise = api.enterprise()
    body = demand_body(enterprise["id"], deadline="2030-01-31", category="talent", accepted_origins=["foreign"])
    response = client.post("/demands", json=body, headers=ADMIN)
    assert response.status_code == 201, response.text
    assert response.json()["deadline"] == "2030-01-31"


def test_a_whole_float_is_an_integer_as_in_json_schema(api, client) -> None:
    expert = api.expert()
    response = client.patch(f"/experts/{expert['id']}", json={"capacity": 3.0}, headers=ADMIN)
    assert response.status_code == 200
    assert response.json()["capacity"] == 3


def test_an_integer_is_a_number(api, client) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    expert = api.expert()
    engagement = client.post(f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]}, headers=ADMIN)
    client.post(f"/engagements/{engagement.json()['id']}/accept", headers=ADMIN)
    log = {"date": datetime.now(UTC).date().isoformat(), "hours": 3, "summary": "现场调试"}
    response = client.post(f"/engagements/{engagement.json()['id']}/logs", json=log, headers=ADMIN)
    assert response.status_code == 201, response.text


def test_without_a_key_a_loosely_typed_body_still_answers_401(api, client) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    response = client.post(f"/demands/{demand['id']}/selections", json={"expert_id": True})
    assert response.status_code == 401
    response = client.post("/experts", json={"name": 1}, headers={"Authorization": "Bearer wrong-key-0123456789"})
    assert response.status_code == 401


def test_a_party_key_on_an_admin_route_hears_403_before_type_errors(api, client) -> None:
    expert = api.expert()
    headers = api.headers("expert", expert_id=expert["id"])
    response = client.post("/experts", json={"name": 1}, headers=headers)
    assert response.status_code == 403


def test_a_rank_list_is_strict_too(api, client) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    expert = api.expert()
    rnd = client.post(
        "/rounds", json={"name": "r", "demand_ids": [demand["id"]], "expert_ids": [expert["id"]]}, headers=ADMIN
    ).json()
    response = client.put(f"/rounds/{rnd['id']}/preferences/demands/{demand['id']}", json=[True], headers=ADMIN)
    assert response.status_code == 422
    assert _fields(response) == ["body.0"]


def test_key_creation_refuses_unknown_fields(api, client) -> None:
    expert = api.expert()
    body = {"role": "expert", "expert_id": expert["id"], "scope": "all"}
    response = client.post("/keys", json=body, headers=ADMIN)
    assert response.status_code == 422
    assert any(f.endswith("scope") for f in _fields(response))


def test_imports_stay_lenient_for_spreadsheet_cells() -> None:
    from service.experts.models import ExpertCreate

    assert ExpertCreate.model_validate({"name": "李明", "capacity": "3"}).capacity == 3


def test_enterprise_and_expert_bodies_from_the_factories_pass(client) -> None:
    assert client.post("/enterprises", json=enterprise_body(), headers=ADMIN).status_code == 201
    assert client.post("/experts", json=expert_body(), headers=ADMIN).status_code == 201
    assert json.loads(client.get("/experts", headers=ADMIN).text)["total"] == 1
