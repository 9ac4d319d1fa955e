"""POST /imports/{kind}: the spreadsheet import over HTTP, for administrators, with its row report."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import ADMIN, Api

CSV = (
    "外部编号,姓名,单位,单位类型,来源,地区,专业领域\n"
    "IMP-1,韩冰,辽宁科技大学,高校,省内,鞍山市,冶金过程控制\n"
    "IMP-2,赵磊,中科院金属所,科研院所,省内,沈阳市,材料腐蚀\n"
    "IMP-3,钱坤,某研究院,不存在的类型,省内,沈阳市,焊接\n"
)


def test_an_upload_imports_the_good_rows_and_names_the_bad_ones(client: TestClient) -> None:
    files = {"file": ("专家.csv", CSV.encode(), "text/csv")}
    response = client.post("/imports/experts", files=files, headers=ADMIN)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["created"], report["committed"]) == (3, 2, True)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(4, "institution_type (单位类型)")]
    again = client.post("/imports/experts", files=files, headers=ADMIN).json()
    assert (again["created"], again["unchanged"]) == (0, 2)
    assert client.get("/experts", params={"external_id": "IMP-1"}, headers=ADMIN).json()["total"] == 1


def test_an_atomic_upload_with_a_bad_row_writes_nothing(client: TestClient) -> None:
    files = {"file": ("experts.csv", CSV.encode(), "text/csv")}
    report = client.post("/imports/experts", params={"atomic": "true"}, files=files, headers=ADMIN).json()
    assert report["committed"] is False and len(report["errors"]) == 1
    assert client.get("/experts", headers=ADMIN).json()["total"] == 0


def test_an_unreadable_file_answers_422_naming_the_file(client: TestClient) -> None:
    files = {"file": ("book.xlsx", b"not a workbook at all", "application/octet-stream")}
    response = client.post("/imports/experts", files=files, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "file"


def test_only_administrators_import(client: TestClient, api: Api) -> None:
    enterprise = api.enterprise()
    files = {"file": ("e.csv", CSV.encode(), "text/csv")}
    assert client.post("/imports/experts", files=files).status_code == 401
    headers = api.headers("enterprise", enterprise_id=enterprise["id"])
    assert client.post("/imports/experts", files=files, headers=headers).status_code == 403
    assert client.get("/experts", headers=ADMIN).json()["total"] == 0


def test_engagements_cannot_be_imported_over_http(client: TestClient) -> None:
    files = {"file": ("e.csv", CSV.encode(), "text/csv")}
    assert client.post("/imports/engagements", files=files, headers=ADMIN).status_code == 422
