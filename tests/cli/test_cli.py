"""The `expertmatch` command line: import, export, evaluate, and the foundation's commands still working."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from sqlmodel import Session, select

from service.experts.models import Expert
from service.keys.models import ApiKey
from tests.transfer.conftest import write_csv

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "import"
HEADERS = ["外部编号", "姓名", "来源", "服务容量"]


def experts_in(engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        return [(e.external_id, e.name) for e in session.exec(select(Expert).order_by(Expert.id)).all()]


def test_import_of_a_good_file_exits_0_and_summarises(cli, engine, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", HEADERS, [["E1", "甲", "省内", "2"], ["E2", "乙", "境外", "3"]])
    result = cli("import", "experts", path)
    assert result.exit_code == 0, result.output
    assert "experts: 2 rows, 2 created, 0 updated, 0 unchanged, 0 bad" in result.stderr
    assert experts_in(engine) == [("E1", "甲"), ("E2", "乙")]

    again = cli("import", "experts", path)
    assert again.exit_code == 0 and "0 created, 0 updated, 2 unchanged" in again.stderr


def test_import_reports_each_bad_row_exits_1_and_keeps_the_good_ones(cli, engine, tmp_path: Path) -> None:
    rows = [["E1", "甲", "省内", "2"], ["E2", "乙", "火星", "2"], ["E3", "", "省内", "0"], ["E4", "丁", "", ""]]
    result = cli("import", "experts", write_csv(tmp_path / "e.csv", HEADERS, rows))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert (
        "line 3: origin (来源): '火星' is not one of 省内 (in_province), 省外 (out_of_province), 境外 (foreign)"
        in lines
    )
    assert "line 4: name (姓名): required" in lines
    assert "line 4: capacity (服务容量): Input should be greater than or equal to 1" in lines
    assert experts_in(engine) == [("E1", "甲"), ("E4", "丁")]


def test_atomic_import_with_a_bad_row_writes_nothing_and_exits_1(cli, engine, tmp_path: Path) -> None:
    rows = [["E1", "甲", "省内", "2"], ["E2", "乙", "火星", "2"]]
    result = cli("import", "experts", write_csv(tmp_path / "e.csv", HEADERS, rows), "--atomic")
    assert result.exit_code == 1
    assert "nothing was written (--atomic)" in result.stderr
    assert experts_in(engine) == []


def test_import_format_can_be_forced(cli, engine, tmp_path: Path) -> None:
    path = tmp_path / "experts.data"
    path.write_text('{"external_id": "E1", "name": "甲"}\n', encoding="utf-8")
    assert cli("import", "experts", path, "--format", "jsonl").exit_code == 0
    assert experts_in(engine) == [("E1", "甲")]


def test_an_unreadable_file_exits_2(cli, tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    result = cli("import", "experts", path)
    assert result.exit_code == 2 and "not a readable XLSX workbook" in result.stderr
    missing = cli("import", "experts", tmp_path / "nope.csv")
    assert missing.exit_code == 2


def test_the_sample_files_import_in_order(cli, engine) -> None:
    for kind, name in [
        ("enterprises", "enterprises.csv"),
        ("experts", "experts.csv"),
        ("experts", "experts.xlsx"),
        ("demands", "demands.csv"),
        ("demands", "demands.jsonl"),
    ]:
        result = cli("import", kind, SAMPLES / name)
        assert result.exit_code == 1, (name, result.output)  # each sample has deliberately bad rows
        assert " bad" in result.stderr.splitlines()[-1]
    assert len(experts_in(engine)) == 8


def test_export_to_stdout_and_to_a_file(cli, engine, tmp_path: Path) -> None:
    cli("import", "experts", write_csv(tmp_path / "e.csv", HEADERS, [["E1", "甲", "省外", "2"]]))

    to_stdout = cli("export", "experts", "--format", "jsonl")
    assert to_stdout.exit_code == 0
    (obj,) = [json.loads(line) for line in to_stdout.stdout.splitlines()]
    assert (obj["external_id"], obj["origin"]) == ("E1", "out_of_province")

    target = tmp_path / "out.xlsx"
    result = cli("export", "experts", "-o", target)  # the format follows the suffix
    assert result.exit_code == 0 and "exported 1 experts as xlsx" in result.stderr
    assert target.read_bytes().startswith(b"PK") and not (tmp_path / "out.xlsx.part").exists()

    csv_out = tmp_path / "out.csv"
    assert cli("export", "experts", "--output", csv_out, "--headers", "zh").exit_code == 0
    assert csv_out.read_text(encoding="utf-8-sig").startswith("外部编号,姓名")


@pytest.mark.parametrize("kind", ["experts", "enterprises", "demands", "engagements"])
def test_every_kind_exports(cli, kind: str) -> None:
    result = cli("export", kind, "--format", "csv")
    assert result.exit_code == 0 and result.stdout.startswith("\ufeff")


def test_evaluate_runs_matching_evaluate_main(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    fake = types.ModuleType("matching.evaluate")
    fake.main = lambda argv: calls.append(argv) or 0
    monkeypatch.setitem(sys.modules, "matching.evaluate", fake)
    data = tmp_path / "pairs.json"
    data.write_text("[]", encoding="utf-8")

    result = cli("evaluate", data, "--k", "10")

    assert result.exit_code == 0
    assert calls == [[str(data), "--k", "10"]]


def test_evaluate_passes_on_the_exit_code(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("matching.evaluate")
    fake.main = lambda argv: 3
    monkeypatch.setitem(sys.modules, "matching.evaluate", fake)
    data = tmp_path / "pairs.json"
    data.write_text("[]", encoding="utf-8")
    assert cli("evaluate", data).exit_code == 3


def test_db_upgrade_on_a_migrated_database_is_a_no_op(cli) -> None:
    result = cli("db", "upgrade")
    assert result.exit_code == 0 and "database at head" in result.stderr


def test_keys_create_prints_the_key_once_and_revoke_revokes_it(cli, engine) -> None:
    created = cli("keys", "create", "--role", "admin", "--label", "cli test")
    assert created.exit_code == 0
    secret = created.stdout.strip()
    assert len(secret) >= 20
    with Session(engine) as session:
        (key,) = session.exec(select(ApiKey)).all()
    assert key.label == "cli test" and secret not in key.digest
    assert cli("keys", "revoke", str(key.id)).exit_code == 0
    assert cli("keys", "revoke", "999999").exit_code == 2


def test_demo_load_still_loads_the_demo_repository(cli, engine) -> None:
    result = cli("demo", "load")
    assert result.exit_code == 0, result.output
    assert len(experts_in(engine)) > 100


def test_help_lists_the_command_groups(cli) -> None:
    result = cli("--help")
    for name in ("serve", "db", "keys", "demo", "import", "export", "evaluate"):
        assert name in result.stdout
