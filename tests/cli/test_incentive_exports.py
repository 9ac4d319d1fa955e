"""The finance office's voucher and redemption exports (CSV with Chinese headers, XLSX, JSON Lines)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook

from tests.factories import ADMIN, Api


def _world(api: Api) -> tuple[dict, dict]:
    enterprise = api.enterprise(name="大连创新券企业")
    expert = api.expert(name="王芳")
    demand = api.demand(enterprise["id"])
    engagement = api.client.post(
        f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]}, headers=ADMIN
    ).json()
    for action in ("accept", "complete"):
        assert api.client.post(f"/engagements/{engagement['id']}/{action}", headers=ADMIN).status_code == 200
    voucher = api.client.post(
        "/vouchers",
        json={
            "holder_type": "enterprise",
            "holder_id": enterprise["id"],
            "amount_cny": "5000.00",
            "valid_until": (datetime.now(UTC).date() + timedelta(days=90)).isoformat(),
            "purpose": "技术服务券",
        },
        headers=ADMIN,
    ).json()
    for amount in (1200.5, 800):
        response = api.client.post(
            f"/vouchers/{voucher['id']}/redeem",
            json={"engagement_id": engagement["id"], "amount_cny": amount},
            headers=ADMIN,
        )
        assert response.status_code == 201, response.text
    return voucher, engagement


def test_vouchers_export_as_csv_with_chinese_headers_and_values(api: Api, cli) -> None:
    voucher, _ = _world(api)
    result = cli("export", "vouchers", "--headers", "zh")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout.lstrip("\ufeff"))))
    assert len(rows) == 1
    row = rows[0]
    assert row["券号"] == str(voucher["id"]) and row["持有人"] == "大连创新券企业" and row["持有人类型"] == "企业"
    assert (row["面额（元）"], row["已核销（元）"], row["余额（元）"], row["状态"]) == (
        "5000.0",
        "2000.5",
        "2999.5",
        "有效",
    )
    assert "exported 1 vouchers as csv" in result.stderr


def test_redemptions_export_as_xlsx_and_jsonl_with_the_balance_after_each(api: Api, cli, tmp_path: Path) -> None:
    voucher, engagement = _world(api)
    target = tmp_path / "核销.xlsx"
    result = cli("export", "redemptions", "--headers", "zh", "--output", target)
    assert result.exit_code == 0, result.stderr
    sheet = load_workbook(target).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("核销编号", "券号", "持有人类型")
    header = list(rows[0])
    amounts = [(r[header.index("核销金额（元）")], r[header.index("核销后余额（元）")]) for r in rows[1:]]
    assert amounts == [(1200.5, 3799.5), (800, 2999.5)]
    assert {r[header.index("服务编号")] for r in rows[1:]} == {engagement["id"]}
    lines = cli("export", "redemptions", "--format", "jsonl").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["amount_cny"] for r in records] == [1200.5, 800.0] and records[0]["holder_type"] == "enterprise"
    assert records[0]["voucher_id"] == voucher["id"] and records[0]["expert"] == "王芳"
    assert cli("export", "redemptions", "--headers", "fr").exit_code == 2


def test_an_assessment_exports_one_row_per_specialist_with_each_part_a_column(api: Api, cli, tmp_path: Path) -> None:
    _world(api)
    api.expert(name="未服务专家")
    year = str(datetime.now(UTC).year)
    assessment = api.client.post("/assessments", json={"period": year}, headers=ADMIN).json()
    target = tmp_path / "考核.xlsx"
    result = cli("export", "assessment", assessment["id"], "--headers", "zh", "--output", target)
    assert result.exit_code == 0, result.stderr
    rows = list(load_workbook(target).active.iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:8] == ["考核周期", "专家ID", "专家", "单位", "服务评价得分（35）", "服务时长得分（20）",
                          "问题解决得分（25）", "服务完成得分（20）"]  # fmt: skip
    assert len(rows) == 3
    served, idle = rows[1], rows[2]
    scores = {s["expert_id"]: s for s in assessment["scores"]["items"]}
    wang = scores[served[header.index("专家ID")]]
    parts = [served[header.index(c)] for c in header[4:8]]
    assert parts == [wang["parts"][p] for p in ("ratings", "service_hours", "issues", "completion")]
    assert served[header.index("最终得分")] == wang["score"] and served[header.index("专家")] == "王芳"
    assert idle[header.index("等级")] == "未考核" and idle[header.index("最终得分")] is None
    english = cli("export", "assessment", assessment["id"])
    assert english.stdout.lstrip("\ufeff").startswith("period,expert_id,expert,institution,ratings,service_hours")
    missing = cli("export", "assessment", "424242", "--output", tmp_path / "none.csv")
    assert missing.exit_code == 2 and not (tmp_path / "none.csv").exists()
    assert not (tmp_path / "none.csv.part").exists()
