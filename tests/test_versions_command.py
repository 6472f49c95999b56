"""``platformctl versions``: each pin of a stack against what AWS and the chart repository
answer. The AWS answers are recorded response shapes played through botocore's Stubber (moto
implements none of DescribeClusterVersions, DescribeAddonVersions, DescribeDBEngineVersions
or DescribeCacheEngineVersions), which checks each request and response against the
service's own model; the chart index is served by httpx.MockTransport."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import boto3
import httpx
import pytest
import yaml
from botocore.stub import Stubber

from infra.settings.cluster import ADDON_KEYS
from platformctl import cli
from platformctl.version_sources import PublishedVersions, chart_index
from platformctl.versions import VersionSource
from platformctl.wiring import RealWorld
from tests.conftest import REPOSITORY

PLATFORMCTL = str(REPOSITORY / ".venv" / "bin" / "platformctl")
STAGING = yaml.safe_load((REPOSITORY / "Pulumi.staging.yaml").read_text())["config"]
PINNED_ADDONS = {a: STAGING["platform:cluster"]["addons"][k] for a, k in ADDON_KEYS.items()}
NEWER_ADDONS = {
    "vpc-cni": "v1.23.2-eksbuild.1",
    "coredns": "v1.14.6-eksbuild.4",
    "kube-proxy": "v1.35.3-eksbuild.29",
    "aws-ebs-csi-driver": "v1.67.1-eksbuild.1",
    "metrics-server": "v0.9.0-eksbuild.11",
}


def _cluster_version(version: str, status: str, *, default: bool = False) -> dict:
    return {
        "clusterVersion": version,
        "clusterType": "eks",
        "defaultPlatformVersion": "eks.3",
        "defaultVersion": default,
        "releaseDate": datetime.datetime(2026, 1, 28),
        "endOfStandardSupportDate": datetime.datetime(2027, 3, 27),
        "status": status,
        "versionStatus": status.upper().replace("-", "_"),
        "kubernetesPatchVersion": f"{version}.3",
    }


def _addon(name: str, offered: list[tuple[str, bool]]) -> dict:
    return {
        "addons": [
            {
                "addonName": name,
                "type": "networking",
                "addonVersions": [
                    {
                        "addonVersion": version,
                        "architecture": ["amd64", "arm64"],
                        "compatibilities": [
                            {
                                "clusterVersion": "1.35",
                                "platformVersions": ["*"],
                                "defaultVersion": default,
                            },
                        ],
                        "requiresConfiguration": False,
                    }
                    for version, default in offered
                ],
            }
        ]
    }


def _engine(version: str, status: str = "available") -> dict:
    return {
        "Engine": "aurora-postgresql",
        "EngineVersion": version,
        "DBParameterGroupFamily": f"aurora-postgresql{version.split('.')[0]}",
        "Status": status,
        "SupportedEngineModes": ["provisioned"],
    }


def _redis(version: str) -> dict:
    return {"Engine": "redis", "EngineVersion": version, "CacheParameterGroupFamily": "redis7"}


COLLECTOR_VERSIONS = ("29.26.0", "29.27.0")


def _index(*versions: str, chart: str = "aws-load-balancer-controller") -> str:
    entries = [{"name": chart, "version": v, "appVersion": f"v{v}"} for v in versions]
    return yaml.safe_dump({"apiVersion": "v1", "entries": {chart: entries}})


def _indexes(*controller_versions: str) -> dict[str, str]:
    """Each chart repository's index: the load balancer controller's with the versions
    given, the collector's (prometheus-community) with its pin still published."""
    return {
        chart_index("aws-load-balancer-controller"): _index(*controller_versions),
        chart_index("prometheus"): _index(*COLLECTOR_VERSIONS, chart="prometheus"),
    }


