"""The shipped sample files import with exactly the bad rows fixtures/import/README.md lists, and it documents
every template column."""

from __future__ import annotations

from pathlib import Path

from service.transfer import TEMPLATES, Kind, import_file

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "import"


def bad(engine, kind: str, name: str) -> tuple[list[tuple[int, str | None]], int]:
    report = import_file(engine, kind, SAMPLES / name)
    return [(e.line, e.field) for e in report.errors], report.created + report.unchanged


def test_the_sample_files_import_with_their_documented_bad_rows(engine) -> None:
    assert bad(engine, "enterprises", "enterprises.csv") == (
        [(7, "credit_code (统一社会信用代码)"), (8, "size (规模)"), (9, "name (企业名称)")],
        5,
    )
    expert_errors = ["origin (来源)", "capacity (服务容量)", "name (姓名)", "conflicts (回避企业)"]
    assert bad(engine, "experts", "experts.csv") == (list(zip([10, 11, 12, 13], expert_errors, strict=True)), 8)
    # The workbook holds the same specialists: everything matches, nothing new.
    assert bad(engine, "experts", "experts.xlsx") == (list(zip([9, 10, 11, 12], expert_errors, strict=True)), 8)
    assert bad(engine, "demands", "demands.csv") == ([(5, "headcount (需要人数)"), (6, "enterprise (企业)")], 3)
    assert bad(engine, "demands", "demands.jsonl") == ([(4, "category"), (5, "description"), (6, None)], 3)


def test_the_csv_samples_have_a_bom_and_chinese_headers() -> None:
    for name in ("enterprises.csv", "experts.csv", "demands.csv"):
        data = (SAMPLES / name).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf\xe5\xa4\x96\xe9\x83\xa8\xe7\xbc\x96\xe5\x8f\xb7")  # BOM + 外部编号


def test_the_readme_documents_every_template_column() -> None:
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for kind in (Kind.experts, Kind.enterprises, Kind.demands):
        for column in TEMPLATES[kind].columns:
            assert f"| `{column.key}` | {column.zh} |" in readme, (kind, column.key)
