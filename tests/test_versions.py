"""Pinned versions stay true: every pin is one infra/settings/versions.yaml confirms (with its
source and date), built for the stack's Kubernetes minor, and the policy pack agrees with the
file on which Kubernetes versions are in standard support."""

from __future__ import annotations

import copy
import datetime

import pytest
import yaml

from infra.config import SettingsError, parse_settings
from infra.settings.cluster import ADDON_KEYS
from infra.settings.versions import VERSIONS_FILE, catalogue
from policies.rules.eks import supported_version
from tests.conftest import REPOSITORY, STACKS, preview


def stack_config(stack: str) -> dict:
    return yaml.safe_load((REPOSITORY / f"Pulumi.{stack}.yaml").read_text())["config"]


def problems(config: dict) -> list[str]:
    try:
        parse_settings(config, project="platform", stack="staging", source="x")
    except SettingsError as error:
        return [str(p) for p in error.problems]
    return []


def test_every_entry_says_where_and_when_it_was_confirmed():
    document = yaml.safe_load(VERSIONS_FILE.read_text())
    entries = [
        *document["kubernetes"],
        *(e for section in ("addons", "charts", "engines", "runtimes", "images")
          for v in document[section].values() for e in v),
    ]  # fmt: skip
    assert entries
    for entry in entries:
        assert entry["source"].strip(), entry
        assert isinstance(entry["confirmed"], datetime.date), entry
        assert entry["evidence"] in ("aws-docs", "artefact", "public-usage"), entry


@pytest.mark.parametrize("stack", STACKS)
def test_each_stack_pins_only_confirmed_versions_built_for_its_kubernetes(stack):
    config = stack_config(stack)
    cluster = config["platform:cluster"]
    versions = catalogue()
    for addon, key in ADDON_KEYS.items():
        entry = versions.entry("addons", addon, cluster["addons"][key])
        assert entry is not None, (stack, addon)
        assert cluster["kubernetesVersion"] in entry.kubernetes, (stack, addon)
    chart = versions.entry(
        "charts", "aws-load-balancer-controller", cluster["loadBalancerControllerChartVersion"]
    )
    assert chart is not None and chart.evidence == "artefact"
    database = config["platform:database"]["engineVersion"]
    assert versions.entry("engines", "aurora-postgresql", database) is not None
    collector = versions.entry(
        "charts", "prometheus", config["platform:observability"]["collectorChartVersion"]
    )
    assert collector is not None
    # Every Helm release the stack installs is the chart and version the file confirms.
    releases = preview(stack).of_type("kubernetes:helm.sh/v3:Release")
    installed = {r.inputs["chart"]: r.inputs["version"] for r in releases}
    assert installed == {
        "aws-load-balancer-controller": chart.version,
        "prometheus": collector.version,
    }


def test_an_addon_built_for_another_kubernetes_minor_is_refused_with_what_fits():
    config = stack_config("staging")
    cluster = copy.deepcopy(config["platform:cluster"])
    cluster["addons"]["kubeProxy"] = "v1.36.0-eksbuild.14"
    assert problems({**config, "platform:cluster": cluster}) == [
        'platform:cluster.addons.kubeProxy = "v1.36.0-eksbuild.14": this kube-proxy build is '
        "for Kubernetes 1.36, not the cluster's 1.35; allowed for 1.35: v1.35.3-eksbuild.13"
    ]


def test_moving_the_cluster_to_a_minor_with_no_confirmed_addon_names_each_addon():
    config = stack_config("staging")
    cluster = {**config["platform:cluster"], "kubernetesVersion": "1.36"}
    found = problems({**config, "platform:cluster": cluster})
    keys = sorted(p.split(" = ")[0] for p in found)
    # CoreDNS and the EBS CSI driver are confirmed for 1.36; the others are not (yet).
    assert keys == [
        "platform:cluster.addons.kubeProxy",
        "platform:cluster.addons.metricsServer",
        "platform:cluster.addons.vpcCni",
    ]
    [vpc_cni] = [p for p in found if "vpcCni" in p]
    assert vpc_cni.endswith("allowed for 1.36: none listed in infra/settings/versions.yaml")


@pytest.mark.parametrize(
    ("section", "key", "value", "allowed"),
    [
        ("platform:cluster", "loadBalancerControllerChartVersion", "3.6.0", "allowed: 3.5.0"),
        ("platform:database", "engineVersion", "16.6", "allowed: 16.8, 17.7"),
        ("platform:cache", "engineVersion", "7.0", "allowed: 7.1"),
        ("platform:cluster", "addons", "v1.20.4-eksbuild.1", "allowed: v1.21.1-eksbuild.7"),
    ],
)
def test_a_version_the_file_does_not_confirm_is_refused(section, key, value, allowed):
    config = stack_config("staging")
    changed = copy.deepcopy(config[section])
    if key == "addons":
        changed["addons"]["vpcCni"] = value
        key = "addons.vpcCni"
    else:
        changed[key] = value
    [problem] = problems({**config, section: changed})
    assert problem.startswith(f'{section}.{key} = "{value}": not a version of ')
    assert f"{allowed} (or add one there, with where and when you confirmed it)" in problem


def test_the_policy_packs_supported_kubernetes_versions_are_the_files():
    [parameter] = [p for p in supported_version.params if p.name == "supportedVersions"]
    assert parameter.default == list(catalogue().kubernetes_versions())
