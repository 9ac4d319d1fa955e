"""Bench: importing and exporting specialists with the `expertmatch` command line.

For N specialists (default 100,000; Chinese headers, a BOM, Chinese enumeration values, list cells) written as CSV
and as XLSX, on SQLite (a file) and on PostgreSQL (a throw-away database on EXPERTMATCH_BENCH_PG_URL's server):
  - import into an empty database (rows/s; target >= 2,000 rows/s from CSV into PostgreSQL),
  - import the same file again (every row matches its external_id and is unchanged: the idempotent path),
  - export as CSV, XLSX and JSON Lines.
Each operation runs `expertmatch ...` in a fresh subprocess; the time is measured around the command inside that
process (interpreter start-up excluded, shown separately as wall time), and the peak memory is the subprocess's
peak resident set size (VmHWM).

    python bench/bench_import.py                    # 100,000 rows, SQLite and PostgreSQL, CSV and XLSX
    python bench/bench_import.py --rows 10000 --backends sqlite     # a quick run
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data"
PG_SERVER_URL = os.environ.get("EXPERTMATCH_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

HEADERS = [
    "外部编号",
    "姓名",
    "单位",
    "单位类型",
    "来源",
    "所在地",
    "职称",
    "学历",
    "研究领域",
    "关键词",
    "简介",
    "成果",
    "服务容量",
    "联系人",
    "电话",
    "邮箱",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"
INSTITUTIONS = [
    ("大连理工大学", "高校"),
    ("东北大学", "高校"),
    ("中国科学院沈阳自动化研究所", "科研院所"),
    ("辽宁省科技服务中心", "服务机构"),
    ("沈阳鼓风机集团", "企业"),
    ("清华大学", "高校"),
    ("Fraunhofer IPA", "科研院所"),
]
ORIGINS = ["省内", "省内", "省内", "省外", "境外"]
CITIES = ["沈阳市", "大连市", "鞍山市", "抚顺市", "本溪市", "丹东市", "锦州市", "营口市", "北京市", "上海市"]
TITLES = ["教授", "副教授", "研究员", "高级工程师", "正高级工程师"]
DEGREES = ["博士", "硕士", "学士"]
FIELDS = [
    "机械故障诊断",
    "振动信号处理",
    "工业互联网",
    "煤矿智能化",
    "新材料",
    "精细化工",
    "生物医药",
    "数控机床",
    "机器人",
    "储能电池",
    "智能制造",
    "computer vision",
]
KEYWORDS = ["深度学习", "故障诊断", "轴承", "5G专网", "数字孪生", "催化剂", "锂电池", "焊接", "视觉检测", "PLC"]


def generate_rows(n: int, seed: int = 7) -> list[list[str]]:
    """N distinct, valid specialist rows with Chinese values (deterministic)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        institution, kind = rng.choice(INSTITUTIONS)
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        fields = "、".join(rng.sample(FIELDS, 3))
        keywords = "，".join(rng.sample(KEYWORDS, 4))
        bio = f"{institution}{rng.choice(TITLES)}，长期从事{fields}方向研究，主持项目{rng.randint(1, 20)}项。" * 3
        rows.append(
            [
                f"EXP-{i:07d}",
                name,
                institution,
                kind,
                rng.choice(ORIGINS),
                rng.choice(CITIES),
                rng.choice(TITLES),
                rng.choice(DEGREES),
                fields,
                keywords,
                bio,
                f"授权发明专利{rng.randint(0, 30)}项；发表论文{rng.randint(5, 120)}篇。",
                str(rng.randint(1, 5)),
                name,
                f"139{rng.randint(0, 99_999_999):08d}",
                f"expert{i}@example.edu.cn",
            ]
        )
    return rows


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows(rows)


def write_xlsx(path: Path, rows: list[list[str]]) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADERS)
    for row in rows:
        sheet.append([int(v) if i == 12 else v for i, v in enumerate(row)])
    workbook.save(path)


