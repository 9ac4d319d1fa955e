"""The console and the offline docs over the ASGI test client: sign-in cookies, CSRF, what each party sees."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from tests.factories import ADMIN_KEY, Api


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [v for k, v in attrs if k in ("src", "href", "action") and v]


def references(html: str) -> list[str]:
    parser = _Refs()
    parser.feed(html)
    return parser.urls


def external(urls: list[str]) -> list[str]:
    return [u for u in urls if urlsplit(u).netloc or u.startswith("//")]


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def sign_in(client: TestClient, key: str) -> None:
    token = csrf_of(client.get("/console/login").text)
    response = client.post("/console/login", data={"key": key, "csrf": token}, follow_redirects=False)
    assert response.status_code == 303, response.text


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_load_every_asset_from_this_server(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    urls = references(response.text) + re.findall(r"url: ?'([^']+)'", response.text)
    assert urls and external(urls) == []
    assert not re.search(r"https?://(?!json-schema|www\.w3\.org)", response.text)
    assert "img-src 'self' data:" in response.headers["content-security-policy"]
    for url in references(response.text):
        if url.startswith("/docs-assets/"):
            asset = client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000, url


def test_the_console_pages_and_assets_come_from_this_server(client: TestClient, api: Api) -> None:
    sign_in(client, ADMIN_KEY)
    for path in ("/console/login", "/console/stats", "/console/repositories/experts", "/console/import"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert external(references(page.text)) == [], path
        for url in references(page.text):
            if url.startswith("/console/static/"):
                assert client.get(url).status_code == 200, url
        assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_signing_in_keeps_the_key_in_an_http_only_same_site_cookie(client: TestClient, api: Api) -> None:
    enterprise = api.enterprise()
    key = api.key("enterprise", enterprise_id=enterprise["id"])["key"]
    token = csrf_of(client.get("/console/login").text)
    response = client.post("/console/login", data={"key": key, "csrf": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/demands"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("em_key="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the next test
    assert key not in client.get("/console/demands").text


def test_cookies_are_secure_under_https_or_when_the_setting_says_so(app, settings, api: Api) -> None:
    with TestClient(app, base_url="https://testserver") as tls:
        token = csrf_of(tls.get("/console/login").text)
        response = tls.post("/console/login", data={"key": ADMIN_KEY, "csrf": token}, follow_redirects=False)
        assert all("Secure" in c for c in response.headers.get_list("set-cookie"))
    app.state.settings = settings.model_copy(update={"console_secure_cookies": True})
    with TestClient(app) as plain:
        app.state.settings = settings.model_copy(update={"console_secure_cookies": True})
        response = plain.get("/console/login")
        assert "Secure" in response.headers["set-cookie"]


def test_a_wrong_key_is_refused_with_401_and_no_cookie(client: TestClient) -> None:
    token = csrf_of(client.get("/console/login").text)
    response = client.post("/console/login", data={"key": "nope", "csrf": token}, follow_redirects=False)
    assert response.status_code == 401
    assert "em_key" not in response.headers.get("set-cookie", "")


def test_a_revoked_key_ends_the_session(client: TestClient, api: Api) -> None:
    enterprise = api.enterprise()
    minted = api.key("enterprise", enterprise_id=enterprise["id"])
    sign_in(client, minted["key"])
    assert client.get("/console/demands").status_code == 200
    assert client.delete(f"/keys/{minted['id']}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).status_code == 200
    response = client.get("/console/demands", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/console/login?")


def test_form_posts_need_the_csrf_token_and_change_nothing_without_it(client: TestClient, api: Api) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    sign_in(client, api.key("enterprise", enterprise_id=enterprise["id"])["key"])
    for data in ({"status": "cancelled"}, {"status": "cancelled", "csrf": "forged-token"}):
        response = client.post(f"/console/demands/{demand['id']}/status", data=data, follow_redirects=False)
        assert response.status_code == 403
    token = csrf_of(client.get(f"/console/demands/{demand['id']}").text)
    cross_site = client.post(
        f"/console/demands/{demand['id']}/status",
        data={"status": "cancelled", "csrf": token},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert cross_site.status_code == 403
    assert (
        client.get(f"/demands/{demand['id']}", headers={"Authorization": f"Bearer {ADMIN_KEY}"}).json()["status"]
        == "open"
    )
    same_site = client.post(
        f"/console/demands/{demand['id']}/status", data={"status": "cancelled", "csrf": token}, follow_redirects=False
    )
    assert same_site.status_code == 303


def test_a_party_sees_only_what_the_api_shows_it(client: TestClient, api: Api) -> None:
    mine, theirs = api.enterprise(), api.enterprise(name="沈阳另一家企业")
    own = api.demand(mine["id"], title="我方需求")
    hidden = api.demand(theirs["id"], title="对方草稿需求", status="draft")
    public = api.demand(theirs["id"], title="对方公开需求")
    sign_in(client, api.key("enterprise", enterprise_id=mine["id"])["key"])
    listing = client.get("/console/demands").text
    assert "我方需求" in listing and "对方公开需求" not in listing and "对方草稿需求" not in listing
    assert client.get(f"/console/demands/{hidden['id']}").status_code == 403
    shown = client.get(f"/console/demands/{public['id']}")
    assert shown.status_code == 200 and 'id="edit-demand"' not in shown.text
    assert 'id="edit-demand"' in client.get(f"/console/demands/{own['id']}").text
    # Administrator pages answer with the API's refusal.
    assert client.get("/console/stats").status_code == 403
    assert client.get("/console/assignments").status_code == 403


def test_after_sign_in_only_console_paths_are_followed(client: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example", "/docs"):
        token = csrf_of(client.get("/console/login").text)
        response = client.post(
            "/console/login", data={"key": ADMIN_KEY, "csrf": token, "next": target}, follow_redirects=False
        )
        assert response.headers["location"] == "/console/stats"


def test_the_language_follows_the_browser_then_the_switch(client: TestClient) -> None:
    assert "<h1>Sign in</h1>" in client.get("/console/login", headers={"Accept-Language": "en-GB,en"}).text
    assert "<h1>登录</h1>" in client.get("/console/login", headers={"Accept-Language": "zh-CN"}).text
    client.get("/console/lang/en?next=/console/login")
    assert "<h1>Sign in</h1>" in client.get("/console/login", headers={"Accept-Language": "zh-CN"}).text


def test_with_review_on_a_draft_is_submitted_and_an_administrator_approves_it(app, settings, api: Api) -> None:
    with TestClient(app) as client:
        app.state.settings = settings.model_copy(update={"demand_review": True})
        enterprise = Api(client).enterprise()
        key = Api(client).key("enterprise", enterprise_id=enterprise["id"])["key"]
        sign_in(client, key)
        token = csrf_of(client.get("/console/demands/new").text)
        form = {
            "csrf": token,
            "title": "焊接机器人路径规划",
            "description": "需要离线编程与焊缝跟踪。",
            "status": "open",
            "headcount": "1",
            "term_months": "6",
        }
        created = client.post("/console/demands", data=form, follow_redirects=False)
        assert created.status_code == 303
        demand_id = int(created.headers["location"].rsplit("/", 1)[1])
        page = client.get(f"/console/demands/{demand_id}").text
        assert "草稿" in page and "提交审核" in page and "提交发布" not in page
        assert client.post(f"/console/demands/{demand_id}/submit", data={"csrf": token}).status_code == 200
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        assert client.get(f"/demands/{demand_id}", headers=admin).json()["status"] == "in_review"
        client.cookies.clear()
        sign_in(client, ADMIN_KEY)
        token = csrf_of(client.get(f"/console/demands/{demand_id}").text)
        assert 'id="review-demand"' in client.get(f"/console/demands/{demand_id}").text
        reviewed = client.post(
            f"/console/demands/{demand_id}/review",
            data={"csrf": token, "decision": "approve", "comment": "同意发布"},
        )
        assert reviewed.status_code == 200 and "同意发布" in reviewed.text
        assert client.get(f"/demands/{demand_id}", headers=admin).json()["status"] == "open"


def test_a_refused_form_comes_back_with_the_api_s_reason_and_an_unknown_record_is_a_404_page(
    client: TestClient, api: Api
) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    sign_in(client, api.key("enterprise", enterprise_id=enterprise["id"])["key"])
    page = client.get(f"/console/demands/{demand['id']}")
    refused = client.post(
        f"/console/demands/{demand['id']}/status", data={"status": "no-such-status", "csrf": csrf_of(page.text)}
    )
    # Back on the demand's page, the API's field named in the message; the demand unchanged.
    assert refused.status_code == 200 and refused.url.path == f"/console/demands/{demand['id']}"
    flash = re.search(r'<div class="flash flash-error" role="alert">(.*?)</div>', refused.text, re.S)
    assert flash and "<li>status:" in flash.group(1)
    assert api.client.get(f"/demands/{demand['id']}", headers=api.headers("admin")).json()["status"] == "open"
    missing = client.get("/console/demands/987654")
    assert missing.status_code == 404 and "<h1>404 ·" in missing.text and 'id="edit-demand"' not in missing.text


def test_a_suggestion_card_says_how_its_score_relates_to_its_text_relevance(client: TestClient, api: Api) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    api.expert()
    api.expert(name="王芳", origin="out_of_province", region="北京市", keywords=["轴承", "振动"])
    sign_in(client, api.key("enterprise", enterprise_id=enterprise["id"])["key"])
    html = client.get(f"/console/demands/{demand['id']}").text
    cards = re.findall(r'<article class="card suggestion[^"]*" data-expert-id="\d+">(.*?)</article>', html, re.S)
    assert len(cards) == 2
    for card in cards:
        score = float(re.search(r'<strong class="score-value">([0-9.]+)</strong>', card).group(1))
        text = float(re.search(r"<th>文本相关度</th><td>.*?</span> ([0-9.]+)</td>", card, re.S).group(1))
        # The rule the card states, and what it promises: soft factors never lift a score above its text relevance.
        assert "总分 = 文本相关度 ×" in card and score <= text + 0.005


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_suggestion_cards_name_every_score_component_and_evidence_field_in_the_page_language(
    client: TestClient, api: Api, lang: str
) -> None:
    enterprise = api.enterprise()
    demand = api.demand(enterprise["id"])
    expert = api.expert()
    client.get(f"/console/lang/{lang}?next=/console/login")
    pages = []
    sign_in(client, api.key("enterprise", enterprise_id=enterprise["id"])["key"])
    pages.append(client.get(f"/console/demands/{demand['id']}").text)
    sign_in(client, api.key("expert", expert_id=expert["id"])["key"])
    pages.append(client.get("/console/suggestions").text)
    for html in pages:
        cards = re.findall(r'<article class="card suggestion[^"]*"[^>]*>(.*?)</article>', html, re.S)
        assert cards
        labels = [label for card in cards for label in re.findall(r"<th>(.*?)</th>", card)]
        assert len(labels) >= 7
        # a label the translations lack shows as its key ("comp_…", "field_…"): none may reach the page
        untranslated = re.findall(r"\b(?:comp|field)_[a-z_]+", "".join(cards))
        assert untranslated == []
