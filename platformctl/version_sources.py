"""Where ``platformctl versions`` asks: the EKS, RDS and ElastiCache APIs (boto3, the default
credential chain, the stack's region) and the chart repository's published index (httpx).

Each answer becomes an :class:`Offer`; a call that cannot be made becomes a
:class:`VersionSourceError` naming the call and what it needs, never a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx
import yaml
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from infra.settings.versions import catalogue
from platformctl.ports import DeployError
from platformctl.versions import Offer, Pin, VersionSourceError, newest

T = TypeVar("T")


def chart_index(chart: str) -> str:
    """The published index of the repository ``versions.yaml`` names for ``chart``."""
    return catalogue().chart_repository(chart).rstrip("/") + "/index.yaml"


class PublishedVersions:
    """A :class:`~platformctl.versions.VersionSource` over AWS's APIs and the chart index."""

    def __init__(self, *, eks: Any, rds: Any, elasticache: Any, http: httpx.Client):
        self._eks, self._rds, self._elasticache, self._http = eks, rds, elasticache, http
        self._indexes: dict[str, Mapping[str, Any]] = {}

    def offer(self, pin: Pin, kubernetes: str) -> Offer:
        ask: dict[str, Callable[[Pin, str], Offer]] = {
            "kubernetes": self._kubernetes,
            "addon": self._addon,
            "chart": self._chart,
            "aurora-postgresql": self._aurora,
            "redis": self._redis,
        }
        return ask[pin.kind](pin, kubernetes)

    # -- EKS ---------------------------------------------------------------------------

    def _kubernetes(self, pin: Pin, kubernetes: str) -> Offer:
        versions = _call(
            "eks:DescribeClusterVersions",
            lambda: list(
                _pages(self._eks, "describe_cluster_versions", "clusterVersions", includeAll=True)
            ),
        )
        by_version = {v["clusterVersion"]: v for v in versions}
        mine = by_version.get(pin.version)
        standard = [v for v, info in by_version.items() if _support(info) == "standard-support"]
        default = next((v for v, info in by_version.items() if info.get("defaultVersion")), None)
        if mine is None or _support(mine) == "unsupported":
            return Offer(False, default, newest(standard), "not offered for new clusters")
        ends = mine.get("endOfStandardSupportDate")
        note = f"standard support until {ends:%Y-%m-%d}" if ends else ""
        if _support(mine) == "extended-support":
            note = "in extended support (billed extra)"
        return Offer(True, default, newest(standard), note)

    def _addon(self, pin: Pin, kubernetes: str) -> Offer:
        addons = _call(
            "eks:DescribeAddonVersions",
            lambda: list(
                _pages(
                    self._eks,
                    "describe_addon_versions",
                    "addons",
                    addonName=pin.name,
                    kubernetesVersion=kubernetes,
                )
            ),
        )
        fitting: dict[str, bool] = {}  # version -> EKS's default for this minor
        for addon in addons:
            if addon.get("addonName") != pin.name:
                continue
            for version in addon.get("addonVersions", []):
                for compatibility in version.get("compatibilities", []):
                    if compatibility.get("clusterVersion") == kubernetes:
                        fitting[version["addonVersion"]] = bool(compatibility.get("defaultVersion"))
        default = next((v for v, is_default in fitting.items() if is_default), None)
        offered = pin.version in fitting
        note = "" if offered else f"not offered for Kubernetes {kubernetes}"
        return Offer(offered, default, newest(fitting), note)

    # -- the chart repository ----------------------------------------------------------

    def _chart(self, pin: Pin, kubernetes: str) -> Offer:
        index = chart_index(pin.name)
        entries = self._index(index).get(pin.name) or []
        published = [str(e["version"]) for e in entries if "-" not in str(e.get("version", "-"))]
        offered = pin.version in published
        app = next((e.get("appVersion") for e in entries if str(e["version"]) == pin.version), None)
        note = f"app {app}" if app else f"not in {index}"
        return Offer(offered, None, newest(published), note)

    def _index(self, index: str) -> Mapping[str, Any]:
        if index not in self._indexes:
            self._indexes[index] = self._read_index(index)
        return self._indexes[index]

    def _read_index(self, index: str) -> Mapping[str, Any]:
        try:
            response = self._http.get(index)
            response.raise_for_status()
        except httpx.HTTPError as error:
            raise VersionSourceError(f"could not read {index}: {error}") from None
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(response.text, Loader=loader)
        entries = document.get("entries") if isinstance(document, Mapping) else None
        if not isinstance(entries, Mapping):
            raise VersionSourceError(f"{index} has no chart entries")
        return entries

    # -- RDS and ElastiCache -------------------------------------------------------------

    def _aurora(self, pin: Pin, kubernetes: str) -> Offer:
        available = _call(
            "rds:DescribeDBEngineVersions",
            lambda: list(_pages(self._rds, "describe_db_engine_versions", "DBEngineVersions",
                                Engine=pin.name)),
        )  # fmt: skip
        defaults = _call(
            "rds:DescribeDBEngineVersions",
            lambda: self._rds.describe_db_engine_versions(Engine=pin.name, DefaultOnly=True),
        )["DBEngineVersions"]
        versions = [
            v["EngineVersion"] for v in available if v.get("Status", "available") == "available"
        ]
        major = pin.version.split(".")[0]
        same_major = [v for v in versions if v.split(".")[0] == major]
        offered = pin.version in versions
        note = "" if offered else "not offered for new clusters"
        default = defaults[0]["EngineVersion"] if defaults else None
        return Offer(offered, default, newest(same_major), note)

    def _redis(self, pin: Pin, kubernetes: str) -> Offer:
        listed = _call(
            "elasticache:DescribeCacheEngineVersions",
            lambda: list(_pages(self._elasticache, "describe_cache_engine_versions",
                                "CacheEngineVersions", Engine=pin.name)),
        )  # fmt: skip
        defaults = _call(
            "elasticache:DescribeCacheEngineVersions",
            lambda: self._elasticache.describe_cache_engine_versions(
                Engine=pin.name, DefaultOnly=True
            ),
        )["CacheEngineVersions"]
        family = {v["EngineVersion"]: v.get("CacheParameterGroupFamily") for v in listed}
        offered = pin.version in family
        same_family = [v for v, f in family.items() if offered and f == family[pin.version]]
        note = f"parameter family {family[pin.version]}" if offered else "not offered"
        default = defaults[0]["EngineVersion"] if defaults else None
        return Offer(offered, default, newest(same_family), note)


