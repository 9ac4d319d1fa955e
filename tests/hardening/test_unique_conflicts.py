"""A 409 on a unique value names the field, the value and the record holding it."""

from __future__ import annotations

from tests.factories import ADMIN, credit_code, enterprise_body, expert_body


def test_a_taken_credit_code_names_the_field_and_its_holder(api, client) -> None:
    first = api.enterprise(credit_code=credit_code(4242))
    response = client.post("/enterprises", json=enterprise_body(credit_code=credit_code(4242)), headers=ADMIN)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "unique-value-taken"
    assert [e["field"] for e in body["errors"]] == ["body.credit_code"]
    assert body["existing_id"] == first["id"]
    assert credit_code(4242) in body["detail"]
    assert client.get("/enterprises", headers=ADMIN).json()["total"] == 1


def test_a_taken_external_id_on_patch_names_the_field(api, client) -> None:
    first = api.expert(external_id="EXP-1")
    second = api.expert(external_id="EXP-2")
    response = client.patch(f"/experts/{second['id']}", json={"external_id": "EXP-1"}, headers=ADMIN)
    assert response.status_code == 409
    body = response.json()
    assert [e["field"] for e in body["errors"]] == ["body.external_id"]
    assert body["existing_id"] == first["id"]
    assert client.get(f"/experts/{second['id']}", headers=ADMIN).json()["external_id"] == "EXP-2"


def test_a_taken_external_id_on_create_names_the_field(api, client) -> None:
    api.expert(external_id="EXP-9")
    response = client.post("/experts", json=expert_body(external_id="EXP-9"), headers=ADMIN)
    assert response.status_code == 409
    assert response.json()["errors"][0]["field"] == "body.external_id"
    assert "EXP-9" in response.json()["detail"]
