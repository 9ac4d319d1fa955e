"""One periodic assessment over the demo repository, with service data simulated through the REST API.

The demo repository has specialists and demands but no service history, so this script makes one, deterministically
(seeded), through the same HTTP calls the parties would make: for each open demand in id order the administrator
selects the best-ranked suggestion that can still take it, the specialist accepts, logs one to six days of service,
the enterprise raises up to two issues (most answered and resolved, some left open), and the engagement is completed
(and usually rated 2-5) or terminated. It then computes the assessment for the current year and prints the grade
distribution. Run: `python bench/assessment_demo.py [--demands N] [--seed S]` (a throw-away SQLite database).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from service.config import REPO_ROOT, Settings
from service.db import make_engine
from service.demo import load_demo
from service.main import create_app
from service.migrate import upgrade

KEY = "assessment-demo-admin-key"
ADMIN = {"Authorization": f"Bearer {KEY}"}


def simulate(client: TestClient, rng: random.Random, demands: int) -> Counter:
    """Serve up to `demands` open demands; returns what happened, by outcome."""
    today = datetime.now(UTC).date()
    outcomes: Counter = Counter()
    open_demands = client.get("/demands?status=open&limit=200", headers=ADMIN).json()["items"]
    for demand in open_demands[:demands]:
        items = client.get(f"/demands/{demand['id']}/suggestions?limit=5", headers=ADMIN).json()["items"]
        engagement = None
        for item in items:
            response = client.post(
                f"/demands/{demand['id']}/selections", json={"expert_id": item["expert_id"]}, headers=ADMIN
            )
            if response.status_code == 201:
                engagement = response.json()
                break
        if engagement is None:
            outcomes["no_selectable_specialist"] += 1
            continue
        eid = engagement["id"]
        assert client.post(f"/engagements/{eid}/accept", headers=ADMIN).status_code == 200
        for _ in range(rng.randint(1, 6)):
            body = {"date": today.isoformat(), "hours": rng.choice([2, 4, 6, 8]), "summary": "现场技术服务"}
            assert client.post(f"/engagements/{eid}/logs", json=body, headers=ADMIN).status_code == 201
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            due = (today + timedelta(days=rng.randint(0, 20))).isoformat()
            issue = client.post(
                f"/engagements/{eid}/issues",
                json={"title": "服务问题", "description": "需要跟进", "due_date": due},
                headers=ADMIN,
            ).json()
            outcomes["issues"] += 1
            if rng.random() < 0.75:
                client.post(
                    f"/issues/{issue['id']}/responses", json={"summary": "已解决", "resolved": True}, headers=ADMIN
                )
                if rng.random() < 0.7:
                    client.post(
                        f"/issues/{issue['id']}/confirm", json={"satisfaction": rng.randint(3, 5)}, headers=ADMIN
                    )
        if rng.random() < 0.85:
            assert client.post(f"/engagements/{eid}/complete", headers=ADMIN).status_code == 200
            outcomes["completed"] += 1
            if rng.random() < 0.9:
                rating = rng.choices([2, 3, 4, 5], weights=[1, 2, 4, 4])[0]
                client.post(f"/engagements/{eid}/rating", json={"rating": rating}, headers=ADMIN)
        else:
            assert client.post(f"/engagements/{eid}/terminate", headers=ADMIN).status_code == 200
            outcomes["terminated"] += 1
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demands", type=int, default=60, help="open demands to serve (default 60)")
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        upgrade(url)
        settings = Settings(database_url=url, admin_key=KEY, log_json=False, log_level="WARNING", _env_file=None)
        report = load_demo(make_engine(settings), REPO_ROOT / "fixtures" / "demo")
        with TestClient(create_app(settings)) as client:
            outcomes = simulate(client, random.Random(args.seed), args.demands)
            year = str(datetime.now(UTC).year)
            assessment = client.post("/assessments", json={"period": year}, headers=ADMIN).json()
            scores, offset = [], 0
            while True:
                page = client.get(f"/assessments/{assessment['id']}?limit=200&offset={offset}", headers=ADMIN).json()
                scores += page["scores"]["items"]
                offset += 200
                if offset >= page["scores"]["total"]:
                    break
        assessed = [s["score"] for s in scores if s["assessed"]]
        print(
            f"demo repository: {report.experts} specialists, {report.demands} demands, {report.enterprises} enterprises"
        )
        print(f"simulated service (seed {args.seed}, {args.demands} demands): {dict(sorted(outcomes.items()))}")
        print(f"assessment {year}: {len(scores)} specialists, {len(assessed)} assessed")
        print(f"grade distribution: {assessment['grades']}")
        if assessed:
            median = statistics.median(assessed)
            print(f"scores of the assessed: min {min(assessed)}, median {median}, max {max(assessed)}")


if __name__ == "__main__":
    main()
