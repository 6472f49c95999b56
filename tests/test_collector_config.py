"""The collector's configuration as Prometheus reads it: ``promtool check config`` accepts it,
and a real Prometheus applying its relabelling to targets that look like the cluster's pods
stores series labelled with the stack, service, slot, namespace and pod, and nothing of pods
that are not a service's serving port."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import yaml

from components.collector_config import agent_config, agent_config_yaml, relabel_configs
from tests.prometheus_server import SCRIPT, stop_prometheus

REMOTE_WRITE = "https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-1/api/v1/remote_write"


def config(**overrides: object) -> dict:
    arguments: dict = {
        "stack": "staging", "namespaces": ["chat-web", "chat-api"], "scrape_interval_seconds": 15,
        "remote_write_url": REMOTE_WRITE, "region": "us-east-1",
    }  # fmt: skip
    return agent_config(**{**arguments, **overrides})


def test_promtool_accepts_the_agent_configuration(tmp_path):
    """Debian builds Prometheus without Kubernetes discovery, so its promtool checks the
    configuration with the discovery block in static form; the block itself is asserted on
    below."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is installed by scripts/prometheus install"
    arguments = {
        "stack": "staging", "namespaces": ["chat-api"], "scrape_interval_seconds": 15,
        "remote_write_url": REMOTE_WRITE, "region": "us-east-1",
    }  # fmt: skip
    document = yaml.safe_load(agent_config_yaml(**arguments))
    job = document["scrape_configs"][0]
    assert job.pop("kubernetes_sd_configs") == [
        {"role": "pod", "namespaces": {"names": ["chat-api"]}}
    ]
    job["static_configs"] = [{"targets": ["127.0.0.1:8080"]}]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(document))
    checked = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_agent_writes_to_the_workspace_with_sigv4_and_keeps_no_rules():
    document = config()
    assert document["remote_write"][0]["url"] == REMOTE_WRITE
    assert document["remote_write"][0]["sigv4"] == {"region": "us-east-1"}
    # Agent mode refuses rule files and alerting: the workspace evaluates the SLO rules.
    assert "rule_files" not in document and "alerting" not in document
    [job] = document["scrape_configs"]
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == ["chat-api", "chat-web"]


def test_a_scrape_never_outlasts_its_interval():
    assert config(scrape_interval_seconds=5)["global"]["scrape_timeout"] == "5s"
    assert config(scrape_interval_seconds=60)["global"]["scrape_timeout"] == "10s"


class _Metrics(BaseHTTPRequestHandler):
    body = b'http_requests_total{code="200"} 7\n'

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def pod_metrics() -> Iterator[str]:
    """A pod's /metrics, with no label of the platform's own (the collector adds those)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def pod(address: str, **discovered: str) -> dict:
    """A static target carrying the labels Kubernetes discovery gives a pod's port."""
    labels = {
        "__meta_kubernetes_pod_container_port_name": "http",
        "__meta_kubernetes_pod_label_app": "chat-api",
        "__meta_kubernetes_pod_label_slot": "green",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_namespace": "chat-api",
        "__meta_kubernetes_pod_name": "chat-api-green-6d4f9-x2x7q",
        **discovered,
    }
    return {"targets": [address], "labels": labels}


def test_a_real_prometheus_labels_a_services_series_and_drops_every_other_target(
    tmp_path, pod_metrics
):
    # One address per target: Prometheus would merge identical targets.
    other = pod_metrics.replace("127.0.0.1", "localhost")
    targets = [
        pod(pod_metrics),
        pod(other, __meta_kubernetes_pod_container_port_name="admin"),
        pod(f"127.0.0.2:{pod_metrics.split(':')[1]}", __meta_kubernetes_pod_label_app=""),
        pod(f"127.0.0.3:{pod_metrics.split(':')[1]}", __meta_kubernetes_pod_phase="Pending"),
    ]
    document = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "services",
                "static_configs": targets,
                "relabel_configs": relabel_configs("staging"),
            }
        ],
    }
    (tmp_path / "config.yml").write_text(yaml.safe_dump(document))
    started = subprocess.run(
        [str(SCRIPT), "start-with", str(tmp_path / "run"), str(tmp_path / "config.yml")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip().splitlines()[-1]
    try:
        series = _series(url, "http_requests_total")
        targets_answer = httpx.get(f"{url}/api/v1/targets", timeout=5).json()
    finally:
        stop_prometheus(tmp_path / "run")
    assert series == [
        {
            "__name__": "http_requests_total", "code": "200", "instance": pod_metrics,
            "job": "services", "namespace": "chat-api", "pod": "chat-api-green-6d4f9-x2x7q",
            "service": "chat-api", "slot": "green", "stack": "staging",
        }
    ]  # fmt: skip
    assert len(targets_answer["data"]["activeTargets"]) == 1


def _series(url: str, metric: str, timeout_seconds: float = 20) -> list[dict]:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/api/v1/query", params={"query": metric}, timeout=5).json()
        found = [r["metric"] for r in answer["data"]["result"]]
        if found:
            time.sleep(2)  # let every target be scraped at least once more
            answer = httpx.get(f"{url}/api/v1/query", params={"query": metric}, timeout=5)
            return [r["metric"] for r in answer.json()["data"]["result"]]
        time.sleep(0.2)
    pytest.fail(f"no {metric} series in Prometheus at {url} within {timeout_seconds}s")
