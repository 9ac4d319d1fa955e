"""The three-party agreement (SPEC §7.2) as a printable HTML page, in Chinese or English."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from sqlmodel import Session

from service.common import _as_utc
from service.demands.models import Demand
from service.engagements.models import Engagement
from service.enterprises.models import Enterprise
from service.experts.models import Expert
from service.units.models import Unit

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "科技特派员服务三方协议",
        "no": "协议编号",
        "status": "状态",
        "party_a": "甲方（需求企业）",
        "party_b": "乙方（科技特派员）",
        "party_c": "丙方（派出单位）",
        "name": "名称",
        "credit_code": "统一社会信用代码",
        "region": "所在地",
        "institution": "工作单位",
        "title_": "职称",
        "demand": "服务需求",
        "description": "需求描述",
        "on_site": "驻企服务",
        "yes": "是",
        "no_": "否",
        "term": "服务期限",
        "months": "个月",
        "start": "开始日期",
        "end": "预计结束",
        "mode": "产生方式",
        "approvals": "各方确认",
        "approved_at": "确认时间",
        "pending": "待确认",
        "not_required": "无需审批",
        "none": "（无派出单位）",
        "sign": "签章",
        "generated": "生成时间",
    },
    "en": {
        "title": "Three-party agreement for a technology specialist's service",
        "no": "Agreement no.",
        "status": "Status",
        "party_a": "Party A (enterprise)",
        "party_b": "Party B (specialist)",
        "party_c": "Party C (dispatching unit)",
        "name": "Name",
        "credit_code": "Unified social credit code",
        "region": "Region",
        "institution": "Institution",
        "title_": "Title",
        "demand": "Demand served",
        "description": "Description",
        "on_site": "On site",
        "yes": "yes",
        "no_": "no",
        "term": "Term",
        "months": "months",
        "start": "Start",
        "end": "Expected end",
        "mode": "Arranged by",
        "approvals": "Approvals",
        "approved_at": "Agreed at",
        "pending": "pending",
        "not_required": "not required",
        "none": "(no dispatching unit)",
        "sign": "Signature / seal",
        "generated": "Generated",
    },
}

MODES = {
    "zh": {
        "enterprise_selection": "企业选择",
        "mutual_selection": "双向选择",
        "round": "双选轮次",
        "open_call": "揭榜挂帅",
    },
    "en": {
        "enterprise_selection": "enterprise selection",
        "mutual_selection": "mutual selection",
        "round": "mutual-selection round",
        "open_call": "open call (jie bang gua shuai)",
    },
}

STATUSES = {
    "zh": {
        "offered": "待特派员确认",
        "approving": "待派出单位审批",
        "active": "服务中",
        "completed": "已完成",
        "declined": "未成立",
        "terminated": "已终止",
    },
}

_CSS = """
body{font-family:"Noto Serif CJK SC","Songti SC",serif;max-width:52em;margin:2em auto;color:#111;line-height:1.6}
h1{text-align:center;font-size:1.6em}table{border-collapse:collapse;width:100%;margin:1em 0}
th,td{border:1px solid #444;padding:.35em .6em;text-align:left;vertical-align:top}th{width:28%;background:#f3f3f3}
.sign td{height:4em}@media print{body{margin:0}a{display:none}}
"""


def _when(value: datetime | None) -> str:
    return _as_utc(value).strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def _row(label: str, value: Any) -> str:
    return f"<tr><th>{escape(label)}</th><td>{escape(str(value))}</td></tr>"


def render(*, db_session: Session, engagement: Engagement, lang: str, now: datetime) -> str:
    """The agreement page for this engagement; every value is HTML-escaped."""
    t = LABELS[lang]
    demand = db_session.get(Demand, engagement.demand_id)
    enterprise = db_session.get(Enterprise, engagement.enterprise_id)
    expert = db_session.get(Expert, engagement.expert_id)
    unit = db_session.get(Unit, engagement.unit_id) if engagement.unit_id is not None else None
    status = STATUSES.get(lang, {}).get(engagement.status, engagement.status)
    start = engagement.started_at
    end = ""
    if start is not None and demand is not None:
        months = start.month - 1 + demand.term_months
        end = start.replace(year=start.year + months // 12, month=months % 12 + 1, day=min(start.day, 28)).strftime(
            "%Y-%m-%d"
        )
    unit_approval = _when(engagement.unit_approved_at) or (
        t["not_required"] if unit is None or not unit.approval_required else t["pending"]
    )
    rows_a = [_row(t["name"], enterprise.name if enterprise else "")]
    if enterprise is not None:
        rows_a += [_row(t["credit_code"], enterprise.credit_code or ""), _row(t["region"], enterprise.region)]
    rows_b = []
    if expert is not None:
        rows_b = [
            _row(t["name"], expert.name),
            _row(t["institution"], expert.institution),
            _row(t["title_"], expert.title),
        ]
    rows_c = [_row(t["name"], unit.name), _row(t["region"], unit.region)] if unit else [_row(t["name"], t["none"])]
    rows_d = []
    if demand is not None:
        rows_d = [
            _row(t["demand"], demand.title),
            _row(t["description"], demand.description[:2000]),
            _row(t["region"], demand.region),
            _row(t["on_site"], t["yes"] if demand.on_site else t["no_"]),
            _row(t["term"], f"{demand.term_months} {t['months']}"),
            _row(t["start"], start.strftime("%Y-%m-%d") if start else t["pending"]),
            _row(t["end"], end or t["pending"]),
            _row(t["mode"], MODES[lang].get(engagement.mode, engagement.mode)),
        ]
    approvals = [
        _row(t["party_a"], _when(engagement.enterprise_approved_at) or t["pending"]),
        _row(t["party_b"], _when(engagement.expert_approved_at) or t["pending"]),
        _row(t["party_c"], unit_approval),
    ]
    sign = "".join(f"<tr><th>{escape(t[p])}</th><td></td></tr>" for p in ("party_a", "party_b", "party_c"))
    html_lang = "zh-CN" if lang == "zh" else "en"
    return f"""<!DOCTYPE html>
<html lang="{html_lang}"><head><meta charset="utf-8"><title>{escape(t["title"])} #{engagement.id}</title>
<style>{_CSS}</style></head><body>
<h1>{escape(t["title"])}</h1>
<p>{escape(t["no"])}: EM-{engagement.id:06d} · {escape(t["status"])}: {escape(status)}</p>
<h2>{escape(t["party_a"])}</h2><table>{"".join(rows_a)}</table>
<h2>{escape(t["party_b"])}</h2><table>{"".join(rows_b)}</table>
<h2>{escape(t["party_c"])}</h2><table>{"".join(rows_c)}</table>
<h2>{escape(t["demand"])}</h2><table>{"".join(rows_d)}</table>
<h2>{escape(t["approvals"])}</h2><table>{"".join(approvals)}</table>
<h2>{escape(t["sign"])}</h2><table class="sign">{sign}</table>
<p><small>{escape(t["generated"])}: {_when(now)}</small></p>
</body></html>
"""
