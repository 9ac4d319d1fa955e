"""Imports go through the API's validation, report each bad row, and are idempotent."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from service.common import RecordChange
from service.demands.models import Demand
from service.enterprises.models import Enterprise
from service.experts.models import Expert
from service.transfer import FileError, import_file
from tests.factories import credit_code
from tests.transfer.conftest import write_csv, write_jsonl, write_xlsx

EXPERT_HEADERS = ["外部编号", "姓名", "单位", "单位类型", "来源", "所在地", "研究领域", "关键词", "服务容量", "电话"]


def expert_row(n: int, **over: object) -> list[object]:
    row = {
        "外部编号": f"E{n}",
        "姓名": f"专家{n}",
        "单位": "大连理工大学",
        "单位类型": "高校",
        "来源": "省外",
        "所在地": "大连市",
        "研究领域": "机械故障诊断、振动信号处理",
        "关键词": "故障诊断，深度学习;轴承",
        "服务容量": "3",
        "电话": "13900000000",
    }
    row.update(over)
    return list(row.values())


def test_chinese_headers_and_values_with_a_bom_import_as_api_records(tmp_path: Path, run_import, db_records) -> None:
    path = write_csv(
        tmp_path / "e.csv", EXPERT_HEADERS, [expert_row(1), expert_row(2, 来源="境外", 单位类型="科研院所")]
    )
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")

    report = run_import("experts", path)

    assert (report.rows, report.created, report.errors) == (2, 2, [])
    first, second = db_records(Expert)
    assert first.external_id == "E1" and first.name == "专家1"
    assert (first.institution_type, first.origin) == ("university", "out_of_province")
    assert first.fields == ["机械故障诊断", "振动信号处理"]
    assert first.keywords == ["故障诊断", "深度学习", "轴承"]
    assert first.capacity == 3 and first.travels is True and first.active is True
    assert first.contact == {"name": None, "phone": "13900000000", "email": None}
    assert (second.origin, second.institution_type) == ("foreign", "research_institute")
    assert first.version == 1 and first.created_at is not None


def test_each_bad_row_is_reported_with_its_line_and_field_while_good_rows_go_in(
    tmp_path: Path, run_import, db_records
) -> None:
    rows = [
        expert_row(1),
        expert_row(2, 来源="外星"),
        expert_row(3, 服务容量="11"),
        expert_row(4, 姓名=""),
        expert_row(5, 研究领域="、".join(f"领域{i}" for i in range(31))),
        expert_row(6),
    ]
    report = run_import("experts", write_csv(tmp_path / "e.csv", EXPERT_HEADERS, rows))

    assert [str(e) for e in report.errors] == [
        "line 3: origin (来源): '外星' is not one of 省内 (in_province), 省外 (out_of_province), 境外 (foreign)",
        "line 4: capacity (服务容量): Input should be less than or equal to 10",
        "line 5: name (姓名): required",
        "line 6: fields (研究领域): List should have at most 30 items after validation, not 31",
    ]
    assert report.created == 2 and report.committed
    assert [e.external_id for e in db_records(Expert)] == ["E1", "E6"]


def test_a_quoted_cell_spanning_lines_counts_its_lines(tmp_path: Path, run_import) -> None:
    rows = [expert_row(1, 研究领域="机器人\n智能制造\n焊接"), expert_row(2, 来源="?")]
    report = run_import("experts", write_csv(tmp_path / "e.csv", EXPERT_HEADERS, rows))
    assert [e.line for e in report.errors] == [5]


def test_atomic_import_writes_nothing_when_any_row_is_bad(tmp_path: Path, run_import, db_records) -> None:
    rows = [expert_row(n) for n in range(1, 1200)] + [expert_row(9999, 服务容量="0")]
    report = run_import("experts", write_csv(tmp_path / "e.csv", EXPERT_HEADERS, rows), atomic=True)

    assert [str(e) for e in report.errors] == [
        "line 1201: capacity (服务容量): Input should be greater than or equal to 1"
    ]
    assert not report.committed
    assert db_records(Expert) == []


def test_atomic_import_of_a_good_file_commits_it_all(tmp_path: Path, run_import, db_records) -> None:
    rows = [expert_row(n) for n in range(1, 1200)]
    report = run_import("experts", write_csv(tmp_path / "e.csv", EXPERT_HEADERS, rows), atomic=True)
    assert report.committed and report.created == 1199
    assert len(db_records(Expert)) == 1199


def test_importing_the_same_file_again_updates_instead_of_duplicating(tmp_path: Path, run_import, db_records) -> None:
    path = write_csv(tmp_path / "e.csv", EXPERT_HEADERS, [expert_row(1), expert_row(2)])
    run_import("experts", path)
    before = {e.external_id: e for e in db_records(Expert)}

    again = run_import("experts", path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert {e.external_id: e.version for e in db_records(Expert)} == {"E1": 1, "E2": 1}

    changed = write_csv(
        tmp_path / "e2.csv", EXPERT_HEADERS, [expert_row(1, 所在地="沈阳市"), expert_row(2), expert_row(3)]
    )
    report = run_import("experts", changed)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    after = {e.external_id: e for e in db_records(Expert)}
    assert after["E1"].region == "沈阳市" and after["E1"].version == 2
    assert after["E1"].id == before["E1"].id and after["E2"].version == 1
    assert len(after) == 3


def test_an_update_changes_only_the_columns_the_file_has(tmp_path: Path, run_import, db_records) -> None:
    run_import("experts", write_csv(tmp_path / "e.csv", EXPERT_HEADERS, [expert_row(1)]))
    run_import("experts", write_csv(tmp_path / "p.csv", ["外部编号", "职称", "关键词"], [["E1", "教授", ""]]))
    (expert,) = db_records(Expert)
    assert expert.title == "教授"
    assert expert.keywords == ["故障诊断", "深度学习", "轴承"]  # an empty cell leaves the field alone
    assert expert.name == "专家1"


def test_a_repeated_external_id_in_one_file_is_one_record(tmp_path: Path, run_import, db_records) -> None:
    rows = [expert_row(1), expert_row(1, 所在地="鞍山市")]
    report = run_import("experts", write_csv(tmp_path / "e.csv", EXPERT_HEADERS, rows))
    assert (report.created, report.updated) == (1, 1)
    assert [(e.external_id, e.region) for e in db_records(Expert)] == [("E1", "鞍山市")]


def test_imported_records_are_in_the_change_log(tmp_path: Path, run_import, db_records, engine) -> None:
    run_import("experts", write_csv(tmp_path / "e.csv", EXPERT_HEADERS, [expert_row(1), expert_row(2)]))
    ids = {e.id for e in db_records(Expert)}
    with Session(engine) as session:
        logged = session.exec(select(RecordChange.kind, RecordChange.record_id, RecordChange.op)).all()
    assert sorted(logged) == sorted(("expert", i, "upsert") for i in ids)


ENTERPRISE_HEADERS = ["外部编号", "企业名称", "统一社会信用代码", "所在地", "行业", "规模"]


def test_enterprises_match_by_credit_code_when_they_have_no_external_id(tmp_path: Path, run_import, db_records) -> None:
    code = credit_code(501)
    run_import(
        "enterprises", write_csv(tmp_path / "a.csv", ENTERPRISE_HEADERS, [["", "甲公司", code, "沈阳市", "", "小型"]])
    )
    report = run_import(
        "enterprises",
        write_csv(
            tmp_path / "b.csv", ENTERPRISE_HEADERS, [["ENT-9", "甲公司", code.lower(), "沈阳市", "化工", "中型"]]
        ),
    )
    assert report.updated == 1 and report.created == 0
    (enterprise,) = db_records(Enterprise)
    assert (enterprise.external_id, enterprise.industry, enterprise.size) == ("ENT-9", "化工", "medium")


def test_a_credit_code_held_by_another_enterprise_is_refused(tmp_path: Path, run_import, db_records) -> None:
    rows = [["A", "甲", credit_code(601), "", "", ""], ["B", "乙", credit_code(602), "", "", ""]]
    run_import("enterprises", write_csv(tmp_path / "a.csv", ENTERPRISE_HEADERS, rows))
    clash = [["B", "乙", credit_code(601), "", "", ""], ["C", "丙", credit_code(602), "", "", ""]]
    report = run_import("enterprises", write_csv(tmp_path / "b.csv", ENTERPRISE_HEADERS, clash))
    assert [(e.line, e.field) for e in report.errors] == [
        (2, "credit_code (统一社会信用代码)"),
        (3, "external_id (外部编号)"),
    ]
    assert [(e.external_id, e.credit_code) for e in db_records(Enterprise)] == [
        ("A", credit_code(601)),
        ("B", credit_code(602)),
    ]


def test_a_wrong_credit_code_check_character_is_refused_like_the_api(tmp_path: Path, run_import) -> None:
    code = credit_code(700)
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    report = run_import(
        "enterprises", write_csv(tmp_path / "a.csv", ENTERPRISE_HEADERS, [["A", "甲", wrong, "", "", ""]])
    )
    assert [str(e) for e in report.errors] == [
        "line 2: credit_code (统一社会信用代码): the check character of the unified social credit code is wrong"
    ]


DEMAND_HEADERS = [
    "外部编号",
    "企业",
    "需求名称",
    "需求描述",
    "类别",
    "需要人数",
    "服务期限（月）",
    "是否驻场",
    "接受来源",
]


@pytest.fixture
def three_enterprises(tmp_path: Path, run_import) -> None:
    rows = [
        ["ENT-1", "甲公司", credit_code(801), "沈阳市", "装备制造", "大型"],
        ["", "乙公司", credit_code(802), "大连市", "", ""],
        ["", "同名公司", "", "", "", ""],
        ["", "同名公司", "", "", "", ""],
    ]
    report = run_import("enterprises", write_csv(tmp_path / "ents.csv", ENTERPRISE_HEADERS, rows))
    assert report.ok


def test_demands_name_their_enterprise_by_external_id_credit_code_or_name(
    tmp_path: Path, run_import, db_records, three_enterprises
) -> None:
    rows = [
        ["D1", "ENT-1", "需求一", "描述一", "技术", "2", "6", "是", "省内、境外"],
        ["D2", credit_code(802), "需求二", "描述二", "人才", "", "", "否", ""],
        ["D3", "甲公司", "需求三", "描述三", "服务", "", "", "", ""],
        ["D4", "同名公司", "需求四", "描述四", "", "", "", "", ""],
        ["D5", "不存在公司", "需求五", "描述五", "", "", "", "", ""],
    ]
    report = run_import("demands", write_csv(tmp_path / "d.csv", DEMAND_HEADERS, rows))

    assert [str(e) for e in report.errors] == [
        "line 5: enterprise (企业): several enterprises are named '同名公司': use its external id or credit code",
        "line 6: enterprise (企业): no enterprise has the external id, credit code or name '不存在公司'",
    ]
    enterprises = {e.name: e for e in db_records(Enterprise)}
    d1, d2, d3 = db_records(Demand)
    assert d1.enterprise_id == enterprises["甲公司"].id and d3.enterprise_id == enterprises["甲公司"].id
    assert d2.enterprise_id == enterprises["乙公司"].id
    assert (d1.category, d1.headcount, d1.term_months, d1.on_site) == ("technology", 2, 6, True)
    assert d1.accepted_origins == ["in_province", "foreign"]
    assert d1.region == "沈阳市" and d2.region == "大连市"  # defaults to the enterprise's, as the API does
    assert d1.status == "open" and d1.published_at is not None
    assert (d2.category, d3.category) == ("talent", "service")


def test_a_demand_import_moves_the_lifecycle_only_as_the_api_allows(
    tmp_path: Path, run_import, db_records, three_enterprises
) -> None:
    headers = ["外部编号", "企业", "需求名称", "需求描述", "状态"]
    run_import(
        "demands",
        write_csv(tmp_path / "a.csv", headers, [["D1", "ENT-1", "t", "d", "草稿"], ["D2", "ENT-1", "t", "d", ""]]),
    )
    assert [(d.status, d.published_at) for d in db_records(Demand)] == [
        ("draft", None),
        ("open", db_records(Demand)[1].published_at),
    ]

    report = run_import(
        "demands",
        write_csv(tmp_path / "b.csv", headers, [["D1", "ENT-1", "t", "d", "open"], ["D2", "", "", "", "draft"]]),
    )
    assert [str(e) for e in report.errors] == ["line 3: status (状态): a demand cannot move from 'open' to 'draft'"]
    d1, d2 = db_records(Demand)
    assert d1.status == "open" and d1.published_at is not None
    assert d2.status == "open"


def test_a_new_demand_cannot_be_created_matched(tmp_path: Path, run_import, three_enterprises) -> None:
    headers = ["外部编号", "企业", "需求名称", "需求描述", "状态"]
    report = run_import("demands", write_csv(tmp_path / "a.csv", headers, [["D1", "ENT-1", "t", "d", "已匹配"]]))
    assert [str(e) for e in report.errors] == ["line 2: status (状态): a demand is created 'open' or 'draft'"]


def test_a_demand_cannot_move_to_another_enterprise(tmp_path: Path, run_import, three_enterprises) -> None:
    headers = ["外部编号", "企业", "需求名称", "需求描述"]
    run_import("demands", write_csv(tmp_path / "a.csv", headers, [["D1", "ENT-1", "t", "d"]]))
    report = run_import("demands", write_csv(tmp_path / "b.csv", headers, [["D1", "乙公司", "t", "d"]]))
    assert [str(e) for e in report.errors] == ["line 2: enterprise (企业): a demand cannot move to another enterprise"]


def test_xlsx_numbers_dates_and_booleans_are_read_as_the_fields_expect(
    tmp_path: Path, run_import, db_records, three_enterprises
) -> None:
    from datetime import datetime

    headers = ["外部编号", "企业", "需求名称", "需求描述", "需要人数", "预算（元）", "截止日期", "是否驻场"]
    rows = [
        [1001, "ENT-1", "需求", "描述", 3, 250000, datetime(2026, 12, 31), True],
        [None, None, None, None, None, None, None, None],
    ]
    report = run_import("demands", write_xlsx(tmp_path / "d.xlsx", headers, rows))
    assert report.ok and report.rows == 1
    (demand,) = db_records(Demand)
    assert (demand.external_id, demand.headcount, demand.budget_cny) == ("1001", 3, 250000)
    assert demand.deadline == date(2026, 12, 31) and demand.on_site is True


def test_xlsx_errors_name_the_row_number(tmp_path: Path, run_import) -> None:
    rows = [expert_row(1), expert_row(2, 服务容量=20)]
    report = run_import("experts", write_xlsx(tmp_path / "e.xlsx", EXPERT_HEADERS, rows))
    assert [str(e) for e in report.errors] == ["line 3: capacity (服务容量): Input should be less than or equal to 10"]


def test_a_gb18030_csv_from_a_chinese_excel_is_read(tmp_path: Path, run_import, db_records) -> None:
    path = write_csv(tmp_path / "e.csv", EXPERT_HEADERS, [expert_row(1)], encoding="gb18030")
    assert run_import("experts", path).ok
    assert db_records(Expert)[0].institution == "大连理工大学"


def test_json_lines_take_lists_contact_objects_and_chinese_keys(tmp_path: Path, run_import, db_records) -> None:
    objects = [
        {"external_id": "E1", "name": "Ada", "fields": ["a, b", "c"], "contact": {"email": "ada@example.com"}},
        {"外部编号": "E2", "姓名": "李四", "关键词": "x、y", "来源": "境外", "id": 77, "created_at": "x"},
    ]
    report = run_import("experts", write_jsonl(tmp_path / "e.jsonl", objects))
    assert report.ok and report.ignored_columns == []
    ada, li = db_records(Expert)
    assert ada.fields == ["a, b", "c"] and ada.contact == {"name": None, "phone": None, "email": "ada@example.com"}
    assert (li.keywords, li.origin) == (["x", "y"], "foreign")


def test_bad_json_lines_are_reported_and_skipped(tmp_path: Path, run_import, db_records) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"name": "A"}\n\n[1, 2]\n{"name": \n{"name": "B", "capacity": "x"}\n{"name": "C"}\n', encoding="utf-8"
    )
    report = run_import("experts", path)
    assert [str(e)[:30] for e in report.errors] == [
        "line 3: each line must be a JS",
        "line 4: not valid JSON: Expect",
        "line 5: capacity: 'x' is not a",
    ]
    assert [e.name for e in db_records(Expert)] == ["A", "C"]


def test_unknown_columns_are_ignored_and_named(tmp_path: Path, run_import) -> None:
    report = run_import("experts", write_csv(tmp_path / "e.csv", ["姓名", "备注", "id"], [["甲", "随便", "5"]]))
    assert report.ok and report.ignored_columns == ["备注"]


def test_a_file_whose_header_names_no_known_column_is_refused(tmp_path: Path, run_import) -> None:
    with pytest.raises(FileError, match="no known column"):
        run_import("experts", write_csv(tmp_path / "e.csv", ["foo", "bar"], [["1", "2"]]))


def test_two_headers_meaning_the_same_field_are_refused(tmp_path: Path, run_import) -> None:
    with pytest.raises(FileError, match="both mean name"):
        run_import("experts", write_csv(tmp_path / "e.csv", ["姓名", "name"], [["甲", "乙"]]))


def test_a_row_with_more_cells_than_headers_is_reported(tmp_path: Path, run_import) -> None:
    path = tmp_path / "e.csv"
    path.write_text("姓名,所在地\n甲,沈阳市\n乙,大连市,多余\n", encoding="utf-8")
    report = run_import("experts", path)
    assert [str(e) for e in report.errors] == ["line 3: the record has 3 cells but the header names 2"]


def test_an_empty_file_is_refused(tmp_path: Path, run_import) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(b"")
    with pytest.raises(FileError, match="empty"):
        run_import("experts", path)


def test_conflicts_name_enterprises_and_must_exist(tmp_path: Path, run_import, db_records, three_enterprises) -> None:
    headers = ["外部编号", "姓名", "回避企业"]
    rows = [["E1", "甲", f"ENT-1、{credit_code(802)}"], ["E2", "乙", "没有这家"]]
    report = run_import("experts", write_csv(tmp_path / "e.csv", headers, rows))
    assert [e.line for e in report.errors] == [3]
    enterprises = {e.name: e.id for e in db_records(Enterprise)}
    assert db_records(Expert)[0].conflicts == [enterprises["甲公司"], enterprises["乙公司"]]


def test_a_chunk_the_database_refuses_is_replayed_row_by_row(tmp_path: Path, engine, db_records) -> None:
    """A record inserted meanwhile by someone else (same external id) fails alone; its chunk's others go in."""
    rows = [expert_row(n) for n in range(1, 7)]
    path = write_csv(tmp_path / "e.csv", EXPERT_HEADERS, rows)

    def meanwhile(source, report) -> None:  # after the first chunk (E1, E2) is committed
        if report.rows == 2:
            with Session(engine) as session:
                session.add(Expert(name="先到者", external_id="E4"))
                session.commit()

    report = import_file(engine, "experts", path, chunk_size=2, progress=meanwhile)

    assert [(e.line, e.field) for e in report.errors] == [(5, None)]
    assert report.errors[0].message.startswith("refused by the database")
    assert report.created == 5
    assert sorted(e.external_id for e in db_records(Expert)) == ["E1", "E2", "E3", "E4", "E5", "E6"]
    assert next(e for e in db_records(Expert) if e.external_id == "E4").name == "先到者"


def test_progress_is_reported_after_every_chunk(tmp_path: Path, engine) -> None:
    path = write_csv(tmp_path / "e.csv", EXPERT_HEADERS, [expert_row(n) for n in range(1, 8)])
    seen: list[tuple[int, int]] = []
    import_file(engine, "experts", path, chunk_size=3, progress=lambda s, r: seen.append((r.rows, s.position)))
    assert [rows for rows, _ in seen] == [3, 6, 7]
    assert seen[-1][1] == path.stat().st_size
