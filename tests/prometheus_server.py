"""A real Prometheus on loopback (``scripts/prometheus``) scraping a ``MetricsExporter``
every second, for any test that wants one: the session-scoped ``prometheus`` fixture."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.metrics_exporter import MetricsExporter

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "prometheus"
SCRAPE_INTERVAL = "1s"


@dataclass(frozen=True)
class RunningPrometheus:
    url: str
    exporter: MetricsExporter
    directory: Path


def start_prometheus(directory: Path, target: str, scrape_interval: str = SCRAPE_INTERVAL) -> str:
    """Starts Prometheus scraping ``target`` (HOST:PORT); returns its base URL once ready."""
    started = subprocess.run(
        [str(SCRIPT), "start", str(directory), target, scrape_interval],
        capture_output=True,
        text=True,
        timeout=300,  # the first run may install the Debian package
        check=False,
    )
    if started.returncode != 0:
        pytest.fail(
            f"scripts/prometheus start failed (exit {started.returncode}):\n{started.stderr}",
            pytrace=False,
        )
    return started.stdout.strip().splitlines()[-1]


def stop_prometheus(directory: Path) -> None:
    subprocess.run([str(SCRIPT), "stop", str(directory)], check=True, timeout=30)


def wait_for_scrape(url: str, timeout_seconds: float = 15) -> None:
    """Returns once Prometheus holds at least two scrapes of the exporter, the least a
    ``rate()`` needs."""
    deadline = time.monotonic() + timeout_seconds
    query = 'count_over_time(up{job="exporter"}[1m])'
    while time.monotonic() < deadline:
        answer = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=2).json()
        result = answer["data"]["result"]
        if result and float(result[0]["value"][1]) >= 2:
            return
        time.sleep(0.2)
    pytest.fail(f"Prometheus at {url} did not scrape the exporter within {timeout_seconds}s")


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    """A Prometheus scraping a running exporter every second; tests set the exporter's
    traffic (``prometheus.exporter.set_traffic``) for their own service or slot names."""
    directory = tmp_path_factory.mktemp("prometheus")
    with MetricsExporter() as exporter:
        url = start_prometheus(directory, exporter.target)
        try:
            wait_for_scrape(url)
            yield RunningPrometheus(url=url, exporter=exporter, directory=directory)
        finally:
            stop_prometheus(directory)
