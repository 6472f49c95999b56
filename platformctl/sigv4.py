"""AWS Signature Version 4 for httpx requests, by botocore's own signer: how the driver
queries the stack's Amazon Managed Prometheus workspace (service ``aps``) from wherever it
runs, with the default credential chain (a CI role, AWS_PROFILE on a laptop)."""

from __future__ import annotations

from collections.abc import Generator

import httpx
from botocore.auth import SigV4Auth as BotocoreSigV4
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AMP_SERVICE = "aps"
# What botocore adds and the request must carry for the signature to verify.
_SIGNING_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class SigV4Auth(httpx.Auth):
    requires_request_body = True

    def __init__(self, credentials: Credentials, region: str, service: str = AMP_SERVICE):
        self._credentials = credentials
        self._region = region
        self._service = service

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        # Only what httpx will send is signed; hop-by-hop headers would not verify.
        unsigned = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={"Host": request.url.netloc.decode("ascii"), **_content_headers(request)},
        )
        frozen = self._credentials.get_frozen_credentials()
        BotocoreSigV4(frozen, self._service, self._region).add_auth(unsigned)
        for name in _SIGNING_HEADERS:
            if name in unsigned.headers:
                request.headers[name] = unsigned.headers[name]
        yield request


def _content_headers(request: httpx.Request) -> dict[str, str]:
    return {name: request.headers[name] for name in ("Content-Type",) if name in request.headers}


def default_credentials() -> Credentials | None:
    """The default credential chain's credentials, or None when it finds none."""
    import boto3

    return boto3.session.Session().get_credentials()
