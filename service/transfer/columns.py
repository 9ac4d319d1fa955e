"""Spreadsheet columns: English field names or Chinese headers (SPEC §6.5), and how each cell becomes a field value.

A cell is turned into what the API's `*Create` schema expects (lists split, Chinese enumeration values translated,
yes/no read, numbers from spreadsheets made text where text is expected); the schema then validates it exactly as
it validates a request body. Empty cells are absent fields: a default on create, unchanged on update.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """What a file holds."""

    experts = "experts"
    enterprises = "enterprises"
    demands = "demands"
    engagements = "engagements"


class CellError(ValueError):
    """A cell that cannot be read as its column's type."""


def _enum(canonical: Iterable[str], **chinese: Iterable[str]) -> dict[str, str]:
    """Lookup of accepted spellings (lower-cased) -> canonical value."""
    table = {value.lower(): value for value in canonical}
    for value, spellings in chinese.items():
        for spelling in spellings:
            table[spelling.lower()] = value
    return table


ORIGIN = _enum(
    ("in_province", "out_of_province", "foreign"),
    in_province=("省内", "本省"),
    out_of_province=("省外", "外省"),
    foreign=("境外", "国外", "海外"),
)
INSTITUTION_TYPE = _enum(
    ("university", "research_institute", "service_agency", "enterprise", "other"),
    university=("高校", "高等院校", "大学"),
    research_institute=("科研院所", "科研机构", "研究院所", "研究所"),
    service_agency=("服务机构", "科技服务机构"),
    enterprise=("企业",),
    other=("其他", "其它"),
)
CATEGORY = _enum(
    ("technology", "talent", "service"),
    technology=("技术", "技术需求"),
    talent=("人才", "人才需求"),
    service=("服务", "服务需求"),
)
SIZE = _enum(
    ("micro", "small", "medium", "large"),
    micro=("微型", "微型企业"),
    small=("小型", "小型企业"),
    medium=("中型", "中型企业"),
    large=("大型", "大型企业"),
)
DEMAND_STATUS = _enum(
    ("draft", "open", "matched", "closed", "cancelled"),
    draft=("草稿",),
    open=("开放", "发布", "已发布"),
    matched=("已匹配",),
    closed=("关闭", "已关闭"),
    cancelled=("取消", "已取消"),
)
ENUM_LABELS_ZH: dict[str, str] = {
    "in_province": "省内",
    "out_of_province": "省外",
    "foreign": "境外",
    "university": "高校",
    "research_institute": "科研院所",
    "service_agency": "服务机构",
    "enterprise": "企业",
    "other": "其他",
    "technology": "技术",
    "talent": "人才",
    "service": "服务",
    "micro": "微型",
    "small": "小型",
    "medium": "中型",
    "large": "大型",
}

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "是", "有", "对", "√", "✓", "✔"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "否", "无", "不", "×", "✗"})
LIST_SEPARATORS = re.compile(r"[、，,；;\r\n]+")
EXPORT_LIST_SEPARATOR = "; "
_INTEGER_TEXT = re.compile(r"^[+-]?\d+(\.0*)?$")
_CHINESE_DATE = re.compile(r"^(\d{4})\s*[年./-]\s*(\d{1,2})\s*[月./-]\s*(\d{1,2})\s*日?$")


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an import/export template."""

    key: str
    zh: str
    type: str = "text"  # text | list | enum | enum_list | bool | int | date | ref | ref_list | float | datetime
    aliases: tuple[str, ...] = ()
    enum: Mapping[str, str] | None = None
    note: str = ""
    exported: bool = True


@dataclass(frozen=True, slots=True)
class Template:
    """The columns of one kind of record, in export order."""

    kind: Kind
    columns: tuple[Column, ...]
    importable: bool = True
    by_header: dict[str, Column] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for column in self.columns:
            for spelling in (column.key, column.zh, *column.aliases):
                self.by_header[normalise_header(spelling)] = column

    def column(self, header: str) -> Column | None:
        """The column a header names, or None."""
        return self.by_header.get(normalise_header(header))

    @property
    def exported(self) -> list[Column]:
        """The columns an export writes, in order."""
        return [c for c in self.columns if c.exported]


def normalise_header(header: Any) -> str:
    """Case, spaces, a BOM, full-width brackets and a trailing 'required' star do not matter in headers."""
    text = str(header if header is not None else "").replace("\ufeff", "").strip()
    text = text.replace("（", "(").replace("）", ")").rstrip("*＊").strip().lower()
    text = re.sub(r"\s*([()])\s*", r"\1", text)
    return re.sub(r"[\s\-]+", "_", text)


CONTACT = (
    Column("contact_name", "联系人", aliases=("联系人姓名", "contact name")),
    Column("contact_phone", "电话", aliases=("联系电话", "手机", "手机号", "phone")),
    Column("contact_email", "邮箱", aliases=("电子邮箱", "电子邮件", "email", "e-mail")),
)

EXPERTS = Template(
    Kind.experts,
    (
        Column("external_id", "外部编号", aliases=("编号", "专家编号"), note="the programme office's own reference"),
        Column("name", "姓名", note="required"),
        Column("institution", "单位", aliases=("工作单位", "所在单位")),
        Column("institution_type", "单位类型", "enum", enum=INSTITUTION_TYPE),
        Column("origin", "来源", "enum", aliases=("专家来源",), enum=ORIGIN),
        Column("region", "所在地", aliases=("地区", "所在地区", "城市")),
        Column("title", "职称"),
        Column("degree", "学历", aliases=("学位",)),
        Column("fields", "研究领域", "list", aliases=("专业领域", "领域")),
        Column("keywords", "关键词", "list"),
        Column("bio", "简介", aliases=("个人简介",)),
        Column("achievements", "成果", aliases=("主要成果", "代表性成果")),
        Column("languages", "语言", "list", aliases=("工作语言",)),
        Column("capacity", "服务容量", "int", aliases=("可服务企业数",), note="1-10, default 2"),
        Column("travels", "可外出服务", "bool", aliases=("愿意外出", "是否外出"), note="default yes"),
        Column("conflicts", "回避企业", "ref_list", aliases=("利益冲突企业",), note="enterprises, as for 企业"),
        Column("active", "启用", "bool", aliases=("是否启用", "有效"), note="default yes"),
        *CONTACT,
    ),
)

ENTERPRISES = Template(
    Kind.enterprises,
    (
        Column("external_id", "外部编号", aliases=("编号", "企业编号")),
        Column("name", "企业名称", aliases=("名称",), note="required"),
        Column("credit_code", "统一社会信用代码", aliases=("信用代码",), note="18 characters, checked"),
        Column("region", "所在地", aliases=("地区", "所在地区", "城市")),
        Column("industry", "行业", aliases=("所属行业",)),
        Column("size", "规模", "enum", aliases=("企业规模",), enum=SIZE),
        *CONTACT,
    ),
)

DEMANDS = Template(
    Kind.demands,
    (
        Column("external_id", "外部编号", aliases=("编号", "需求编号")),
        Column(
            "enterprise",
            "企业",
            "ref",
            aliases=("企业名称", "企业编号", "统一社会信用代码", "企业信用代码"),
            note="required (or enterprise_id): the enterprise's external id, credit code or name",
        ),
        Column("enterprise_id", "企业ID", "int", note="the enterprise's record id in this database", exported=False),
        Column("title", "需求名称", aliases=("需求标题", "标题"), note="required"),
        Column("description", "需求描述", aliases=("描述", "需求内容"), note="required"),
        Column("category", "类别", "enum", aliases=("需求类别",), enum=CATEGORY),
        Column("industry", "行业", aliases=("所属行业",)),
        Column("keywords", "关键词", "list"),
        Column("region", "所在地", aliases=("地区", "所在地区"), note="default: the enterprise's"),
        Column("on_site", "是否驻场", "bool", aliases=("驻场",)),
        Column("headcount", "需要人数", "int", aliases=("人数",), note="1-20, default 1"),
        Column("accepted_origins", "接受来源", "enum_list", aliases=("来源要求",), enum=ORIGIN, note="empty: any"),
        Column("budget_cny", "预算（元）", "int", aliases=("预算",)),
        Column("term_months", "服务期限（月）", "int", aliases=("服务期限",), note="1-36, default 12"),
        Column("deadline", "截止日期", "date"),
        Column("status", "状态", "enum", enum=DEMAND_STATUS, note="open (default) or draft on create"),
    ),
)

ENGAGEMENTS = Template(
    Kind.engagements,
    (
        Column("id", "编号", "int"),
        Column("external_id", "外部编号"),
        Column("demand", "需求", "ref"),
        Column("expert", "专家", "ref"),
        Column("enterprise", "企业", "ref"),
        Column("demand_id", "需求ID", "int"),
        Column("expert_id", "专家ID", "int"),
        Column("enterprise_id", "企业ID", "int"),
        Column("mode", "方式"),
        Column("status", "状态"),
        Column("score", "匹配分", "float"),
        Column("started_at", "开始时间", "datetime"),
        Column("ended_at", "结束时间", "datetime"),
        Column("rating", "评分", "int"),
        Column("rating_comment", "评价"),
    ),
    importable=False,
)

TEMPLATES: dict[Kind, Template] = {t.kind: t for t in (EXPERTS, ENTERPRISES, DEMANDS, ENGAGEMENTS)}


# --- cells -> values ----------------------------------------------------------------------------------------------


def is_empty(value: Any) -> bool:
    """Blank cells and JSON nulls are absent fields."""
    return value is None or (isinstance(value, str) and not value.strip())


def as_text(value: Any) -> str:
    """Text from whatever a spreadsheet gave (Excel turns phone numbers and ids into numbers)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def split_list(value: Any) -> list[str]:
    """A list cell: a JSON array, or items separated by 、，,；; or line breaks."""
    if isinstance(value, list | tuple):
        items = [as_text(v) for v in value if not is_empty(v)]
        return [i for i in items if i]
    text = as_text(value)
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return split_list(parsed)
    return [part.strip() for part in LIST_SEPARATORS.split(text) if part.strip()]


def _enum_value(column: Column, value: Any) -> str:
    text = as_text(value)
    assert column.enum is not None
    found = column.enum.get(text.lower())
    if found is None:
        choices = ", ".join(
            f"{ENUM_LABELS_ZH[v]} ({v})" if v in ENUM_LABELS_ZH else v for v in dict.fromkeys(column.enum.values())
        )
        raise CellError(f"'{text}' is not one of {choices}")
    return found


def _bool_value(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = as_text(value).lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise CellError(f"'{as_text(value)}' is not yes/no (是/否, true/false, 1/0)")


def _int_value(value: Any) -> Any:
    if isinstance(value, bool):
        raise CellError("expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError(f"{value} is not a whole number")
    text = as_text(value).replace(",", "").replace("，", "").replace("_", "").replace(" ", "")
    if _INTEGER_TEXT.match(text):
        return int(float(text)) if "." in text else int(text)
    raise CellError(f"'{as_text(value)}' is not a whole number")


def _date_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = as_text(value)
    match = _CHINESE_DATE.match(text)
    if match:
        year, month, day = (int(g) for g in match.groups())
        try:
            return date(year, month, day)
        except ValueError as exc:
            raise CellError(f"'{text}' is not a date: {exc}") from exc
    return text  # the schema parses ISO dates and explains anything else


def cell_value(column: Column, value: Any) -> Any:
    """The field value a non-empty cell stands for; raises CellError when it cannot be read."""
    kind = column.type
    if kind == "list":
        return split_list(value)
    if kind == "enum":
        return _enum_value(column, value)
    if kind == "enum_list":
        return [_enum_value(column, item) for item in split_list(value)]
    if kind == "bool":
        return _bool_value(value)
    if kind == "int":
        return _int_value(value)
    if kind == "date":
        return _date_value(value)
    if kind == "ref":
        return as_text(value)
    if kind == "ref_list":
        return split_list(value)
    return as_text(value)


# --- values -> cells (exports) --------------------------------------------------------------------------------------


def join_list(values: list[Any]) -> str:
    """A list as one cell that `split_list` reads back the same: '; '-joined, or a JSON array when items need it."""
    items = [str(v) for v in values]
    if any(LIST_SEPARATORS.search(i) or i.startswith("[") or i != i.strip() for i in items):
        return json.dumps(items, ensure_ascii=False)
    return EXPORT_LIST_SEPARATOR.join(items)
