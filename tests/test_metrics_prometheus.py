"""PrometheusSource: against a real Prometheus scraping a test exporter every second, and
against canned HTTP answers for the shapes a live server rarely gives."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from infra.settings.delivery import DEFAULT_METRICS, MetricCheck
from platformctl.ports import AnalysisTarget, Measurement, Verdict
from platformctl.prometheus import PrometheusSource
from tests.metrics_exporter import STACK
from tests.prometheus_server import RunningPrometheus, start_prometheus, stop_prometheus

# The session fixture, until tests/conftest.py imports it for every module; then drop this
# line, or this module would start a Prometheus of its own.

SERVICE = "chat-api"
WINDOW_SECONDS = 5
SUCCESS_RATE, LATENCY_P95 = DEFAULT_METRICS  # min 0.99; max 0.5 and at most 1.5x live
# Every slot the real-Prometheus tests use, with the traffic it serves.
SLOTS = {
    "healthy": {"latency_seconds": 0.05},
    "erroring": {"error_ratio": 0.07},
    "idle": {"serving": False},
    "live": {"latency_seconds": 0.1},
    "slow": {"latency_seconds": 0.3},
    "stopping": {},
}


def target(candidate: str, live: str = "live") -> AnalysisTarget:
    return AnalysisTarget(
        stack=STACK,
        service=SERVICE,
        namespace="apps",
        candidate_slot=candidate,
        live_slot=live,
        window_seconds=WINDOW_SECONDS,
    )


def asked_query(request: httpx.Request) -> str:
    """The PromQL a request carries: queries go as a form body (docs in prometheus.py)."""
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    return parse_qs(request.content.decode())["query"][0]


def metric(**fields: object) -> MetricCheck:
    return MetricCheck.model_validate({"name": "latency-p95", "query": "q", **fields})


def settled(
    source: PrometheusSource, check: MetricCheck, where: AnalysisTarget, seconds: float = 10
) -> Measurement:
    """The first measurement that is not inconclusive (data takes a few scrapes to arrive),
    or the last inconclusive one when none settles in time."""
    deadline = time.monotonic() + seconds
    while True:
        measurement = source.measure(check, where)
        if measurement.verdict != Verdict.INCONCLUSIVE or time.monotonic() > deadline:
            return measurement
        time.sleep(0.25)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def serving(prometheus: RunningPrometheus) -> PrometheusSource:
    """A source on the shared Prometheus, every slot of ``SLOTS`` serving from the start."""
    for slot, traffic in SLOTS.items():
        prometheus.exporter.set_traffic(SERVICE, slot, **traffic)
    return PrometheusSource(prometheus.url)


# With the real Prometheus.


def test_a_healthy_slot_passes_success_rate_and_latency(serving):
    success = settled(serving, SUCCESS_RATE, target("healthy"))
    assert success.verdict == Verdict.PASS, success.reason
    assert success.value == pytest.approx(1.0)
    latency = settled(serving, LATENCY_P95, target("healthy", live="healthy"))
    assert latency.verdict == Verdict.PASS, latency.reason
    # All observations fall in the (0.025, 0.05] bucket: p95 interpolates inside it.
    assert 0.025 < latency.value <= 0.05
    assert latency.live_value == pytest.approx(latency.value, rel=0.05)


def test_an_erroring_slot_fails_with_its_success_rate_in_the_reason(serving):
    measurement = settled(serving, SUCCESS_RATE, target("erroring"))
    assert measurement.verdict == Verdict.FAIL
    assert measurement.value == pytest.approx(0.93, abs=0.005)
    assert measurement.reason.startswith("success-rate 0.93")
    assert measurement.reason.endswith("outside [0.99, +inf]")
    assert not measurement.error


def test_a_slot_prometheus_has_never_seen_is_inconclusive(serving):
    settled(serving, SUCCESS_RATE, target("healthy"))  # Prometheus has scraped by now
    measurement = serving.measure(SUCCESS_RATE, target("never-deployed"))
    assert measurement.verdict == Verdict.INCONCLUSIVE
    assert "no data for slot never-deployed" in measurement.reason
    assert not measurement.error


def test_a_slot_without_traffic_is_inconclusive_not_a_pass(serving):
    # Its series exist (counters frozen at 0), so the rate is 0 and the ratio 0/0 = NaN.
    settled(serving, SUCCESS_RATE, target("healthy"))
    for check in (SUCCESS_RATE, LATENCY_P95):
        measurement = serving.measure(check, target("idle"))
        assert measurement.verdict == Verdict.INCONCLUSIVE, measurement.reason
        assert "nan" in measurement.reason.lower()


def test_a_slot_whose_traffic_stops_turns_inconclusive_once_the_window_passes(prometheus):
    source = PrometheusSource(prometheus.url)
    assert settled(source, SUCCESS_RATE, target("stopping")).verdict == Verdict.PASS
    prometheus.exporter.stop_traffic(SERVICE, "stopping")
    deadline = time.monotonic() + WINDOW_SECONDS + 5
    while (measurement := source.measure(SUCCESS_RATE, target("stopping"))).verdict == Verdict.PASS:
        assert time.monotonic() < deadline, "still passing long after the traffic stopped"
        time.sleep(0.5)
    assert measurement.verdict == Verdict.INCONCLUSIVE, measurement.reason


def test_a_candidate_three_times_slower_than_live_fails_the_ratio(serving):
    measurement = settled(serving, LATENCY_P95, target("slow", live="live"))
    assert measurement.verdict == Verdict.FAIL
    # Within its own threshold (max 0.5): the ratio to live is what fails.
    assert measurement.value < 0.5
    assert measurement.value / measurement.live_value > 1.5
    assert "ratio to live" in measurement.reason
    assert "outside [-inf, 1.5]" in measurement.reason


def test_a_stopped_prometheus_is_an_inconclusive_error(tmp_path: Path, prometheus):
    url = start_prometheus(tmp_path, prometheus.exporter.target)
    stop_prometheus(tmp_path)
    measurement = PrometheusSource(url, timeout_seconds=2).measure(SUCCESS_RATE, target("healthy"))
    assert measurement.verdict == Verdict.INCONCLUSIVE
    assert measurement.error
    assert f"Prometheus at {url} could not be reached" in measurement.reason


def test_an_unreachable_url_is_an_inconclusive_error():
    url = f"http://127.0.0.1:{closed_port()}"
    measurement = PrometheusSource(url, timeout_seconds=2).measure(SUCCESS_RATE, target("healthy"))
    assert (measurement.verdict, measurement.error) == (Verdict.INCONCLUSIVE, True)
    assert url in measurement.reason
    assert "Traceback" not in measurement.reason


# With canned answers.

Answer = Callable[[httpx.Request], httpx.Response]


def vector(*values: str) -> dict:
    series = [
        {"metric": {"pod": f"p{i}"}, "value": [1700000000.0, v]} for i, v in enumerate(values)
    ]
    return {"status": "success", "data": {"resultType": "vector", "result": series}}


def answering(answer: Answer, url: str = "http://prometheus.test") -> PrometheusSource:
    return PrometheusSource(url, transport=httpx.MockTransport(answer))


def always(body: dict, status: int = 200) -> Answer:
    return lambda request: httpx.Response(status, json=body)


def by_slot(values: dict[str, str]) -> Answer:
    """Answers each query with the value of the slot its rendered query names."""

    def answer(request: httpx.Request) -> httpx.Response:
        query = asked_query(request)
        [slot] = [s for s in values if f'slot="{s}"' in query]
        return httpx.Response(200, json=vector(values[slot]))

    return answer


SLOT_QUERY = 'max(latency{slot="{slot}",service="{service}",namespace="{namespace}"}[{window}])'


def test_the_query_names_the_service_namespace_slot_and_window():
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(asked_query(request))
        return httpx.Response(200, json=vector("0.1"))

    check = metric(query=SLOT_QUERY, ratioToLive={"max": 2})
    answering(answer).measure(check, target("green", live="blue"))
    assert asked == [
        'max(latency{slot="green",service="chat-api",namespace="apps"}[5s])',
        'max(latency{slot="blue",service="chat-api",namespace="apps"}[5s])',
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (vector(), "no data for slot green in the last 5s"),
        (vector("NaN"), "latency-p95 is nan for slot green"),
        (vector("+Inf"), "latency-p95 is inf for slot green"),
        (vector("0.1", "0.2"), "ambiguous: the query returned 2 series"),
        (
            {"status": "success", "data": {"resultType": "matrix", "result": []}},
            "allowed: an instant vector or a scalar",
        ),
    ],
    ids=["empty-vector", "nan", "infinity", "two-series", "matrix"],
)
def test_an_answer_without_one_finite_value_is_inconclusive(body, reason):
    measurement = answering(always(body)).measure(
        metric(thresholdRange={"max": 1}), target("green")
    )
    assert measurement.verdict == Verdict.INCONCLUSIVE
    assert reason in measurement.reason
    assert not measurement.error


def test_a_scalar_result_is_judged_like_a_vector():
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1.7e9, "0.7"]}}
    measurement = answering(always(body)).measure(metric(thresholdRange={"max": 0.5}), target("g"))
    assert (measurement.verdict, measurement.value) == (Verdict.FAIL, 0.7)
    assert measurement.reason == "latency-p95 0.7 outside [-inf, 0.5]"


def test_an_error_status_is_an_inconclusive_error_with_prometheus_explanation():
    body = {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'}
    measurement = answering(always(body, status=400)).measure(
        metric(thresholdRange={"max": 1}), target("green")
    )
    assert (measurement.verdict, measurement.error) == (Verdict.INCONCLUSIVE, True)
    assert "Prometheus at http://prometheus.test answered HTTP 400" in measurement.reason
    assert 'bad_data: parse error: unexpected "}"' in measurement.reason


def test_an_answer_that_is_not_json_is_an_inconclusive_error():
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>")

    measurement = answering(answer).measure(metric(thresholdRange={"max": 1}), target("green"))
    assert (measurement.verdict, measurement.error) == (Verdict.INCONCLUSIVE, True)
    assert "answered HTTP 502 with a body that is not JSON" in measurement.reason


def test_a_timeout_is_an_inconclusive_error_naming_the_url_and_the_limit():
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    source = PrometheusSource(
        "http://prometheus.test", timeout_seconds=3, transport=httpx.MockTransport(answer)
    )
    measurement = source.measure(metric(thresholdRange={"max": 1}), target("green"))
    assert (measurement.verdict, measurement.error) == (Verdict.INCONCLUSIVE, True)
    assert measurement.reason == (
        "latency-p95: Prometheus at http://prometheus.test did not answer within 3s"
    )


def test_credentials_in_the_url_never_appear_in_a_reason():
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    source = PrometheusSource(
        "https://reader:s3cret-token@prometheus.test:9090", transport=httpx.MockTransport(answer)
    )
    measurement = source.measure(metric(thresholdRange={"max": 1}), target("green"))
    assert "s3cret-token" not in measurement.reason
    assert "reader" not in measurement.reason
    assert "Prometheus at https://prometheus.test:9090 could not be reached" in measurement.reason


@pytest.mark.parametrize(
    ("live", "verdict", "reason"),
    [
        ("0.1", Verdict.PASS, "ratio to live 1.2 within [-inf, 1.5]"),
        ("0.05", Verdict.FAIL, "ratio to live 2.4 outside [-inf, 1.5] (candidate 0.12, live 0.05)"),
        ("0", Verdict.INCONCLUSIVE, "live value is 0, so the ratio to live cannot be judged"),
        ("NaN", Verdict.INCONCLUSIVE, "live value is nan"),
    ],
)
def test_the_ratio_to_live_passes_fails_or_cannot_be_judged(live, verdict, reason):
    source = answering(by_slot({"green": "0.12", "blue": live}))
    measurement = source.measure(
        metric(query=SLOT_QUERY, ratioToLive={"max": 1.5}), target("green", live="blue")
    )
    assert measurement.verdict == verdict
    assert reason in measurement.reason


def test_a_live_slot_without_data_leaves_the_ratio_inconclusive():
    def answer(request: httpx.Request) -> httpx.Response:
        live = 'slot="blue"' in asked_query(request)
        return httpx.Response(200, json=vector() if live else vector("0.12"))

    measurement = answering(answer).measure(
        metric(query=SLOT_QUERY, ratioToLive={"max": 1.5}), target("green", live="blue")
    )
    assert measurement.verdict == Verdict.INCONCLUSIVE
    assert "no live value to compare with (no data for slot blue" in measurement.reason


def test_a_candidate_outside_its_threshold_fails_even_when_live_is_unknown():
    def answer(request: httpx.Request) -> httpx.Response:
        if 'slot="blue"' in asked_query(request):
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=vector("0.9"))

    check = metric(query=SLOT_QUERY, thresholdRange={"max": 0.5}, ratioToLive={"max": 1.5})
    measurement = answering(answer).measure(check, target("green", live="blue"))
    assert measurement.verdict == Verdict.FAIL
    assert measurement.reason == "latency-p95 0.9 outside [-inf, 0.5]"


def test_measurements_serialise_without_infinite_or_missing_values():
    measurement = answering(always(vector("NaN"))).measure(
        metric(thresholdRange={"max": 1}), target("green")
    )
    assert json.loads(json.dumps(measurement.to_json(), allow_nan=False))["value"] is None