def _support(info: Mapping[str, Any]) -> str:
    """standard-support, extended-support or unsupported (versionStatus, or the older status)."""
    status = info.get("versionStatus")
    return str(status).lower().replace("_", "-") if status else str(info.get("status", ""))


def _pages(client: Any, operation: str, key: str, **arguments: Any) -> Iterator[Any]:
    for page in client.get_paginator(operation).paginate(**arguments):
        yield from page.get(key, [])


def _call(action: str, ask: Callable[[], T]) -> T:
    try:
        return ask()
    except NoCredentialsError:
        raise VersionSourceError(
            f"{action}: no AWS credentials (set AWS_PROFILE, or run where a role is assumed)"
        ) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        if "AccessDenied" in code or code in ("UnauthorizedOperation", "AuthFailure"):
            raise VersionSourceError(f"{action} was refused ({code}): allow {action}") from None
        message = error.response.get("Error", {}).get("Message", "")
        raise VersionSourceError(f"{action} failed ({code}): {message}") from None
    except BotoCoreError as error:
        raise VersionSourceError(f"{action} failed: {error}") from None


def published_versions(region: str) -> PublishedVersions:
    """The real sources, for the stack's region."""
    import boto3
    from botocore.config import Config

    from platformctl.aws_clients import AWS_CLIENT_CONFIG

    config = Config(**AWS_CLIENT_CONFIG)
    session = boto3.session.Session(region_name=region)
    if session.get_credentials() is None:
        raise DeployError(
            "no AWS credentials: versions asks the EKS, RDS and ElastiCache APIs; set "
            "AWS_PROFILE (or run where a role is assumed)"
        )
    return PublishedVersions(
        eks=session.client("eks", config=config),
        rds=session.client("rds", config=config),
        elasticache=session.client("elasticache", config=config),
        http=httpx.Client(timeout=30.0, follow_redirects=True),
    )
