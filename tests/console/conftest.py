"""A live server with the demo repository and one headless Chromium for the console's browser tests.

The server is `expertmatch serve --demo` in a subprocess on a free loopback port, over a fresh database of the
backend under test. Chromium is Debian's (/usr/bin/chromium, installed by tests/console/install_browser.sh), driven
by Playwright; under CI=true a browser that cannot start fails the tests instead of skipping them.
Screenshots go to tmp/artefacts/console/.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.migrate import upgrade
from tests.conftest import BACKEND, IN_CI, _postgres_database
from tests.crash.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT / "tmp" / "artefacts" / "console"
CHROMIUM = os.environ.get("EXPERTMATCH_TEST_CHROMIUM", "/usr/bin/chromium")
ADMIN_KEY = "console-test-admin-key-" + uuid.uuid4().hex[:12]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--metrics-recording-only",
    "--mute-audio",
]


def _unavailable(message: str) -> None:
    """Fail under CI (the browser tests must run there), skip elsewhere."""
    if IN_CI:
        pytest.fail(f"browser tests cannot run: {message}", pytrace=False)
    pytest.skip(message)


class LiveServer:
    """The service in a subprocess, with administrator shortcuts over its REST API."""

    def __init__(self, base_url: str, process: subprocess.Popen, log: Path) -> None:
        self.base_url = base_url
        self.process = process
        self.log = log
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60)

    def post(self, path: str, body: Any) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def key(self, role: str, **ids: int) -> str:
        return self.post("/keys", {"role": role, **ids})["key"]

    def demand_by_external_id(self, external_id: str) -> dict[str, Any]:
        return self.get("/demands", external_id=external_id)["items"][0]

    def expert_by_external_id(self, external_id: str) -> dict[str, Any]:
        return self.get("/experts", external_id=external_id)["items"][0]


@pytest.fixture(scope="session")
def live_database(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[str]:
    """A fresh, migrated database of the backend under test, for the live server alone."""
    if BACKEND == "postgres":
        gen = _postgres_database(f"console_{worker_id}")
        url = next(gen)
        upgrade(url)
        yield url
        gen.close()
        return
    url = f"sqlite:///{tmp_path_factory.mktemp('console-db') / 'console.db'}"
    upgrade(url)
    yield url


@pytest.fixture(scope="session")
def live_server(live_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("console-server")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EXPERTMATCH_", "PROMETHEUS_"))}
    env.update(
        DATABASE_URL=live_database,
        EXPERTMATCH_ADMIN_KEY=ADMIN_KEY,
        EXPERTMATCH_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    log = workdir / "server.log"
    command = [sys.executable, "-m", "service.cli", "serve", "--demo", "--no-migrate"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"server exited {process.returncode}: {log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready: {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        server = LiveServer(base_url, process, log)
        yield server
        server.http.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the whole session."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        _unavailable(f"playwright is not installed: {exc}")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing: run tests/console/install_browser.sh as root")
    manager = sync_playwright().start()
    try:
        try:
            chromium = manager.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            _unavailable(f"Chromium did not start: {exc}")
        yield chromium
        chromium.close()
    finally:
        manager.stop()


@pytest.fixture
def external_requests() -> list[str]:
    """Every request a page made to a host other than the live server (filled by the `page` fixture)."""
    return []


@pytest.fixture
def page(browser: Any, live_server: LiveServer, external_requests: list[str]) -> Iterator[Any]:
    """A fresh browser context (no cookies) on the live server, Chinese first; other hosts are blocked."""
    context = browser.new_context(
        base_url=live_server.base_url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(20_000)

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(live_server.base_url) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
        else:
            external_requests.append(url)
            route.abort()

    context.route(re.compile(r".*"), guard)
    context.on("dialog", lambda dialog: dialog.accept())
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    """Keep a screenshot of the page as a test artefact."""
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def follow(page: Any, target: Any) -> None:
    """Click a link or a submit button and wait for the page it loads, so what is read next is that page."""
    locator = page.locator(target) if isinstance(target, str) else target
    with page.expect_navigation(wait_until="domcontentloaded"):
        locator.click()


def sign_in(page: Any, key: str) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/console/login")
    page.fill("input[name=key]", key)
    follow(page, "form[action='/console/login'] button[type=submit]")