class RecordedAws:
    """Stubbed EKS, RDS and ElastiCache clients with the answers a test queues, in the order
    the command asks, and the chart index behind a mock transport."""

    def __init__(self, indexes: dict[str, str]) -> None:
        def client(service: str):
            return boto3.client(
                service, region_name="us-east-1",
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )  # fmt: skip

        self.eks, self.rds, self.elasticache = client("eks"), client("rds"), client("elasticache")
        self.stubs = [Stubber(c) for c in (self.eks, self.rds, self.elasticache)]
        self.index_requests = 0

        def serve(request: httpx.Request) -> httpx.Response:
            self.index_requests += 1
            return httpx.Response(200, text=indexes[str(request.url)])

        self.http = httpx.Client(transport=httpx.MockTransport(serve))

    def source(self) -> VersionSource:
        for stub in self.stubs:
            stub.activate()
        return PublishedVersions(
            eks=self.eks, rds=self.rds, elasticache=self.elasticache, http=self.http
        )

    def answer_eks(self, addons: Mapping[str, list[tuple[str, bool]]]) -> None:
        eks = self.stubs[0]
        eks.add_response(
            "describe_cluster_versions",
            {
                "clusterVersions": [
                    _cluster_version("1.34", "extended-support"),
                    _cluster_version("1.35", "standard-support", default=True),
                    _cluster_version("1.36", "standard-support"),
                ]
            },
            {"includeAll": True},
        )
        for name in ADDON_KEYS:
            eks.add_response(
                "describe_addon_versions",
                _addon(name, addons[name]),
                {"addonName": name, "kubernetesVersion": "1.35"},
            )

    def answer_engines(self, aurora: list[str], redis: list[str]) -> None:
        rds, elasticache = self.stubs[1], self.stubs[2]
        rds.add_response(
            "describe_db_engine_versions",
            {"DBEngineVersions": [_engine(v) for v in aurora] + [_engine("16.6", "deprecated")]},
            {"Engine": "aurora-postgresql"},
        )
        rds.add_response(
            "describe_db_engine_versions",
            {"DBEngineVersions": [_engine("17.7")]},
            {"Engine": "aurora-postgresql", "DefaultOnly": True},
        )
        elasticache.add_response(
            "describe_cache_engine_versions",
            {"CacheEngineVersions": [_redis(v) for v in redis]},
            {"Engine": "redis"},
        )
        elasticache.add_response(
            "describe_cache_engine_versions",
            {"CacheEngineVersions": [_redis("7.1")]},
            {"Engine": "redis", "DefaultOnly": True},
        )

    def all_asked(self) -> None:
        for stub in self.stubs:
            stub.assert_no_pending_responses()


class RecordedWorld(RealWorld):
    def __init__(self, source: VersionSource) -> None:
        super().__init__(REPOSITORY, dict(os.environ), lambda _: None)
        self.source = source

    def version_source(self, region: str) -> VersionSource:
        assert region == "us-east-1"
        return self.source


def versions(aws: RecordedAws, *flags: str) -> int:
    args = argparse.Namespace(command="versions", stack="staging", json="--json" in flags,
                              project_dir=REPOSITORY)  # fmt: skip
    return cli.execute(args, cli.Output(args.json), RecordedWorld(aws.source()))


@pytest.fixture
def offered_today() -> Iterator[RecordedAws]:
    aws = RecordedAws(_indexes("3.4.3", "3.5.0", "3.6.0-rc.1"))
    aws.answer_eks(
        {name: [(PINNED_ADDONS[name], False), (NEWER_ADDONS[name], True)] for name in ADDON_KEYS}
    )
    aws.answer_engines(aurora=["16.8", "16.13", "17.7"], redis=["7.0", "7.1"])
    yield aws
    aws.all_asked()