def child(argv: list[str]) -> None:
    """Run one `expertmatch` command in this process and print its time and peak memory as JSON."""
    from service.cli import app

    start = time.perf_counter()
    code = 0
    try:
        app(argv, standalone_mode=False)
    except SystemExit as exc:  # typer.Exit inside standalone_mode=False surfaces as an exit code
        code = int(exc.code or 0)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_kb() / 1024, "code": code}), file=sys.__stdout__)


def peak_rss_kb() -> int:
    """This process's peak resident set size. Linux's VmHWM starts afresh at exec; ru_maxrss would include the
    parent's peak (it survives fork and exec), which is the bench itself holding the generated rows."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run(argv: list[str], url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "EXPERTMATCH_LOG_JSON": "false", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{argv} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    if result["code"] != 0:
        raise SystemExit(f"{argv} exited {result['code']}:\n{done.stderr[-3000:]}")
    result["wall"] = wall
    return result


def make_database(backend: str, workdir: Path) -> tuple[str, object]:
    """A fresh, migrated database and a function that drops it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from service.migrate import upgrade

    if backend == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        upgrade(url)

        def drop() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return url, drop
    server = create_engine(PG_SERVER_URL, isolation_level="AUTOCOMMIT")
    name = f"em_bench_{uuid.uuid4().hex[:8]}"
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)

    def drop_pg() -> None:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()

    return url, drop_pg


def main() -> None:
    """Run the bench and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return

    DATA.mkdir(parents=True, exist_ok=True)
    formats = [f for f in args.formats.split(",") if f]
    files: dict[str, Path] = {}
    rows = None
    for fmt in formats:
        path = DATA / f"experts_{args.rows}.{fmt}"
        if not path.exists():
            rows = rows or generate_rows(args.rows)
            started = time.perf_counter()
            (write_csv if fmt == "csv" else write_xlsx)(path, rows)
            print(f"# wrote {path.name} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s")
        files[fmt] = path

    print(f"# {args.rows:,} specialists; time measured inside the subprocess, wall includes interpreter start-up")
    header = f"{'backend':<9} {'operation':<26} {'rows':>8} {'seconds':>8} {'rows/s':>8} {'wall s':>7} {'peak MB':>8}"
    print(header)
    print("-" * len(header))
    results = []
    with tempfile.TemporaryDirectory(prefix="em-bench-") as tmp:
        workdir = Path(tmp)
        for backend in [b for b in args.backends.split(",") if b]:
            for fmt in formats:
                url, drop = make_database(backend, workdir)
                try:
                    steps = [(f"import {fmt} (empty db)", ["import", "experts", str(files[fmt])])]
                    steps.append((f"re-import {fmt} (unchanged)", ["import", "experts", str(files[fmt])]))
                    if fmt == formats[0]:
                        for out in ("csv", "xlsx", "jsonl"):
                            target = workdir / f"export.{out}"
                            steps.append((f"export {out}", ["export", "experts", "--format", out, "-o", str(target)]))
                    for label, argv in steps:
                        result = run([*argv, "--progress-interval", "-1"] if argv[0] == "import" else argv, url)
                        rate = args.rows / result["seconds"]
                        results.append((backend, label, rate))
                        print(
                            f"{backend:<9} {label:<26} {args.rows:>8,} {result['seconds']:>8.1f} {rate:>8,.0f} "
                            f"{result['wall']:>7.1f} {result['peak_mb']:>8.0f}",
                            flush=True,
                        )
                finally:
                    drop()
    for backend, label, rate in results:
        if backend == "postgres" and label.startswith("import csv"):
            verdict = "meets" if rate >= 2000 else "MISSES"
            print(f"# CSV into PostgreSQL: {rate:,.0f} rows/s, {verdict} the 2,000 rows/s target")


if __name__ == "__main__":
    main()
