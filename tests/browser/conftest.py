"""A real browser on the real app: `streamlit run app.py` on a free loopback port, driven by
Debian's Chromium through Playwright (never `playwright install`: it downloads, and CI is offline).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

ARTIFACTS = ROOT / "tests" / "artifacts"
CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium() -> str | None:
    return os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and asyncio.run() in later tests (the campaign sender) would refuse to start.
@pytest.fixture(scope="package")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    path = _chromium()
    if path is None:
        pytest.skip("no system Chromium: apt-get install chromium (.ci/run does)")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=path, args=CHROME_FLAGS)
        yield launched
        launched.close()


# Module scope: the customer pages write the hub file that another module's server would
# hold open (DuckDB allows one writer or many readers per file, across processes).
@pytest.fixture(scope="module")
def app_url(demo_db: Path, tmp_path_factory):
    """The app on the 3,000-customer demo, with an app store of its own."""
    yield from serve(ROOT / "models" / "demo", demo_db, tmp_path_factory.mktemp("browser-app"))


def serve(model: Path, demo_db: Path, folder: Path):
    """Run `streamlit run app.py` on `model` until the generator is closed; yield (url, store)."""
    store = folder / "app.db"
    log = folder / "streamlit.log"
    port = _free_port()
    env = {
        **os.environ,
        "STRATA_DATA": str(demo_db.parent),
        "STRATA_STORE_URL": f"sqlite:///{store}",
        "STRATA_MODEL": str(model),
    }
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py")),
            *("--server.address", "127.0.0.1", "--server.port", str(port)),
            *("--server.headless", "true", "--browser.gatherUsageStats", "false"),
            *("--server.fileWatcherType", "none", "--client.toolbarMode", "minimal"),
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.read() == b"ok":
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"streamlit not healthy in 60 s:\n{log.read_text()}")
        time.sleep(0.2)
    try:
        yield url, store
    finally:  # also when the generator is closed early (GeneratorExit at the yield)
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 2200}, accept_downloads=True)
    opened = context.new_page()
    # Generous: a busy two-core machine runs the app, the browser and the tests at once.
    opened.set_default_timeout(90_000)
    yield opened
    # The last screen of every test, kept for a human to look at when one fails.
    ARTIFACTS.mkdir(exist_ok=True)
    opened.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"), full_page=True)
    context.close()
