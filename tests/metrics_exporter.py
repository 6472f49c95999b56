"""A stand-in for the app's pods as the stack's workspace holds their series: serves
``/metrics`` in Prometheus's text format with the labels the collector gives every series
(``stack``, ``service``, ``slot``; components/collector_config.py), and makes traffic as the
test tells it.

``http_requests_total{stack, service, slot, code}`` counts requests (``code="500"`` for the
error share) and ``http_request_duration_seconds{stack, service, slot}`` is their latency
histogram, every request observed at the slot's latency. A background thread advances both
continuously.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# The stack the series belong to: release_world's default stack.
STACK = "dev"


@dataclass(frozen=True)
class Traffic:
    requests_per_second: float = 50.0
    error_ratio: float = 0.0
    latency_seconds: float = 0.05
    # False stops new requests; the slot's series stay, frozen, as a scaled-down pod's would.
    serving: bool = True


@dataclass
class _Counts:
    ok: float = 0.0
    errors: float = 0.0
    latency_sum: float = 0.0
    # Observations per bucket upper bound (not cumulative), +Inf as None.
    by_bucket: dict[float | None, float] = field(default_factory=dict)

    def observe(self, requests: float, traffic: Traffic) -> None:
        errors = requests * traffic.error_ratio
        self.ok += requests - errors
        self.errors += errors
        self.latency_sum += requests * traffic.latency_seconds
        bucket = next((le for le in BUCKETS if traffic.latency_seconds <= le), None)
        self.by_bucket[bucket] = self.by_bucket.get(bucket, 0.0) + requests


class MetricsExporter:
    """``with MetricsExporter() as exporter:`` serves on 127.0.0.1 at ``exporter.target``."""

    def __init__(self, tick_seconds: float = 0.1, stack: str = STACK) -> None:
        self._tick_seconds = tick_seconds
        self.stack = stack
        self._lock = threading.Lock()
        self._traffic: dict[tuple[str, str], Traffic] = {}
        self._counts: dict[tuple[str, str], _Counts] = {}
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []

    @property
    def target(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def set_traffic(
        self,
        service: str,
        slot: str,
        *,
        requests_per_second: float | None = None,
        error_ratio: float | None = None,
        latency_seconds: float | None = None,
        serving: bool | None = None,
    ) -> None:
        """Changes what the slot serves from now on; unnamed settings keep their value (a new
        slot starts from ``Traffic()``'s)."""
        changes: dict[str, Any] = {
            "requests_per_second": requests_per_second,
            "error_ratio": error_ratio,
            "latency_seconds": latency_seconds,
            "serving": serving,
        }
        with self._lock:
            current = self._traffic.get((service, slot), Traffic())
            updated = replace(current, **{k: v for k, v in changes.items() if v is not None})
            if not 0 <= updated.error_ratio <= 1:
                raise ValueError(f"error_ratio {updated.error_ratio}; allowed: 0 to 1")
            self._traffic[(service, slot)] = updated
            self._counts.setdefault((service, slot), _Counts())

    def stop_traffic(self, service: str, slot: str) -> None:
        self.set_traffic(service, slot, serving=False)

    def render(self) -> str:
        with self._lock:
            counts = {k: replace(c, by_bucket=dict(c.by_bucket)) for k, c in self._counts.items()}
        lines = [
            "# HELP http_requests_total Requests served, by status code.",
            "# TYPE http_requests_total counter",
        ]
        for (service, slot), c in sorted(counts.items()):
            labels = f'stack="{self.stack}",service="{service}",slot="{slot}"'
            lines.append(f'http_requests_total{{{labels},code="200"}} {c.ok!r}')
            lines.append(f'http_requests_total{{{labels},code="500"}} {c.errors!r}')
        lines += [
            "# HELP http_request_duration_seconds Request latency.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for (service, slot), c in sorted(counts.items()):
            labels = f'stack="{self.stack}",service="{service}",slot="{slot}"'
            observed = c.by_bucket
            cumulative = 0.0
            for le in BUCKETS:
                cumulative += observed.get(le, 0.0)
                lines.append(
                    f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {cumulative!r}'
                )
            total = cumulative + observed.get(None, 0.0)
            lines.append(f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total!r}')
            lines.append(f"http_request_duration_seconds_sum{{{labels}}} {c.latency_sum!r}")
            lines.append(f"http_request_duration_seconds_count{{{labels}}} {total!r}")
        return "\n".join(lines) + "\n"

    def start(self) -> MetricsExporter:
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._advance, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> MetricsExporter:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _advance(self) -> None:
        # Counts follow elapsed time, not ticks, so rates hold however the thread is scheduled.
        last = time.monotonic()
        while not self._stopping.wait(self._tick_seconds):
            now = time.monotonic()
            elapsed, last = now - last, now
            with self._lock:
                for key, traffic in self._traffic.items():
                    if traffic.serving:
                        self._counts[key].observe(traffic.requests_per_second * elapsed, traffic)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # Prometheus scrapes every second; the test output stays readable.

        return Handler
