"""Exports carry the import template, so export -> import into an empty database -> export gives the same file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from service.transfer import export, import_file
from tests.conftest import empty_database
from tests.factories import ADMIN, credit_code

KINDS = ("enterprises", "experts", "demands")


@pytest.fixture
def programme(api) -> dict:
    """Varied records through the API: references of every kind, lists with separators, every field type."""
    with_id = api.enterprise(external_id="ENT-A", contact={"name": "王经理", "phone": "+86 411-1234", "email": None})
    code_only = api.enterprise(name="只有信用代码公司", credit_code=credit_code(9001), size=None, contact=None)
    name_only = api.enterprise(name="只有名称公司", credit_code=None, region="", industry="", size="micro")
    api.expert(external_id="EXP-1", conflicts=[with_id["id"], code_only["id"], name_only["id"]])
    api.expert(
        external_id="EXP-2",
        name="Ada Lovelace",
        fields=["analysis, engines", "[brackets]", "a;b"],
        keywords=[],
        languages=["English"],
        bio='第一行\n第二行, with "quotes"',
        achievements="=SUM(A1:A2) is text, not a formula",
        origin="foreign",
        institution_type="other",
        capacity=10,
        travels=False,
        active=False,
        contact=None,
    )
    api.expert(name="无编号专家", external_id=None, contact={"email": "x@example.com"})
    api.demand(with_id["id"], external_id="DEM-1", accepted_origins=["foreign", "in_province"], budget_cny=1_000_000)
    api.demand(code_only["id"], external_id="DEM-2", status="draft", deadline="2027-01-31", on_site=False, keywords=[])
    api.demand(name_only["id"], title="无编号需求", region="铁岭市", category="service", headcount=20, term_months=36)
    return {"enterprises": [with_id, code_only, name_only]}


def exported(engine, kind: str, fmt: str) -> bytes:
    out = io.BytesIO()
    export(engine, kind, fmt, out)
    return out.getvalue()


def sheet_values(data: bytes) -> list[tuple]:
    return [tuple(row) for row in load_workbook(io.BytesIO(data), read_only=True).worksheets[0].values]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "jsonl"])
def test_export_import_into_an_empty_database_export_gives_the_same_content(
    engine, programme, tmp_path: Path, fmt: str
) -> None:
    first = {kind: exported(engine, kind, fmt) for kind in KINDS}
    empty_database(engine)
    for kind in KINDS:
        path = tmp_path / f"{kind}.{fmt}"
        path.write_bytes(first[kind])
        report = import_file(engine, kind, path)
        assert report.ok, report.errors
        assert report.created == 3
    second = {kind: exported(engine, kind, fmt) for kind in KINDS}
    for kind in KINDS:
        if fmt == "xlsx":
            assert sheet_values(second[kind]) == sheet_values(first[kind]), kind
        else:
            assert second[kind] == first[kind], kind


def test_csv_export_has_english_headers_a_bom_and_references_instead_of_ids(engine, programme) -> None:
    data = exported(engine, "demands", "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert list(rows[0])[:4] == ["external_id", "enterprise", "title", "description"]
    assert "enterprise_id" not in rows[0]
    assert [r["enterprise"] for r in rows] == ["ENT-A", credit_code(9001), "只有名称公司"]
    assert rows[0]["accepted_origins"] == "foreign; in_province"
    assert rows[1]["status"] == "draft" and rows[1]["deadline"] == "2027-01-31"
    assert rows[0]["on_site"] == "true" and rows[0]["budget_cny"] == "1000000"


def test_expert_export_names_conflicts_by_reference_and_keeps_awkward_lists(engine, programme) -> None:
    objects = [json.loads(line) for line in exported(engine, "experts", "jsonl").splitlines()]
    assert objects[0]["conflicts"] == ["ENT-A", credit_code(9001), "只有名称公司"]
    assert objects[1]["fields"] == ["analysis, engines", "[brackets]", "a;b"]
    assert objects[1]["contact"] is None and objects[1]["travels"] is False
    assert objects[2]["contact"] == {"name": None, "phone": None, "email": "x@example.com"}
    rows = list(csv.DictReader(io.StringIO(exported(engine, "experts", "csv").decode("utf-8-sig"))))
    assert json.loads(rows[1]["fields"]) == ["analysis, engines", "[brackets]", "a;b"]


def test_xlsx_keeps_formula_looking_text_as_text(engine, programme) -> None:
    workbook = load_workbook(io.BytesIO(exported(engine, "experts", "xlsx")))
    sheet = workbook.worksheets[0]
    column = [c.value for c in sheet[1]].index("achievements") + 1
    cell = sheet.cell(row=3, column=column)
    assert cell.value == "=SUM(A1:A2) is text, not a formula" and cell.data_type == "s"


def test_chinese_headers_export_imports_again(engine, programme, tmp_path: Path) -> None:
    out = io.BytesIO()
    export(engine, "experts", "csv", out, headers="zh")
    assert out.getvalue().decode("utf-8-sig").startswith("外部编号,姓名,单位,单位类型,来源")
    path = tmp_path / "e.csv"
    path.write_bytes(out.getvalue())
    report = import_file(engine, "experts", path)
    # The two with external ids are matched; the one without is added again (documented).
    assert (report.unchanged, report.created, report.errors) == (2, 1, [])


def test_engagements_export_with_references_of_both_parties(engine, api) -> None:
    enterprise = api.enterprise(external_id="ENT-E")
    demand = api.demand(enterprise["id"], external_id="DEM-E")
    expert = api.expert(external_id="EXP-E")
    response = api.client.post(f"/demands/{demand['id']}/selections", json={"expert_id": expert["id"]}, headers=ADMIN)
    assert response.status_code == 201, response.text
    engagement = response.json()

    (row,) = [json.loads(line) for line in exported(engine, "engagements", "jsonl").splitlines()]
    assert row["id"] == engagement["id"]
    assert (row["demand"], row["expert"], row["enterprise"]) == ("DEM-E", "EXP-E", "ENT-E")
    assert (row["demand_id"], row["expert_id"], row["enterprise_id"]) == (demand["id"], expert["id"], enterprise["id"])
    assert (row["mode"], row["status"]) == ("enterprise_selection", "offered")
    header = exported(engine, "engagements", "csv").decode("utf-8-sig").splitlines()[0]
    assert header.startswith("id,external_id,demand,expert,enterprise")


def test_an_empty_database_exports_just_the_header(engine) -> None:
    assert exported(engine, "experts", "jsonl") == b""
    assert exported(engine, "enterprises", "csv").decode("utf-8-sig").strip() == (
        "external_id,name,credit_code,region,industry,size,contact_name,contact_phone,contact_email"
    )
