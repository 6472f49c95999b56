"""S3 for the ledger's tests: moto in server mode on loopback, reached over HTTP by boto3
exactly as platformctl reaches AWS (conditional writes included), from this process and from
subprocesses alike."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import boto3

# moto accepts any credentials; boto3 only needs some to sign with.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@contextlib.contextmanager
def moto_s3(port: int = 0) -> Iterator[str]:
    """A moto server on 127.0.0.1; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.stop()


def new_bucket(endpoint: str) -> str:
    bucket = f"ledger-{secrets.token_hex(4)}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    client.create_bucket(Bucket=bucket)
    return bucket


def s3_ledger_url(endpoint: str, bucket: str, prefix: str = "team/platform-ledger") -> str:
    return f"s3://{bucket}/{prefix}?region=us-east-1&endpoint={endpoint}"
