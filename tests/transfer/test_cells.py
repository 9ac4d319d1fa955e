"""Reading cells: Chinese headers and enumeration values, list cells, yes/no, numbers from spreadsheets."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.transfer.columns import (
    DEMANDS,
    EXPERTS,
    CellError,
    cell_value,
    join_list,
    normalise_header,
    split_list,
)


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("姓名", "name"),
        (" 姓名* ", "name"),
        ("\ufeff外部编号", "external_id"),
        ("External ID", "external_id"),
        ("INSTITUTION_TYPE", "institution_type"),
        ("研究领域", "fields"),
        ("服务容量", "capacity"),
        ("电话", "contact_phone"),
    ],
)
def test_expert_headers_in_english_or_chinese_name_the_field(header: str, key: str) -> None:
    column = EXPERTS.column(header)
    assert column is not None and column.key == key


@pytest.mark.parametrize("header", ["服务期限（月）", "服务期限(月)", "服务期限 (月)", "term_months"])
def test_full_width_and_ascii_brackets_are_the_same_header(header: str) -> None:
    assert DEMANDS.column(header).key == "term_months"


def test_unknown_headers_name_no_column() -> None:
    assert EXPERTS.column("备注") is None
    assert normalise_header(None) == ""


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("机械故障诊断、振动信号处理", ["机械故障诊断", "振动信号处理"]),
        ("a，b,c；d;e", ["a", "b", "c", "d", "e"]),
        ("机器人\n智能制造\r\n焊接", ["机器人", "智能制造", "焊接"]),
        (" x ;; y ", ["x", "y"]),
        ('["a, b", "c"]', ["a, b", "c"]),
        ("[not json", ["[not json"]),
        (["x", " y ", "", None], ["x", "y"]),
        (12345.0, ["12345"]),
    ],
)
def test_list_cells_split_on_chinese_and_ascii_separators(text: object, items: list[str]) -> None:
    assert split_list(text) == items


@given(st.lists(st.text(min_size=1, max_size=20).map(str.strip).filter(bool), max_size=8))
def test_an_exported_list_cell_reads_back_as_the_same_list(items: list[str]) -> None:
    assert split_list(join_list(items)) == items


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("来源", "省内", "in_province"),
        ("来源", "省外", "out_of_province"),
        ("来源", "境外", "foreign"),
        ("来源", "Foreign", "foreign"),
        ("单位类型", "高校", "university"),
        ("单位类型", "科研院所", "research_institute"),
        ("单位类型", "服务机构", "service_agency"),
        ("单位类型", "企业", "enterprise"),
        ("单位类型", "其他", "other"),
    ],
)
def test_expert_enumerations_accept_chinese_values(header: str, value: str, expected: str) -> None:
    assert cell_value(EXPERTS.column(header), value) == expected


@pytest.mark.parametrize(("value", "expected"), [("技术", "technology"), ("人才", "talent"), ("服务", "service")])
def test_demand_categories_accept_chinese_values(value: str, expected: str) -> None:
    assert cell_value(DEMANDS.column("类别"), value) == expected


def test_an_unknown_enumeration_value_names_the_accepted_ones() -> None:
    with pytest.raises(CellError, match=r"'外星' is not one of 省内 \(in_province\), 省外"):
        cell_value(EXPERTS.column("来源"), "外星")


def test_accepted_origins_is_a_list_of_enumeration_values() -> None:
    assert cell_value(DEMANDS.column("接受来源"), "省内、境外") == ["in_province", "foreign"]


@pytest.mark.parametrize(("value", "expected"), [("是", True), ("否", False), ("TRUE", True), ("n", False), (1, True)])
def test_yes_no_cells(value: object, expected: bool) -> None:
    assert cell_value(DEMANDS.column("是否驻场"), value) is expected


def test_a_yes_no_cell_with_anything_else_is_refused() -> None:
    with pytest.raises(CellError, match="is not yes/no"):
        cell_value(DEMANDS.column("是否驻场"), "maybe")


@pytest.mark.parametrize(("value", "expected"), [("3", 3), (3.0, 3), ("300,000", 300000), ("2.0", 2), (7, 7)])
def test_whole_numbers_from_text_or_spreadsheet_numbers(value: object, expected: int) -> None:
    assert cell_value(DEMANDS.column("预算（元）"), value) == expected


@pytest.mark.parametrize("value", ["three", 2.5, True])
def test_a_number_cell_that_is_not_whole_is_refused(value: object) -> None:
    with pytest.raises(CellError):
        cell_value(EXPERTS.column("服务容量"), value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 12, 31, 0, 0), date(2026, 12, 31)),
        ("2026年12月31日", date(2026, 12, 31)),
        ("2026/12/31", date(2026, 12, 31)),
        ("2026-12-31", date(2026, 12, 31)),
        ("31.12.2026", "31.12.2026"),  # left to the schema, which explains what it expects
    ],
)
def test_dates_in_spreadsheet_chinese_or_iso_form(value: object, expected: object) -> None:
    assert cell_value(DEMANDS.column("截止日期"), value) == expected


def test_text_cells_keep_spreadsheet_numbers_as_their_digits() -> None:
    assert cell_value(EXPERTS.column("电话"), 13900000001) == "13900000001"
    assert cell_value(EXPERTS.column("外部编号"), 1001.0) == "1001"
