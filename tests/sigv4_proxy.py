"""A stand-in for the Amazon Managed Prometheus query endpoint on loopback: it verifies each
request's SigV4 signature with botocore and fixed test credentials, refuses an unsigned or a
badly signed request (and every request once ``deny`` is set, as a role without
aps:QueryMetrics is refused), and forwards the rest to a real Prometheus.

``with SigV4Proxy(prometheus_url) as proxy:`` serves ``proxy.workspace_url``, an AMP-shaped
``.../workspaces/<id>/`` endpoint.
"""

from __future__ import annotations

import hmac
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
WORKSPACE = "ws-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def verify(method: str, url: str, headers: dict[str, str], body: bytes) -> str | None:
    """Why the request's signature does not hold, or None when it does."""
    authorization = headers.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 "):
        return "Missing Authentication Token"
    fields = dict(
        part.strip().split("=", 1)
        for part in authorization.removeprefix("AWS4-HMAC-SHA256 ").split(",")
    )
    scope = fields.get("Credential", "").split("/")
    if len(scope) != 5 or scope[0] != ACCESS_KEY or scope[2:] != [REGION, "aps", "aws4_request"]:
        return "The security token included in the request is invalid"
    signed = fields.get("SignedHeaders", "").split(";")
    rebuilt = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={name: headers[name] for name in signed if name in headers},
    )
    rebuilt.context["timestamp"] = headers.get("x-amz-date", "")
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "aps", REGION)
    expected = signer.signature(
        signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt
    )
    if not hmac.compare_digest(expected, fields.get("Signature", "")):
        return "The request signature we calculated does not match the signature you provided"
    return None


class SigV4Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.deny = False
        self.refused: list[str] = []
        self.forwarded = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def workspace_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/workspaces/{WORKSPACE}/"

    def __enter__(self) -> SigV4Proxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                url = f"http://{headers.get('host', '')}{self.path}"
                problem = verify(self.command, url, headers, body)
                if problem is None and proxy.deny:
                    problem = (
                        "User: arn:aws:sts::123456789012:assumed-role/ci/release is not "
                        "authorized to perform: aps:QueryMetrics"
                    )
                if problem is not None:
                    proxy.refused.append(problem)
                    self._answer(403, f'{{"message": "{problem}"}}'.encode())
                    return
                prefix = f"/workspaces/{WORKSPACE}"
                if not self.path.startswith(prefix + "/api/v1/"):
                    self._answer(404, b'{"message": "not found"}')
                    return
                forwarded = httpx.request(
                    self.command,
                    proxy.upstream + self.path.removeprefix(prefix),
                    content=body,
                    headers={"Content-Type": headers.get("content-type", "")} if body else {},
                    timeout=10,
                )
                proxy.forwarded += 1
                self._answer(forwarded.status_code, forwarded.content)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler
