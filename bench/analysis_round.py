"""What the alarms and the SLO alerts add to one analysis round.

A round measures each metric on the candidate (and, for a ratio, on the live slot); with
``analysis.alarms`` it also reads the watched alarms (cloudwatch:DescribeAlarms, one call per
100 names), and with Prometheus it lists the firing alerts (GET /api/v1/alerts). This times
rounds three ways in one run, on loopback: the default metrics alone against a real
Prometheus (Debian's, started by scripts/prometheus), then with prod's 23 alarms read from
moto's CloudWatch in server mode, then with the alerts too; and each again through the
SigV4-verifying stand-in for the workspace, as platformctl asks AMP.

    .venv/bin/python bench/analysis_round.py [--rounds N]

Figures only: nothing here asserts a time. Loopback hides the network: on a real account
each call adds a round trip to CloudWatch or AMP (tens of milliseconds in-region).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

import boto3  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402

from infra.settings.delivery import DEFAULT_METRICS  # noqa: E402
from platformctl.alarms import CloudWatchAlarms  # noqa: E402
from platformctl.guards import ReleaseGuards  # noqa: E402
from platformctl.ports import AnalysisTarget  # noqa: E402
from platformctl.prometheus import PrometheusSource  # noqa: E402
from platformctl.sigv4 import SigV4Auth  # noqa: E402
from tests.metrics_exporter import STACK, MetricsExporter  # noqa: E402
from tests.prometheus_server import start_prometheus, stop_prometheus, wait_for_scrape  # noqa: E402
from tests.sigv4_proxy import ACCESS_KEY, REGION, SECRET_KEY, SigV4Proxy  # noqa: E402

ALARMS = 23  # what prod makes (components/alarms.py)
TARGET = AnalysisTarget(
    stack=STACK, service="chat-api", namespace="chat-api", candidate_slot="green",
    live_slot="blue", window_seconds=5,
)  # fmt: skip


def median_ms(work: Callable[[], object], rounds: int) -> float:
    work()  # connections opened, first answers cached by nobody: warm once
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    rounds = parser.parse_args().rounds
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    cloudwatch = boto3.client(
        "cloudwatch", region_name=REGION, endpoint_url=f"http://{host}:{port}",
        aws_access_key_id="bench", aws_secret_access_key="bench",
    )  # fmt: skip
    names = tuple(f"platform-prod-alarm-{n:02d}" for n in range(ALARMS))
    for name in names:
        cloudwatch.put_metric_alarm(
            AlarmName=name, Namespace="AWS/RDS", MetricName="CPUUtilization",
            Statistic="Average", Period=300, EvaluationPeriods=1, Threshold=80,
            ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    with tempfile.TemporaryDirectory() as directory, MetricsExporter() as exporter:
        exporter.set_traffic("chat-api", "green", requests_per_second=50)
        exporter.set_traffic("chat-api", "blue", requests_per_second=50)
        url = start_prometheus(Path(directory) / "prometheus", exporter.target)
        try:
            wait_for_scrape(url)
            time.sleep(3)
            with SigV4Proxy(url) as proxy:
                signed = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), REGION)
                sources = {
                    "Prometheus": PrometheusSource(url),
                    "AMP (SigV4)": PrometheusSource(proxy.workspace_url, auth=signed),
                }
                report(sources, CloudWatchAlarms(cloudwatch), names, rounds)
        finally:
            stop_prometheus(Path(directory) / "prometheus")
            moto.stop()


def report(
    sources: dict[str, PrometheusSource], alarms: CloudWatchAlarms, names: tuple[str, ...],
    rounds: int,
) -> None:  # fmt: skip
    print(f"one analysis round, median of {rounds}, loopback")
    print(f"{'source':<12} {'metrics ms':>10} {'+alarms ms':>10} {'+alerts ms':>10} "
          f"{'alarms/metrics':>15} {'all/metrics':>12}")  # fmt: skip
    for label, source in sources.items():
        guards = ReleaseGuards(alarms=alarms, watched=names)
        with_alerts = ReleaseGuards(alarms=alarms, watched=names, alerts=source)

        def metrics_only(s: PrometheusSource = source) -> object:
            return [s.measure(check, TARGET) for check in DEFAULT_METRICS]

        base = median_ms(metrics_only, rounds)
        alarmed = median_ms(lambda g=guards: [*metrics_only(), *g.measure(TARGET)], rounds)
        everything = median_ms(lambda g=with_alerts: [*metrics_only(), *g.measure(TARGET)], rounds)
        print(f"{label:<12} {base:>10.1f} {alarmed:>10.1f} {everything:>10.1f} "
              f"{alarmed / base:>14.2f}x {everything / base:>11.2f}x")  # fmt: skip
    print(f"({len(DEFAULT_METRICS)} default metrics, latency-p95 with its ratio to live: "
          f"3 queries; {len(names)} alarms in 1 DescribeAlarms call)")  # fmt: skip


if __name__ == "__main__":
    main()
