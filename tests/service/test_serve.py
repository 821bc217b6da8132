"""`kgrec serve` under real gunicorn: 2 workers, metrics summed over them, JSON logs, clean stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.gnn.rgcn_data import topic_catalogue

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kgrec(*args, env):
    return subprocess.run([sys.executable, "-m", "service", *args], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_gunicorn_serves_with_two_workers_and_aggregated_metrics(tmp_path):
    env = os.environ | {"KGREC_HOME": str(tmp_path / "home"), "KGREC_DEVICE": "cpu",
                        "HF_HUB_OFFLINE": "1", "KGREC_ADMIN_TOKEN": "t0ken"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    folder = topic_catalogue(tmp_path / "data")
    assert _kgrec("load", folder, env=env).returncode == 0
    trained = _kgrec("train", "--max-epochs", "3", env=env)
    assert trained.returncode == 0, trained.stderr[-2000:]
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "service", "serve", "--workers", "2",
                             "--bind", f"127.0.0.1:{port}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.5)
        else:
            pytest.fail("service not ready in 90 s")
        n = 30
        for _ in range(n):
            r = requests.get(f"{base}/v1/users/U001/recommendations?k=3", timeout=10)
            assert r.status_code == 200 and len(r.json()["items"]) == 3
        # the last step of `make demo` against this server: a known user's and a query's answers
        demo = subprocess.run([sys.executable, str(REPO / "scripts" / "demo_ask.py"), base,
                               str(folder)], env=env, capture_output=True, text=True, timeout=300)
        assert demo.returncode == 0, demo.stderr[-2000:]
        answers = demo.stdout.split("POST /v1/recommendations")[1:]
        assert len(answers) == 2 and '"query": \'I need ' in answers[1]
        assert all(a.count("because: ") >= 3 and "  3. " in a for a in answers), demo.stdout
        r = requests.post(f"{base}/v1/recommendations", json={"user_id": 7}, timeout=10)
        assert r.status_code == 400 and r.json()["error"]["field"] == "user_id"
        metrics = requests.get(f"{base}/metrics", timeout=10).text
        line = [l for l in metrics.splitlines() if l.startswith("kgrec_requests_total{")
                and 'endpoint="/v1/users/<user_id>/recommendations"' in l and 'status="200"' in l]
        assert line and float(line[0].rsplit(" ", 1)[1]) == n
        assert requests.post(f"{base}/v1/admin/reload", headers={"Authorization": "Bearer t0ken"},
                             timeout=30).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    logs = [json.loads(l) for l in err.splitlines() if l.startswith("{")]
    requests_logged = [l for l in logs if l.get("message") == "request"]
    assert len(requests_logged) >= n and {"method", "path", "status", "ms"} <= set(requests_logged[0])
    # one torch thread per worker by default: 2 workers x torch's default would oversubscribe
    workers = {l["pid"]: l["torch_threads"] for l in logs if l.get("message") == "worker starting"}
    assert len(workers) == 2 and set(workers.values()) == {1}
