"""Where the release ledger keeps its objects: a directory on this machine, or S3 beside the
Pulumi state. One small interface (read, conditional write, list), two implementations, so
the ledger above it is the same code and the same tests on both.

Writes are conditional, as S3 offers them: ``create_only`` is ``If-None-Match: *`` (the key
must not exist), ``if_match`` is ``If-Match: <ETag>`` (the key must still hold what the
writer read). A failed condition is :class:`Conflict`: another writer came first. That is
what makes the lease and the fencing work without a lock server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from platformctl.ports import DeployError


class StopDriving(DeployError):
    """This process must stop acting on the stack at once: another machine holds it now, or
    the ledger cannot be reached (nothing may change that is not recorded first). Never a
    step failure: nothing is rolled back by a process that no longer owns the release."""


class Conflict(StopDriving):
    """A conditional write lost: the object changed since it was read."""


class StoreUnavailable(StopDriving):
    """The store did not answer (network, permissions, a missing bucket)."""


@dataclass(frozen=True)
class Blob:
    data: bytes
    etag: str


class BlobStore(Protocol):
    @property
    def location(self) -> str:
        """Where the objects are, as a person would type it (s3://bucket/prefix, a path)."""
        ...

    def get(self, key: str) -> Blob | None: ...

    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, create_only: bool = False
    ) -> str:
        """Writes ``data``; returns the new ETag. Raises :class:`Conflict` when a condition
        fails."""
        ...

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``, sorted."""
        ...

    def children(self, prefix: str) -> list[str]:
        """The names one level below ``prefix`` (folders and objects), sorted."""
        ...


def _etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class FileStore:
    """Objects as files under a directory. Conditional writes hold an OS lock on the
    directory for the compare and the rename, so processes on this machine race exactly as
    S3 clients do; each write is atomic (write, fsync, rename)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    @property
    def location(self) -> str:
        return str(self.directory)

    def _path(self, key: str) -> Path:
        return self.directory / key

    def get(self, key: str) -> Blob | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return Blob(data, _etag(data))

    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, create_only: bool = False
    ) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._exclusive():
            current = self.get(key)
            if create_only and current is not None:
                raise Conflict(f"{self.location}/{key} exists already")
            if if_match is not None and (current is None or current.etag != if_match):
                raise Conflict(f"{self.location}/{key} changed since it was read")
            partial = path.with_name(path.name + ".partial")
            with partial.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, path)
        return _etag(data)

    def keys(self, prefix: str) -> list[str]:
        if not self.directory.is_dir():
            return []
        found = (
            p.relative_to(self.directory).as_posix()
            for p in self.directory.rglob("*")
            if p.is_file() and not p.name.endswith((".partial", ".cas-lock"))
        )
        return sorted(k for k in found if k.startswith(prefix))

    def children(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / ".cas-lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


# A ledger call that hangs would hold a release in a step; a few seconds, then a clear stop.
S3_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 3,
    "read_timeout": 10,
    "retries": {"mode": "standard", "total_max_attempts": 3},
}
# What S3 answers when a condition fails: 412, or 409 when two conditional writes to one key
# overlap (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
_LOST_RACE = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


class S3Store:
    def __init__(self, bucket: str, prefix: str, client: Any):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client = client

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def get(self, key: str) -> Blob | None:
        with self._answered(key, "read"):
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            except self._client.exceptions.NoSuchKey:
                return None
            return Blob(response["Body"].read(), response["ETag"])

    def put(
        self, key: str, data: bytes, *, if_match: str | None = None, create_only: bool = False
    ) -> str:
        conditions: dict[str, str] = {}
        if create_only:
            conditions["IfNoneMatch"] = "*"
        if if_match is not None:
            conditions["IfMatch"] = if_match
        with self._answered(key, "write"):
            response = self._client.put_object(
                Bucket=self.bucket, Key=self.prefix + key, Body=data, **conditions
            )
            return str(response["ETag"])

    def keys(self, prefix: str) -> list[str]:
        found: list[str] = []
        with self._answered(prefix, "list"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix
            )
            for page in pages:
                found += [o["Key"][len(self.prefix) :] for o in page.get("Contents", [])]
        return sorted(found)

    def children(self, prefix: str) -> list[str]:
        names: set[str] = set()
        with self._answered(prefix, "list"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix + prefix, Delimiter="/"
            )
            for page in pages:
                start = len(self.prefix + prefix)
                names |= {c["Prefix"][start:].rstrip("/") for c in page.get("CommonPrefixes", [])}
                names |= {o["Key"][start:] for o in page.get("Contents", [])}
        return sorted(names)

    @contextlib.contextmanager
    def _answered(self, key: str, action: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        key = key or "its top level"
        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _LOST_RACE or (action == "write" and code == "NoSuchKey"):
                raise Conflict(f"{self.location}{key} changed since it was read") from None
            raise StoreUnavailable(
                f"the release ledger at {self.location} refused to {action} {key} ({code}: "
                f"{error.response.get('Error', {}).get('Message', '')})"
            ) from None
        except BotoCoreError as error:
            raise StoreUnavailable(
                f"the release ledger at {self.location} could not be reached to {action} "
                f"{key} ({error})"
            ) from None
