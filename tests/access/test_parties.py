"""What each party may do beyond the route matrix: ownership, personal data, keys."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text

from service.config import Settings
from service.main import create_app
from tests.access.conftest import World
from tests.factories import ADMIN, bearer, demand_body


def test_an_enterprise_may_post_demands_only_for_itself(client, world: World) -> None:
    own = client.post("/demands", json=demand_body(world.enterprise_a["id"]), headers=world.headers["owner_enterprise"])
    assert own.status_code == 201
    other = client.post(
        "/demands", json=demand_body(world.enterprise_a["id"]), headers=world.headers["other_enterprise"]
    )
    assert other.status_code == 403


def test_non_admins_list_open_demands_and_their_own(client, world: World) -> None:
    def ids(party: str) -> set[int]:
        return {d["id"] for d in client.get("/demands", headers=world.headers[party]).json()["items"]}

    both = {world.open_demand["id"], world.draft_demand["id"]}
    assert ids("admin") == both
    assert ids("owner_enterprise") == both
    assert ids("other_enterprise") == {world.open_demand["id"]}
    assert ids("own_expert") == {world.open_demand["id"]}


def test_contact_details_are_shown_only_to_admins_and_the_owner(client, world: World) -> None:
    path = f"/experts/{world.expert_x['id']}"
    assert client.get(path, headers=world.headers["admin"]).json()["contact"]["name"]
    assert client.get(path, headers=world.headers["own_expert"]).json()["contact"]["name"]
    for party in ("owner_enterprise", "other_enterprise", "other_expert"):
        body = client.get(path, headers=world.headers[party]).json()
        assert body["contact"] is None and body["conflicts"] is None, party
    listed = client.get("/experts", headers=world.headers["other_enterprise"]).json()["items"]
    assert all(item["contact"] is None for item in listed)
    path = f"/enterprises/{world.enterprise_a['id']}"
    assert client.get(path, headers=world.headers["owner_enterprise"]).json()["contact"]["email"]
    assert client.get(path, headers=world.headers["other_enterprise"]).json()["contact"] is None
    assert client.get(path, headers=world.headers["own_expert"]).json()["contact"] is None


def test_a_specialist_may_not_change_admin_only_fields(client, world: World) -> None:
    path = f"/experts/{world.expert_x['id']}"
    for change in ({"capacity": 9}, {"active": False}, {"conflicts": [world.enterprise_b["id"]]}):
        response = client.patch(path, json={**change, "bio": "x"}, headers=world.headers["own_expert"])
        assert response.status_code == 403
        assert next(iter(change)) in response.json()["detail"]
    after = client.get(path, headers=ADMIN).json()
    assert after["capacity"] == world.expert_x["capacity"] and after["bio"] == world.expert_x["bio"]


def test_keys_are_shown_once_and_stored_only_as_a_digest(client, world: World, engine) -> None:
    minted = client.post("/keys", json={"role": "expert", "expert_id": world.expert_y["id"]}, headers=ADMIN).json()
    secret = minted["key"]
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT digest, prefix FROM api_key WHERE id = :i"), {"i": minted["id"]}).one()
    assert secret not in stored.digest and len(stored.digest) == 64
    listed = client.get("/keys?limit=200", headers=ADMIN).json()["items"]
    assert all("key" not in item for item in listed)
    assert client.get("/experts", headers=bearer(secret)).status_code == 200


def test_a_revoked_key_stops_working_and_cannot_be_revoked_twice(client, world: World) -> None:
    minted = client.post(
        "/keys", json={"role": "enterprise", "enterprise_id": world.enterprise_b["id"]}, headers=ADMIN
    ).json()
    assert client.get("/experts", headers=bearer(minted["key"])).status_code == 200
    assert client.delete(f"/keys/{minted['id']}", headers=ADMIN).status_code == 200
    assert client.get("/experts", headers=bearer(minted["key"])).status_code == 401
    assert client.delete(f"/keys/{minted['id']}", headers=ADMIN).status_code == 409


def test_key_roles_must_name_their_party(client, world: World) -> None:
    bad = [
        {"role": "enterprise"},
        {"role": "expert", "enterprise_id": world.enterprise_a["id"]},
        {"role": "admin", "expert_id": world.expert_x["id"]},
        {"role": "expert", "expert_id": 99999},
        {"role": "superuser"},
    ]
    for body in bad:
        assert client.post("/keys", json=body, headers=ADMIN).status_code == 422, body


def test_missing_malformed_or_unknown_keys_answer_401(client, world: World) -> None:
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic abc"}, bearer("em_nope")):
        response = client.get("/experts", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_blank_admin_key_setting_opens_nothing(settings, engine) -> None:  # type: ignore[no-untyped-def]
    blank = Settings(database_url=settings.database_url, admin_key=" ", _env_file=None)
    assert blank.admin_key is None
    app = create_app(blank)
    app.state.settings, app.state.engine = blank, engine
    client = TestClient(app)
    for headers in ({"Authorization": "Bearer "}, {"Authorization": "Bearer  "}, bearer(" ")):
        assert client.get("/experts", headers=headers).status_code == 401
