"""Shared fixtures: offline previews of the shipped stacks, built once per test session."""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline_preview.engine import PreviewResult, run_preview
from tests.http_recorder import (  # noqa: F401  (fixtures: a recording HTTP server, a dead port)
    dead_url,
    server,
)
from tests.prometheus_server import prometheus  # noqa: F401  (session fixture: a real Prometheus)

REPOSITORY = Path(__file__).resolve().parents[1]
STACKS = ("dev", "staging", "prod")


@functools.cache
def _cached_preview(stack: str, unknowns: bool) -> PreviewResult:
    return run_preview(REPOSITORY, stack, unknowns=unknowns)


def preview(stack: str, *, unknowns: bool = False, **overrides: Any) -> PreviewResult:
    """The stack's offline preview; ``overrides`` replace config keys (``platform:x`` form
    given as ``platform__x``) and are never cached."""
    if not overrides:
        return _cached_preview(stack, unknowns)
    config = {key.replace("__", ":"): value for key, value in overrides.items()}
    return run_preview(REPOSITORY, stack, unknowns=unknowns, config_overrides=config)


@pytest.fixture(params=STACKS)
def stack_preview(request: pytest.FixtureRequest) -> PreviewResult:
    return preview(request.param)


def key_arn(result: PreviewResult, purpose: str) -> str:
    """The ARN the mocks give the stack's KMS key for ``purpose``."""
    key = result.named(f"keys-{purpose}")
    return f"arn:aws:kms:{result.region}:123456789012:key/{key.id}"


def subnet_ids(result: PreviewResult, tier: str) -> list[str]:
    """Sorted ids of the stack's subnets of one tier (public, private, isolated)."""
    return sorted(
        s.id for s in result.of_type("aws:ec2/subnet:Subnet") if s.inputs["tags"]["tier"] == tier
    )


def stack_setting(stack: str, key: str) -> Any:
    """A copy of one key of a shipped stack file, to change and pass as an override."""
    document = yaml.safe_load((REPOSITORY / f"Pulumi.{stack}.yaml").read_text())
    return copy.deepcopy(document["config"][key])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """One loopback moto S3 server for the session (each test takes its own bucket)."""
    from tests.s3_ledger import S3_ENV, moto_s3

    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    try:
        with moto_s3() as endpoint:
            yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(params=["files", "s3"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same ledger tests on both stores: local files, and S3 on loopback."""
    if request.param == "files":
        return f"file://{tmp_path}/ledger"
    from tests.s3_ledger import new_bucket, s3_ledger_url

    endpoint = request.getfixturevalue("s3_endpoint")
    return s3_ledger_url(endpoint, new_bucket(endpoint))