def test_every_pin_still_offered_is_reported_with_its_default_and_newest(offered_today, capsys):
    assert versions(offered_today) == 0
    out = capsys.readouterr().out
    assert out.startswith("Pinned versions of staging (us-east-1, Kubernetes 1.35):")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert rows["platform:cluster.kubernetesVersion"][1:5] == ["1.35", "yes", "1.35", "1.36"]
    assert "standard support until 2027-03-27" in out
    assert rows["platform:cluster.addons.vpcCni"][1:5] == [
        "v1.21.1-eksbuild.7", "yes", "v1.23.2-eksbuild.1", "v1.23.2-eksbuild.1",
    ]  # fmt: skip
    # The newest published chart, not a release candidate.
    assert rows["platform:cluster.loadBalancerControllerChartVersion"][1:5] == [
        "3.5.0", "yes", "-", "3.5.0",
    ]  # fmt: skip
    # The newest minor of the pinned major, and RDS's default engine version.
    assert rows["platform:database.engineVersion"][1:5] == ["16.8", "yes", "17.7", "16.13"]
    assert rows["platform:cache.engineVersion"][1:5] == ["7.1", "yes", "7.1", "7.1"]
    assert rows["platform:observability.collectorChartVersion"][1:5] == [
        "29.27.0", "yes", "-", "29.27.0",
    ]  # fmt: skip
    # Each repository's index is read once, whatever the number of its charts' pins.
    assert offered_today.index_requests == 2


def test_json_holds_every_pin(offered_today, capsys):
    assert versions(offered_today, "--json") == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["stack"], document["kubernetesVersion"]) == ("staging", "1.35")
    assert document["notOffered"] == document["unanswered"] == []
    by_key = {pin["key"]: pin for pin in document["pins"]}
    assert len(by_key) == 10
    assert by_key["platform:cluster.addons.kubeProxy"] == {
        "key": "platform:cluster.addons.kubeProxy",
        "name": "kube-proxy",
        "pinned": "v1.35.3-eksbuild.13",
        "offered": True,
        "default": "v1.35.3-eksbuild.29",
        "latest": "v1.35.3-eksbuild.29",
        "note": "",
        "error": None,
    }


def test_a_pin_no_longer_offered_exits_1_naming_the_key(capsys):
    aws = RecordedAws(_indexes("3.4.3", "3.5.0"))
    offered = {name: [(NEWER_ADDONS[name], True)] for name in ADDON_KEYS}
    offered["coredns"].append((PINNED_ADDONS["coredns"], False))
    aws.answer_eks(offered)
    aws.answer_engines(aurora=["16.13", "17.7"], redis=["7.1"])
    assert versions(aws, "--json") == 1
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["notOffered"] == [
        "platform:cluster.addons.vpcCni",
        "platform:cluster.addons.kubeProxy",
        "platform:cluster.addons.awsEbsCsiDriver",
        "platform:cluster.addons.metricsServer",
        "platform:database.engineVersion",
    ]
    by_key = {pin["key"]: pin for pin in document["pins"]}
    assert by_key["platform:database.engineVersion"]["note"] == "not offered for new clusters"
    assert by_key["platform:database.engineVersion"]["latest"] == "16.13"
    assert "error: no longer offered: platform:cluster.addons.vpcCni v1.21.1-eksbuild.7" in (
        captured.err
    )
    aws.all_asked()


def test_a_refused_call_names_the_permission_and_exits_2(capsys):
    aws = RecordedAws(_indexes("3.5.0"))
    aws.stubs[0].add_client_error(
        "describe_cluster_versions", "AccessDeniedException", "not authorized",
        http_status_code=403, expected_params={"includeAll": True},
    )  # fmt: skip
    for name in ADDON_KEYS:
        aws.stubs[0].add_client_error(
            "describe_addon_versions", "AccessDeniedException", "not authorized",
            http_status_code=403,
            expected_params={"addonName": name, "kubernetesVersion": "1.35"},
        )  # fmt: skip
    aws.answer_engines(aurora=["16.8"], redis=["7.1"])
    assert versions(aws) == 2
    captured = capsys.readouterr()
    assert "eks:DescribeClusterVersions was refused (AccessDeniedException): allow " in (
        captured.out
    )
    assert "could not check 6 pin(s)" in captured.err
    assert "allow eks:DescribeAddonVersions" in captured.err
    aws.all_asked()


@pytest.mark.slow
def test_the_command_without_credentials_says_so_in_one_line_and_exits_2(tmp_path: Path):
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")} | {
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [PLATFORMCTL, "versions", "dev"], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "error: no AWS credentials: versions asks the EKS, RDS and ElastiCache APIs; set "
        "AWS_PROFILE (or run where a role is assumed)\n"
    )
