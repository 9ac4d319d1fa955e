"""An assessment as a spreadsheet: one row per specialist, each part a column (English names or Chinese headers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.engine import Engine

from service.assessments.models import GRADE_ZH, Assessment, AssessmentScore
from service.experts.models import Expert
from service.transfer.columns import Column
from service.transfer.exporter import WRITERS
from service.transfer.readers import Format

COLUMNS = [
    Column("period", "考核周期"),
    Column("expert_id", "专家ID", "int"),
    Column("expert", "专家"),
    Column("institution", "单位"),
    Column("ratings", "服务评价得分（35）", "float"),
    Column("service_hours", "服务时长得分（20）", "float"),
    Column("issues", "问题解决得分（25）", "float"),
    Column("completion", "服务完成得分（20）", "float"),
    Column("computed_score", "计算得分", "float"),
    Column("score", "最终得分", "float"),
    Column("grade", "等级"),
    Column("adjust_reason", "调整理由"),
    Column("served", "服务项目数", "int"),
    Column("mean_rating", "平均评分", "float"),
    Column("hours", "服务时长（小时）", "float"),
    Column("issues_raised", "问题数", "int"),
    Column("issues_resolved", "已解决问题数", "int"),
    Column("issues_on_time", "按期解决问题数", "int"),
    Column("completed", "完成数", "int"),
    Column("terminated", "终止数", "int"),
]


class UnknownAssessment(LookupError):
    """No assessment has that id."""


def records(conn: Any, assessment_id: int, headers: str) -> Iterator[dict[str, Any]]:
    """One record per specialist of the assessment, in specialist id order."""
    assessment = conn.execute(select(Assessment.__table__).where(Assessment.__table__.c.id == assessment_id)).first()
    if assessment is None:
        raise UnknownAssessment(f"assessment {assessment_id} does not exist")
    experts = Expert.__table__  # type: ignore[attr-defined]
    names = {
        r.id: (r.name, r.institution) for r in conn.execute(select(experts.c.id, experts.c.name, experts.c.institution))
    }
    table = AssessmentScore.__table__  # type: ignore[attr-defined]
    rows = conn.execute(select(table).where(table.c.assessment_id == assessment_id).order_by(table.c.expert_id))
    for r in rows.mappings():
        name, institution = names.get(r["expert_id"], (None, None))
        grade = r["grade"]
        if grade is None:
            grade = "未考核" if headers == "zh" else "not_assessed"
        elif headers == "zh":
            grade = GRADE_ZH.get(grade, grade)
        yield {
            "period": assessment.period,
            "expert_id": r["expert_id"],
            "expert": name,
            "institution": institution,
            **(r["parts"] or {}),
            "computed_score": r["computed_score"],
            "score": r["score"],
            "grade": grade,
            "adjust_reason": r["adjust_reason"],
            **{k: v for k, v in (r["figures"] or {}).items() if k != "ratings"},
        }


def export(engine: Engine, assessment_id: int, fmt: Format | str, out: BinaryIO, *, headers: str = "en") -> int:
    """Write the assessment's rows to `out`; the number of specialists written."""
    fmt = Format(fmt)
    if fmt is Format.auto:
        fmt = Format.csv
    with engine.connect() as conn:
        rows = list(records(conn, assessment_id, headers))  # raises before anything is written
        return WRITERS[fmt](iter(rows), COLUMNS, out, headers)
