"""The console driven in headless Chromium through the three parties' main flows, against a live server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import LiveServer, follow, shot, sign_in

pytestmark = pytest.mark.slow


def flash(page: Any) -> str:
    return page.locator(".flash").first.inner_text()


def test_docs_and_redoc_render_without_any_other_host(page: Any, live_server: LiveServer, external_requests) -> None:
    page.goto("/docs")
    page.wait_for_selector(".opblock-tag", timeout=30_000)
    assert page.locator(".opblock-tag").count() >= 8
    assert page.get_by_text("/demands/{demand_id}/suggestions").first.is_visible()
    shot(page, "docs", full_page=False)
    page.goto("/redoc")
    page.wait_for_selector("h1", timeout=30_000)
    assert "expertmatch" in page.locator("h1").first.inner_text()
    assert page.get_by_text("/demands/{demand_id}/suggestions").count() >= 1
    shot(page, "redoc", full_page=False)
    assert external_requests == []


def test_sign_in_refuses_a_bad_key_and_the_language_switches(page: Any, live_server: LiveServer) -> None:
    page.goto("/console")
    assert page.url.endswith("/console/login")
    assert page.locator("h1").inner_text() == "登录"
    sign_in(page, "not-a-key")
    assert "密钥无效或已撤销" in flash(page)
    follow(page, "a[data-lang=en]")
    assert page.locator("h1").inner_text() == "Sign in"
    sign_in(page, "still-not-a-key")
    assert "unknown or revoked" in flash(page)
    shot(page, "sign-in-en", full_page=False)
    # The key never reaches a script: the cookie is HTTP-only and same-site.
    assert page.evaluate("document.cookie") == ""


def test_enterprise_posts_a_demand_reviews_suggestions_and_selects(page: Any, live_server: LiveServer) -> None:
    enterprise = live_server.get("/enterprises", external_id="ENT-004")["items"][0]
    other = live_server.demand_by_external_id("DEM-001")  # another enterprise's demand
    assert other["enterprise_id"] != enterprise["id"]
    sign_in(page, live_server.key("enterprise", enterprise_id=enterprise["id"]))

    # First page: its own demands only, exactly as GET /demands answers this enterprise.
    assert page.url.endswith("/console/demands")
    own = live_server.get("/demands", enterprise_id=enterprise["id"], limit=100)
    rows = page.locator("#demand-list tbody tr")
    assert rows.count() == min(own["total"], 20)
    assert enterprise["name"] in page.locator(".who").inner_text()
    assert other["title"] not in page.content()
    shot(page, "enterprise-demands")

    # Post a new demand through the form.
    follow(page, "text=发布新需求")
    page.fill("input[name=title]", "数控机床主轴热变形误差补偿")
    page.fill(
        "textarea[name=description]",
        "高速加工中心主轴连续运行两小时后热伸长达到30微米，影响精密零件加工精度。"
        "需要建立主轴温度场与热变形的预测模型，并在数控系统中实现实时补偿，目标将热误差控制在5微米以内。",
    )
    page.fill("input[name=industry]", "装备制造")
    page.fill("input[name=keywords]", "热误差补偿，数控机床，温度场建模")
    follow(page, "#demand-form button[value=open]")
    assert "需求已保存" in flash(page)
    demand_id = int(re.search(r"/console/demands/(\d+)", page.url).group(1))
    assert page.locator("h1").inner_text().startswith("数控机床主轴热变形误差补偿")
    assert "开放" in page.locator("h1 .badge").inner_text()

    # Its ranked suggestions, with what the API gives for each.
    api_page = live_server.get(f"/demands/{demand_id}/suggestions", limit=10)
    assert api_page["total"] >= 2
    cards = page.locator("article.suggestion")
    assert cards.count() == len(api_page["items"])
    first, api_first = cards.nth(0), api_page["items"][0]
    assert first.get_attribute("data-expert-id") == str(api_first["expert_id"])
    assert api_first["expert"]["name"] in first.inner_text()
    assert f"{api_first['score']:.3f}" in first.locator(".score-value").inner_text()
    for term in api_first["matched_terms"][:3]:
        assert term in first.locator(".terms").first.inner_text()
    assert api_first["reasons"][0]["zh"] in first.locator("ul.reasons").last.inner_text()
    assert first.locator("table.components tr").count() == len(api_first["components"])
    shot(page, "enterprise-suggestions")
    shot(page, "readme-enterprise-suggestions", full_page=False)

    # Select the first specialist with one click; express interest in the second.
    follow(page, first.locator("button", has_text="选定"))
    assert "已向专家发出邀请" in flash(page)
    row = page.locator("#demand-engagements tbody tr").first
    assert api_first["expert"]["name"] in row.inner_text() and "已邀请" in row.inner_text()
    second_id = api_page["items"][1]["expert_id"]
    follow(page, page.locator(f"article.suggestion[data-expert-id='{second_id}'] button", has_text="表达意向"))
    assert "意向已记录" in flash(page)
    assert page.locator("#demand-interests tbody tr").count() == 1

    # Edit it: the change shows, and a bad value is refused with the field named, leaving the demand as it was.
    page.click("#edit-demand summary")
    page.fill("#edit-demand input[name=headcount]", "2")
    follow(page, "#edit-demand button[type=submit]")
    assert "需求已更新" in flash(page)
    assert live_server.get(f"/demands/{demand_id}")["headcount"] == 2
    page.click("#edit-demand summary")
    page.fill("#edit-demand input[name=term_months]", "99")
    page.evaluate("document.querySelector('#edit-demand input[name=term_months]').removeAttribute('max')")
    follow(page, "#edit-demand button[type=submit]")
    assert "term_months" in flash(page)
    assert live_server.get(f"/demands/{demand_id}")["term_months"] == 12

    # Another enterprise's open demand is public (as in the API) but offers no control; its draft is refused (403).
    page.goto(f"/console/demands/{other['id']}")
    assert page.locator("h1").inner_text().startswith(other["title"])
    assert page.locator("#edit-demand, #suggestions, form[action$='/status']").count() == 0
    draft = live_server.post(
        "/demands",
        {
            "enterprise_id": other["enterprise_id"],
            "title": "未发布的草稿需求",
            "description": "草稿",
            "status": "draft",
        },
    )
    page.goto(f"/console/demands/{draft['id']}")
    assert page.locator("h1").inner_text().startswith("403")
    assert "未发布的草稿需求" not in page.content()

    # In English, the same page speaks English, reasons included.
    page.goto(f"/console/demands/{demand_id}")
    follow(page, "a[data-lang=en]")
    assert "Suggested specialists" in page.content()
    now = live_server.get(f"/demands/{demand_id}/suggestions", limit=10)["items"][1]
    card = page.locator(f"article.suggestion[data-expert-id='{now['expert_id']}']")
    assert all(reason["en"] in card.inner_text() for reason in now["reasons"])
    shot(page, "enterprise-suggestions-en")


def test_specialist_sees_suggestions_answers_an_offer_and_logs_service(page: Any, live_server: LiveServer) -> None:
    enterprise = live_server.get("/enterprises", external_id="ENT-010")["items"][0]
    demands = live_server.get("/demands", enterprise_id=enterprise["id"], status="open")["items"]
    demand = demands[0]
    suggested = live_server.get(f"/demands/{demand['id']}/suggestions", limit=3)["items"]
    offered, courted = suggested[0]["expert_id"], suggested[1]["expert_id"]
    ent_headers = {"Authorization": f"Bearer {live_server.key('enterprise', enterprise_id=enterprise['id'])}"}
    assert live_server.http.post(
        f"/demands/{demand['id']}/selections", json={"expert_id": offered}, headers=ent_headers
    ).is_success
    assert live_server.http.post(
        f"/demands/{demand['id']}/interests", json={"expert_id": courted}, headers=ent_headers
    ).is_success

    # The courted specialist finds the demand among their suggestions and answers the interest: a mutual match.
    sign_in(page, live_server.key("expert", expert_id=courted))
    assert page.url.endswith("/console/suggestions")
    api_page = live_server.get(f"/experts/{courted}/suggestions", limit=10)
    cards = page.locator("article.suggestion")
    assert cards.count() == len(api_page["items"])
    assert api_page["items"][0]["demand"]["title"] in cards.nth(0).inner_text()
    assert api_page["items"][0]["reasons"][0]["zh"] in cards.nth(0).inner_text()
    shot(page, "specialist-suggestions")
    shot(page, "readme-specialist-suggestions", full_page=False)
    card = page.locator(f"article.suggestion[data-demand-id='{demand['id']}']")
    if card.count() == 0:  # beyond the first page: interest from the API, as a second tab would
        page.goto(f"/console/suggestions?offset={10}")
    follow(page, page.locator(f"article.suggestion[data-demand-id='{demand['id']}'] button", has_text="表达意向"))
    assert "双方意向一致" in flash(page)
    follow(page, "nav >> text=我的意向")
    rows = page.locator(f"#interest-list tr[data-demand-id='{demand['id']}']").all_inner_texts()
    assert len(rows) == 2 and all("已匹配" in row for row in rows)  # the enterprise's and the specialist's

    # The offered specialist accepts the offer and logs a day of service.
    page.context.clear_cookies()
    sign_in(page, live_server.key("expert", expert_id=offered))
    follow(page, "nav >> text=对接记录")
    offer = page.locator("#offers .offer").first
    assert demand["title"] in offer.inner_text()
    shot(page, "specialist-offers")
    follow(page, offer.locator("button", has_text="接受"))
    assert "对接状态已更新" in flash(page)
    row = page.locator("#engagement-list tbody tr").first
    assert "服务中" in row.inner_text()
    follow(page, row.locator("a").first)
    assert page.locator("#log-form input[name=date]").input_value()  # today, ready to log
    page.fill("#log-form input[name=hours]", "6")
    page.fill("#log-form textarea[name=summary]", "现场采集振动数据，完成故障特征初步分析。")
    follow(page, "#log-form button[type=submit]")
    assert "服务记录已添加" in flash(page)
    assert "现场采集振动数据" in page.locator("#log-list").inner_text()
    engagement_id = int(re.search(r"/console/engagements/(\d+)", page.url).group(1))
    logs = live_server.get(f"/engagements/{engagement_id}/logs")
    assert logs["total"] == 1 and logs["items"][0]["hours"] == 6

    # The enterprise completes it and rates it.
    page.context.clear_cookies()
    sign_in(page, ent_headers["Authorization"].removeprefix("Bearer "))
    page.goto(f"/console/engagements/{engagement_id}")
    follow(page, "button:has-text('确认完成')")
    assert "对接状态已更新" in flash(page)
    page.check("#rating-form input[name=rating][value='5']")
    page.fill("#rating-form textarea[name=comment]", "响应及时，问题解决。")
    follow(page, "#rating-form button[type=submit]")
    assert "评价已提交" in flash(page)
    assert "★★★★★" in page.locator("#rating-shown").inner_text()
    assert live_server.get(f"/engagements/{engagement_id}")["rating"] == 5


def test_administrator_reads_figures_imports_runs_a_round_and_an_assignment(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    sign_in(page, live_server.http.headers["Authorization"].removeprefix("Bearer "))
    stats = live_server.get("/stats")
    assert page.url.endswith("/console/stats")
    assert page.locator("#kpi-demands").inner_text() == str(stats["demands"]["total"])
    bars = page.locator("#chart-demands_by_status g.bar")
    assert bars.count() == len(stats["demands"]["by_status"])
    open_bar = page.locator("#chart-demands_by_status g.bar[data-key=open]")
    assert open_bar.get_attribute("data-value") == str(stats["demands"]["by_status"]["open"])
    for chart in ("demands_by_region", "demands_by_industry", "experts_by_origin", "experts_by_load"):
        assert page.locator(f"#chart-{chart} svg g.bar").count() >= 1
    shot(page, "admin-stats")
    shot(page, "readme-admin-stats", full_page=False)

    # Repositories with filters and paging.
    follow(page, "nav >> text=专家库")
    page.select_option("select[name=origin]", "foreign")
    follow(page, "form.filters button")
    foreign = live_server.get("/experts", origin="foreign", limit=20)
    assert page.locator("#experts-list tbody tr").count() == min(foreign["total"], 20)
    assert f"共 {foreign['total']} 条" in page.locator(".pager").inner_text()
    page.goto("/console/repositories/demands")
    total = live_server.get("/demands", limit=1)["total"]
    assert total > 20
    follow(page, "a[rel=next]")
    assert page.locator(".pager").inner_text().startswith("←") or "21–" in page.locator(".pager").inner_text()
    second = live_server.get("/demands", limit=20, offset=20)["items"]
    assert page.locator("#demand-list tbody tr").first.get_attribute("data-demand-id") == str(second[0]["id"])
    shot(page, "admin-demands")

    # Spreadsheet import with its row report (one bad row named by line).
    sheet = tmp_path / "专家.csv"
    sheet.write_text(
        "外部编号,姓名,单位,单位类型,来源,地区,专业领域,关键词\n"
        "UI-IMP-1,韩冰,辽宁科技大学,高校,省内,鞍山市,冶金过程控制,连铸、轧制\n"
        "UI-IMP-2,赵磊,中科院金属所,科研院所,省内,沈阳市,材料腐蚀,腐蚀防护\n"
        "UI-IMP-3,钱坤,某研究院,不存在的类型,省内,沈阳市,焊接,焊接工艺\n",
        encoding="utf-8",
    )
    follow(page, "nav >> text=表格导入")
    page.select_option("select[name=kind]", "experts")
    page.set_input_files("input[name=file]", str(sheet))
    follow(page, "#import-form button[type=submit]")
    report = page.locator("#import-report")
    assert report.locator("[data-field=rows]").inner_text() == "3"
    assert report.locator("[data-field=created]").inner_text() == "2"
    assert report.locator("[data-field=errors]").inner_text() == "1"
    assert page.locator("#import-errors tbody tr td").first.inner_text() == "4"
    assert live_server.get("/experts", external_id="UI-IMP-1")["total"] == 1
    assert "新增 2 条" in flash(page) and "错误 1 行" in flash(page)
    shot(page, "admin-import")

    # A mutual-selection round: open, rank both sides, close, read the stable result.
    d1, d2 = (live_server.demand_by_external_id(e) for e in ("DEM-060", "DEM-061"))
    x1, x2 = (live_server.expert_by_external_id(e) for e in ("EXP-070", "EXP-071"))
    follow(page, "nav >> text=双选轮次")
    page.fill("#round-form input[name=name]", "界面测试轮次")
    page.fill("#round-form input[name=demand_ids]", f"{d1['id']}, {d2['id']}")
    page.fill("#round-form input[name=expert_ids]", f"{x1['id']}，{x2['id']}")
    follow(page, "#round-form button[type=submit]")
    assert "轮次已开启" in flash(page)
    rankings = {
        f"demands/{d1['id']}": f"{x1['id']}, {x2['id']}",
        f"demands/{d2['id']}": f"{x1['id']}, {x2['id']}",
        f"experts/{x1['id']}": f"{d2['id']}, {d1['id']}",
        f"experts/{x2['id']}": f"{d1['id']}",
    }
    for target, ranking in rankings.items():
        form = page.locator(f"form[action$='/preferences/{target}']")
        form.locator("input[name=ranking]").fill(ranking)
        follow(page, form.locator("button"))
        assert "排序已保存" in flash(page)
    follow(page, "button:has-text('关闭并生成匹配')")
    assert "轮次已关闭" in flash(page)
    result = page.locator("#round-result")
    assert "稳定匹配" in result.inner_text()
    closed = live_server.get(f"/rounds/{page.url.rsplit('/', 1)[1]}")["result"]
    assert closed["stable"] and len(closed["pairs"]) >= 1
    pairs = result.locator("tbody tr")
    assert pairs.count() == len(closed["pairs"])
    names = {x1["id"]: x1["name"], x2["id"]: x2["name"]}
    for row, pair in zip(pairs.all_inner_texts(), closed["pairs"], strict=True):
        assert names[pair["expert_id"]] in row
    shot(page, "admin-round")

    # A programme assignment over two open demands: run, review, turn into offers.
    d3, d4 = (live_server.demand_by_external_id(e) for e in ("DEM-040", "DEM-041"))
    follow(page, "nav >> text=统筹分配")
    page.fill("#assignment-form input[name=demand_ids]", f"{d3['id']},{d4['id']}")
    follow(page, "#assignment-form button[type=submit]")
    assert "分配方案已生成" in flash(page)
    assignment_id = int(re.search(r"/console/assignments/(\d+)", page.url).group(1))
    proposed = live_server.get(f"/assignments/{assignment_id}")
    rows = page.locator("#assignment-pairs tbody tr")
    assert rows.count() == len(proposed["result"]["pairs"]) >= 1
    shot(page, "admin-assignment")
    follow(page, "button:has-text('转为邀请')")
    assert "已发出邀请" in flash(page)
    after = live_server.get(f"/assignments/{assignment_id}")
    assert after["offers"]["created"]
    assert "#" in page.locator("#assignment-pairs tbody tr").first.inner_text()


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(page: Any, live_server: LiveServer) -> None:
    demand = live_server.demand_by_external_id("DEM-050")
    sign_in(page, live_server.key("enterprise", enterprise_id=demand["enterprise_id"]))
    page.goto(f"/console/demands/{demand['id']}")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')")
    follow(page, page.locator("form[action$='/status'] button").first)
    assert page.locator("body").inner_text().startswith("表单已过期")
    assert live_server.get(f"/demands/{demand['id']}")["status"] == demand["status"]
