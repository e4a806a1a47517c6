"""`strata serve` starts a real Streamlit server that answers over HTTP on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests.conftest import ROOT, TINY


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_strata_serve_answers_health_and_page_requests(tiny_db):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--model", str(TINY), "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "STREAMLIT_SERVER_ADDRESS": "127.0.0.1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline, health = time.monotonic() + 60, None
        while time.monotonic() < deadline and health is None:
            try:
                health = _get(f"http://127.0.0.1:{port}/_stcore/health")
            except OSError:
                assert server.poll() is None, "the server exited while starting"
                time.sleep(0.3)
        assert health == (200, "ok")
        status, page = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "<html" in page.lower()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def test_strata_serve_refuses_a_broken_model_before_starting(tmp_path):
    (tmp_path / "m.yaml").write_text("subject_areas:\n  - nme: x\n")
    done = subprocess.run(
        [sys.executable, "-m", "cli", "serve", "--model", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2 and "unknown key 'nme'" in done.stderr
