"""Matching settings: validated from the environment, applied to the matcher, visible to administrators only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from service.config import Settings
from service.main import create_app
from tests.factories import ADMIN, Api


def test_score_and_field_weights_and_home_province_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    monkeypatch.setenv("EXPERTMATCH_WEIGHT_TEXT", "0.9")
    monkeypatch.setenv("EXPERTMATCH_WEIGHT_ORIGIN", "0.1")
    monkeypatch.setenv("EXPERTMATCH_EXPERT_FIELD_WEIGHTS", '{"keywords": 3, "bio": 1}')
    monkeypatch.setenv("EXPERTMATCH_HOME_PROVINCE", "Hebei")
    monkeypatch.setenv("EXPERTMATCH_BILINGUAL", "true")
    s = Settings(database_url=database_url)
    assert s.weight_text == 0.9 and s.weight_origin == 0.1
    assert s.expert_field_weights == {"keywords": 3.0, "bio": 1.0}
    options = s.matching_options()
    assert options["home_province"] == "Hebei" and options["weights"].origin == 0.1
    assert options["bilingual"] is True


@pytest.mark.parametrize(
    "env,message",
    [
        ({"EXPERTMATCH_WEIGHT_TEXT": "0.1"}, "more than half"),
        ({"EXPERTMATCH_WEIGHT_ORIGIN": "-1"}, "greater than or equal"),
        ({"EXPERTMATCH_EXPERT_FIELD_WEIGHTS": '{"hobbies": 1}'}, "unknown field"),
        ({"EXPERTMATCH_DEMAND_FIELD_WEIGHTS": '{"title": -2}'}, "non-negative"),
        ({"EXPERTMATCH_DEMAND_FIELD_WEIGHTS": '{"title": 0}'}, "positive"),
        ({"EXPERTMATCH_HOME_PROVINCE": "Atlantis"}, "unknown province"),
    ],
)
def test_bad_matching_settings_are_refused_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, database_url: str, env: dict[str, str], message: str
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError, match=message):
        Settings(database_url=database_url)


def test_administrators_see_the_matching_settings_in_force(settings: Settings, engine: Engine) -> None:
    custom = settings.model_copy(update={"weight_origin": 0.2, "home_province": "山西"})
    with TestClient(create_app(custom), raise_server_exceptions=False) as client:
        r = client.get("/settings/matching", headers=ADMIN)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["score_weights"]["origin"] == 0.2
        assert body["home_province"] == "山西" and body["home_province_en"] == "Shanxi"
        assert abs(sum(body["score_weights_normalised"].values()) - 1) < 1e-6
        assert body["expert_field_weights"]["title"] == 0.5
        assert "text" in body["ranking_rule"]
        assert client.get("/settings/matching").status_code == 401


def test_other_parties_may_not_read_the_settings(api: Api) -> None:
    headers = api.headers("expert", expert_id=api.expert()["id"])
    r = api.client.get("/settings/matching", headers=headers)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/problem+json")


def test_the_home_province_setting_names_the_in_province_rule(settings: Settings, engine: Engine) -> None:
    custom = settings.model_copy(update={"home_province": "黑龙江"})
    with TestClient(create_app(custom), raise_server_exceptions=False) as client:
        api = Api(client)
        ent = api.enterprise()
        demand = api.demand(ent["id"])
        api.expert(origin="in_province")
        items = client.get(f"/demands/{demand['id']}/suggestions", headers=ADMIN).json()["items"]
        assert items
        reason = next(r for r in items[0]["reasons"] if r["code"] == "in_province")
        assert "黑龙江" in reason["zh"] and "Heilongjiang" in reason["en"]
