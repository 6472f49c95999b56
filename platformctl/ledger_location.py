"""Where the ledger lives: S3 beside the Pulumi state when the state is in S3 (every machine
that can deploy the stack reaches it), files beside a local state otherwise; and the Pulumi
backend's own stack locks, so a lock left by a lost `up` is named, never removed silently."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from platformctl.blob_store import S3_CLIENT_CONFIG, BlobStore, FileStore, S3Store
from platformctl.ports import DeployError

LEDGER_URL_ENV = "PLATFORM_LEDGER_URL"
# Beside Pulumi's own `.pulumi/` in the state bucket.
DEFAULT_S3_PREFIX = "platform-ledger"

S3ClientFactory = Callable[[str | None, str | None], Any]


def s3_client(region: str | None, endpoint: str | None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session(region_name=region).client(
        "s3", endpoint_url=endpoint, config=Config(**S3_CLIENT_CONFIG)
    )


def ledger_store(
    project_dir: Path,
    backend_url: str | None,
    environ: Mapping[str, str],
    client_for: S3ClientFactory = s3_client,
) -> BlobStore:
    """``PLATFORM_LEDGER_URL`` (s3://bucket/prefix or file:///path) when set; else S3 in
    the state bucket for an s3:// backend, files beside a file:// backend's state, or the
    project's own .pulumi-state when no backend is set."""
    explicit = environ.get(LEDGER_URL_ENV, "").strip()
    if explicit:
        return _store(explicit, LEDGER_URL_ENV, "", client_for)
    if backend_url and backend_url.startswith("s3://"):
        return _store(backend_url, "PULUMI_BACKEND_URL", DEFAULT_S3_PREFIX, client_for)
    if backend_url and backend_url.startswith("file://"):
        return FileStore(Path(backend_url.removeprefix("file://")) / "releases")
    if backend_url:
        from platformctl.automation import shown_backend_url

        raise DeployError(
            f"the state backend {shown_backend_url(backend_url)} is neither S3 nor local files, "
            f"and the release ledger must be where every machine reaches it; set "
            f"{LEDGER_URL_ENV} to s3://bucket/prefix (a bucket your CI and your laptop share)"
        )
    return FileStore(project_dir / ".pulumi-state" / "releases")


def backend_store(
    backend_url: str | None, project_dir: Path, client_for: S3ClientFactory = s3_client
) -> BlobStore:
    """The Pulumi state itself, read only to find stack locks."""
    if backend_url and backend_url.startswith("s3://"):
        return _store(backend_url, "PULUMI_BACKEND_URL", "", client_for)
    if backend_url and backend_url.startswith("file://"):
        return FileStore(Path(backend_url.removeprefix("file://")))
    return FileStore(project_dir / ".pulumi-state")


def _store(url: str, key: str, under: str, client_for: S3ClientFactory) -> BlobStore:
    parts = urlsplit(url)
    if parts.scheme == "file" and key == LEDGER_URL_ENV:
        return FileStore(Path(parts.path))
    if parts.scheme != "s3" or not parts.netloc:
        raise DeployError(
            f"{key} = {url!r}: not a ledger location; allowed: s3://bucket/prefix (optionally "
            "?region=…&endpoint=…) or file:///absolute/path"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    prefix = "/".join(p for p in (parts.path.strip("/"), under) if p)
    return S3Store(parts.netloc, prefix, client_for(query.get("region"), query.get("endpoint")))


@dataclass(frozen=True)
class PulumiLock:
    """A lock file of Pulumi's self-managed backend: `.pulumi/locks/<stack>/<id>.json`
    (pulumi/pulumi pkg/backend/diy/lock.go), holding who took it."""

    url: str
    holder: str

    def advice(self, stack: str) -> str:
        return (
            f"Pulumi's lock {self.url} ({self.holder}) is still there; if no `up` of {stack} "
            f"is running anywhere, clear it with `pulumi cancel --yes --stack {stack}`, "
            "then run this again"
        )


def pulumi_locks(store: BlobStore, project: str, stack: str) -> list[PulumiLock]:
    locks: list[PulumiLock] = []
    for key in store.keys(".pulumi/locks/"):
        scope = key.removeprefix(".pulumi/locks/").rsplit("/", 1)[0]
        if scope not in (stack, f"organization/{project}/{stack}"):
            continue
        blob = store.get(key)
        try:
            content = json.loads(blob.data) if blob else {}
        except ValueError:
            content = {}
        holder = (
            f"{content.get('username', '?')}@{content.get('hostname', '?')} pid "
            f"{content.get('pid', '?')} at {content.get('timestamp', '?')}"
        )
        locks.append(PulumiLock(f"{store.location.rstrip('/')}/{key}", holder))
    return locks
