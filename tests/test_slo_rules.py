"""The SLO rules as a real Prometheus reads them: ``promtool check rules`` accepts them, and
``promtool test rules`` (Debian's, installed by scripts/prometheus) shows each burn-rate
alert firing exactly when the SRE workbook's windows say it should."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from components.slo_rules import (
    ALERT_NAMES,
    BURN_RATE_ALERTS,
    ServiceObjectives,
    alertmanager_yaml,
    record_name,
    rule_groups,
    rules_yaml,
)
from tests.prometheus_server import SCRIPT

STACK = "staging"
API = ServiceObjectives("chat-api", availability=0.995, latency_threshold_seconds=0.5,
                        latency_objective=0.99)  # fmt: skip


@pytest.fixture(scope="module")
def promtool() -> str:
    if shutil.which("promtool") is None:
        subprocess.run([str(SCRIPT), "install"], check=True, timeout=600)
    found = shutil.which("promtool")
    assert found, "scripts/prometheus install did not provide promtool"
    return found


def run_promtool(promtool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def write_rules(directory: Path, *services: ServiceObjectives) -> Path:
    path = directory / "rules.yml"
    path.write_text(rules_yaml(STACK, services or (API,)))
    return path


def test_promtool_accepts_the_rules_of_every_service(tmp_path, promtool):
    web = ServiceObjectives("chat-web", 0.99, 1.0, 0.95)
    write_rules(tmp_path, API, web)
    checked = run_promtool(promtool, "check", "rules", "rules.yml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # 2 SLIs x 5 windows recorded, 2 SLIs x 3 burn-rate alerts, per service.
    assert "SUCCESS: 32 rules found" in checked.stdout


def alert(severity: str, window: str, slo: str = "availability") -> dict:
    burn_rate, short = next((b, s) for _, w, s, b in BURN_RATE_ALERTS if w == window)
    return {
        "exp_labels": {
            "severity": severity, "slo": slo, "window": window,
            "stack": STACK, "service": API.service,
        },
        "exp_annotations": {
            "summary": f"chat-api on {STACK} burns its {slo} error budget {burn_rate:g}x too "
            f"fast over {window} and {short}"
        },
    }  # fmt: skip


def run_cases(tmp_path: Path, promtool: str, series: list[dict], cases: list[dict]) -> None:
    write_rules(tmp_path)
    document = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": cases}],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    tested = run_promtool(promtool, "test", "rules", "test.yml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def requests(stack: str, code: str, per_minute: int, minutes: int = 180) -> dict:
    return {
        "series": f'http_requests_total{{stack="{stack}",service="chat-api",code="{code}"}}',
        "values": f"0+{per_minute}x{minutes}",
    }


def test_an_outage_pages_at_once_and_every_window_agrees(tmp_path, promtool):
    # Half of the requests fail: far past 14.4 x the 0.5 % budget over 1 h and over 5 min.
    series = [requests(STACK, "200", 60), requests(STACK, "500", 60)]
    cases = [
        {
            "eval_time": "10m",
            "alertname": ALERT_NAMES["availability"],
            "exp_alerts": [alert("page", "1h"), alert("page", "6h"), alert("ticket", "3d")],
        }
    ]
    run_cases(tmp_path, promtool, series, cases)


def test_a_slow_leak_opens_a_ticket_without_paging(tmp_path, promtool):
    # 1 % errors: twice the 0.5 % budget, under the page thresholds (6 x 0.5 % = 3 %).
    series = [requests(STACK, "200", 99), requests(STACK, "500", 1)]
    cases = [
        {
            "eval_time": "120m",
            "alertname": ALERT_NAMES["availability"],
            "exp_alerts": [alert("ticket", "3d")],
        }
    ]
    run_cases(tmp_path, promtool, series, cases)


def test_a_healthy_service_and_another_stacks_outage_fire_nothing(tmp_path, promtool):
    series = [
        requests(STACK, "200", 60),
        requests("prod", "200", 10),
        requests("prod", "500", 50),
    ]
    cases = [
        {"eval_time": "60m", "alertname": ALERT_NAMES["availability"], "exp_alerts": []},
        {"eval_time": "60m", "alertname": ALERT_NAMES["latency"], "exp_alerts": []},
    ]
    run_cases(tmp_path, promtool, series, cases)


def latency(le: str, per_minute: int) -> dict:
    labels = f'stack="{STACK}",service="chat-api"'
    name = (
        "http_request_duration_seconds_count"
        if le == "count"
        else ("http_request_duration_seconds_bucket")
    )
    bound = "" if le == "count" else f',le="{le}"'
    return {"series": f"{name}{{{labels}{bound}}}", "values": f"0+{per_minute}x180"}


@pytest.mark.parametrize("spelling", ["0.5", "0.50"])
def test_slow_requests_page_on_the_six_hour_window_only(tmp_path, promtool, spelling):
    # 10 % slower than 0.5 s against a 1 % budget: over 6 x (6 h) but under 14.4 x (1 h).
    # "0.50" is no spelling a client writes: its series is not the threshold's bucket.
    series = [latency(spelling, 90), latency("+Inf", 100), latency("count", 100)]
    expected = [alert("page", "6h", "latency"), alert("ticket", "3d", "latency")]
    cases = [
        {
            "eval_time": "60m",
            "alertname": ALERT_NAMES["latency"],
            # Without the threshold's bucket every request counts as slow: all three fire.
            "exp_alerts": expected
            if spelling == "0.5"
            else [alert("page", "1h", "latency"), *expected],
        }
    ]
    run_cases(tmp_path, promtool, series, cases)


def test_both_client_spellings_of_a_whole_second_bucket_are_read():
    groups = rule_groups(STACK, [ServiceObjectives("chat-api", 0.99, 1.0, 0.99)])
    rules = groups["groups"][0]["rules"]
    latency_five_minutes = next(r for r in rules if r.get("record") == record_name("latency", "5m"))
    assert 'le=~"1|1\\\\.0"' in latency_five_minutes["expr"]


def test_the_alert_manager_sends_to_the_stacks_topic(tmp_path):
    topic = "arn:aws:sns:us-east-1:123456789012:platform-staging-alerts"
    document = yaml.safe_load(alertmanager_yaml(topic, "us-east-1"))
    config = yaml.safe_load(document["alertmanager_config"])
    [receiver] = config["receivers"]
    assert config["route"]["receiver"] == receiver["name"]
    assert receiver["sns_configs"][0]["topic_arn"] == topic
    assert receiver["sns_configs"][0]["sigv4"] == {"region": "us-east-1"}
    assert {"stack", "service"} <= set(config["route"]["group_by"])


def test_the_alert_manager_configuration_loads_in_a_real_alertmanager(tmp_path):
    amtool = shutil.which("amtool")
    if amtool is None:
        subprocess.run([str(SCRIPT), "install"], check=True, timeout=600)
        amtool = shutil.which("amtool")
    assert amtool, "scripts/prometheus install did not provide amtool"
    topic = "arn:aws:sns:us-east-1:123456789012:platform-staging-alerts"
    body = yaml.safe_load(alertmanager_yaml(topic, "us-east-1"))["alertmanager_config"]
    (tmp_path / "alertmanager.yml").write_text(body)
    checked = subprocess.run(
        [amtool, "check-config", "alertmanager.yml"], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Found:" in checked.stdout and textwrap.dedent("- 1 receivers") in checked.stdout
