"""Stack settings: the shipped stacks parse, and each kind of bad input gets a clear message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import SettingsError, parse_settings
from offline_preview.engine import ProgramError, run_preview
from platform_common.aws_types import _module_source, _tag_map_annotation, takes_tag_map
from platformctl.world import settings_from_stack_file
from tests.conftest import REPOSITORY, STACKS, preview

BASE: dict[str, Any] = {
    "aws:region": "us-east-1",
    "platform:environment": "staging",
    "platform:owner": "platform-team",
    "platform:costCenter": "cc-1",
    "platform:network": {"cidr": "10.0.0.0/16", "availabilityZoneCount": 3},
    "platform:database": {
        "engineVersion": "16.8",
        "instanceClass": "db.r7g.large",
        "instanceCount": 2,
        "backupRetentionDays": 14,
    },
    "platform:cache": {"nodeType": "cache.t4g.small", "nodeCount": 2, "snapshotRetentionDays": 7},
    "platform:registry": {"repositories": ["chat-api"]},
    "platform:cluster": {
        "kubernetesVersion": "1.35",
        "privateAccessCidrs": ["10.0.0.0/16"],
        "nodeGroups": [
            {
                "name": "general",
                "instanceTypes": ["m7g.large"],
                "minSize": 2,
                "desiredSize": 2,
                "maxSize": 4,
            }
        ],
        "addons": {
            "vpcCni": "v1.21.1-eksbuild.7",
            "coredns": "v1.14.3-eksbuild.3",
            "kubeProxy": "v1.35.3-eksbuild.13",
            "awsEbsCsiDriver": "v1.66.0-eksbuild.1",
            "metricsServer": "v0.9.0-eksbuild.5",
        },
        "loadBalancerControllerChartVersion": "3.5.0",
    },
    "platform:observability": {"collectorChartVersion": "29.27.0"},
    # As prod requires: the base turns into prod by its environment alone.
    "platform:backup": {
        "plan": "standard",
        "plans": {
            "standard": [{"name": "daily", "schedule": "cron(0 5 * * ? *)", "retentionDays": 14}]
        },
        "copyRegion": "us-west-2",
        "vaultLock": {"mode": "compliance", "minRetentionDays": 7, "maxRetentionDays": 400},
    },
    "platform:app": {
        "host": "chat.example.com",
        "previewHost": "preview.chat.example.com",
        "previewAllowedCidrs": ["198.51.100.0/24"],
        "certificateArn": (
            "arn:aws:acm:us-east-1:123456789012:certificate/0e6f1c2a-7b1d-4c55-9a0e-2f9d8c7b6a51"
        ),
        "services": [
            {
                "name": "chat-api",
                "repository": "chat-api",
                "port": 8080,
                "release": {"live": "blue", "blue": {"image": "1.4.2"}},
            }
        ],
    },
}


def settings_with(**changes: Any) -> dict[str, Any]:
    config = json.loads(json.dumps(BASE))
    for key, value in changes.items():
        full_key = key.replace("__", ":")
        if value is None:
            config.pop(full_key, None)
        else:
            config[full_key] = value
    return config


def network_with(**changes: Any) -> dict[str, Any]:
    return {**BASE["platform:network"], **changes}


def problems_for(config: dict[str, Any], stack: str = "staging") -> list[str]:
    with pytest.raises(SettingsError) as error:
        parse_settings(config, project="platform", stack=stack, source=f"Pulumi.{stack}.yaml")
    return [str(p) for p in error.value.problems]


@pytest.mark.parametrize("stack", STACKS)
def test_each_shipped_stack_file_is_valid(stack):
    settings = settings_from_stack_file(REPOSITORY, stack)
    assert settings.stack == stack
    assert settings.platform.environment == stack


def test_profiles_differ_as_the_environments_demand():
    dev, staging, prod = (settings_from_stack_file(REPOSITORY, s) for s in STACKS)
    assert dev.platform.network.availability_zone_count == 2
    assert dev.platform.network.nat_gateways == "single"
    assert staging.platform.network.availability_zone_count == 3
    assert prod.platform.network.availability_zone_count == 3
    assert staging.platform.network.nat_gateways == prod.platform.network.nat_gateways == "perAz"
    assert dev.platform.log_retention_days < staging.platform.log_retention_days
    assert staging.platform.log_retention_days < prod.platform.log_retention_days
    assert prod.platform.protect_resources and not dev.platform.protect_resources


def test_config_as_the_cli_passes_it_parses_like_typed_yaml():
    as_strings = {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in BASE.items()}
    as_strings["platform:protectResources"] = "false"
    as_strings["platform:logRetentionDays"] = "30"
    typed = parse_settings(
        {**BASE, "platform:protectResources": False, "platform:logRetentionDays": 30},
        project="platform",
        stack="staging",
        source="x",
    )
    from_cli = parse_settings(as_strings, project="platform", stack="staging", source="x")
    assert from_cli == typed


def test_public_vpc_cidr_is_rejected_naming_key_value_and_allowed_ranges():
    [problem] = problems_for(settings_with(platform__network=network_with(cidr="8.8.0.0/16")))
    assert problem.startswith('platform:network.cidr = "8.8.0.0/16"')
    assert "not a private range" in problem
    assert "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16" in problem


def test_vpc_too_small_for_the_subnets_is_rejected():
    [problem] = problems_for(settings_with(platform__network=network_with(cidr="10.0.0.0/20")))
    assert problem.startswith("platform:network.subnetPrefixLengths")
    assert "10.0.0.0/20" in problem and "too small" in problem and "/18 or larger" in problem


def test_overlapping_explicit_subnet_plan_is_rejected():
    subnet_cidrs = {
        "public": ["10.0.0.0/24", "10.0.1.0/24"],
        "private": ["10.0.0.0/20", "10.0.16.0/20"],
        "isolated": ["10.0.40.0/24", "10.0.41.0/24"],
    }
    network = network_with(availabilityZoneCount=2, subnetCidrs=subnet_cidrs)
    [problem] = problems_for(settings_with(platform__network=network))
    assert problem.startswith("platform:network.subnetCidrs")
    assert "overlaps" in problem and "allowed: disjoint CIDRs" in problem


def test_fewer_than_two_zones_is_rejected():
    [problem] = problems_for(settings_with(platform__network=network_with(availabilityZoneCount=1)))
    assert problem.startswith("platform:network.availabilityZoneCount = 1")
    assert "allowed: 2 or more" in problem


def test_more_zones_than_the_region_offers_is_rejected():
    app = {
        **BASE["platform:app"],
        "certificateArn": BASE["platform:app"]["certificateArn"].replace("us-east-1", "us-west-1"),
    }
    config = settings_with(aws__region="us-west-1", platform__app=app)
    [problem] = problems_for(config)
    assert problem.startswith("platform:network.availabilityZoneCount = 3")
    assert "us-west-1 offers 2 availability zones; allowed: 2 to 2" in problem


def test_prod_with_a_single_nat_gateway_is_rejected_unless_explicitly_allowed():
    base = settings_with(
        platform__environment="prod",
        platform__logRetentionDays=365,
        platform__network=network_with(natGateways="single"),
    )
    [problem] = problems_for(base, stack="prod")
    assert problem.startswith('platform:network.natGateways = "single"')
    assert "allowSingleNatGateway: true" in problem
    allowed = settings_with(
        platform__environment="prod",
        platform__logRetentionDays=365,
        platform__network=network_with(natGateways="single", allowSingleNatGateway=True),
    )
    settings = parse_settings(allowed, project="platform", stack="prod", source="x")
    assert settings.platform.network.nat_gateways == "single"


def test_single_nat_gateway_is_fine_outside_prod():
    config = settings_with(platform__network=network_with(natGateways="single"))
    settings = parse_settings(config, project="platform", stack="staging", source="x")
    assert settings.platform.network.nat_gateways == "single"


def test_unknown_top_level_key_is_rejected_with_a_suggestion():
    config = settings_with(platform__costCentre="cc-1")
    [problem] = problems_for(config)
    assert problem.startswith('platform:costCentre = "cc-1": unknown key')
    assert "did you mean 'costCenter'?" in problem


def test_unknown_nested_key_is_rejected_with_the_allowed_keys():
    network = network_with(availabilityZoneCuont=2)
    [problem] = problems_for(settings_with(platform__network=network))
    assert problem.startswith("platform:network.availabilityZoneCuont = 2: unknown key")
    assert "did you mean 'availabilityZoneCount'?" in problem
    assert "natGateways" in problem  # the allowed keys are listed


def test_wrong_types_are_rejected():
    problems = problems_for(
        settings_with(
            platform__protectResources="sometimes",
            platform__network=network_with(availabilityZoneCount="three"),
        )
    )
    assert any(p.startswith('platform:protectResources = "sometimes"') for p in problems)
    assert any(p.startswith('platform:network.availabilityZoneCount = "three"') for p in problems)


def test_unknown_environment_lists_the_allowed_ones():
    [problem] = problems_for(settings_with(platform__environment="qa"))
    assert problem.startswith('platform:environment = "qa"')
    assert "'dev', 'staging' or 'prod'" in problem


def test_missing_required_keys_are_named():
    problems = problems_for(settings_with(platform__owner=None, aws__region=None))
    assert "platform:owner: required key is missing" in problems
    assert any(p.startswith("aws:region: required key is missing") for p in problems)


def test_retention_that_cloudwatch_does_not_accept_is_rejected():
    [problem] = problems_for(settings_with(platform__logRetentionDays=10))
    assert problem.startswith("platform:logRetentionDays = 10")
    assert "allowed (CloudWatch Logs): 1, 3, 5, 7, 14" in problem


def test_prod_demands_protection_and_a_year_of_logs():
    config = settings_with(
        platform__environment="prod",
        platform__protectResources=False,
        platform__logRetentionDays=90,
    )
    problems = problems_for(config, stack="prod")
    assert any(p.startswith("platform:protectResources = false") for p in problems)
    assert any(p.startswith("platform:logRetentionDays = 90") for p in problems)


def test_every_problem_is_reported_at_once_with_the_stack_and_file():
    config = settings_with(
        platform__environment="qa",
        platform__network=network_with(cidr="8.8.0.0/16", availabilityZoneCount=1),
    )
    with pytest.raises(SettingsError) as error:
        parse_settings(config, project="platform", stack="qa", source="Pulumi.qa.yaml")
    message = str(error.value)
    assert message.startswith("stack 'qa' has 3 invalid settings (Pulumi.qa.yaml):")
    assert len(error.value.problems) == 3


def test_invalid_settings_register_nothing_but_the_stack():
    with pytest.raises(ProgramError) as error:
        run_preview(
            REPOSITORY,
            "dev",
            config_overrides={"platform:network": {"cidr": "8.8.0.0/16"}},
        )
    assert "platform:network.cidr" in str(error.value)
    assert [r.type for r in error.value.registered] == ["pulumi:pulumi:Stack"]


def test_a_platform_setting_stored_as_a_secret_is_refused_without_showing_it():
    config = settings_with(platform__owner="s3cr3t-value")
    with pytest.raises(SettingsError) as error:
        parse_settings(
            config,
            project="platform",
            stack="staging",
            source="x",
            secret_keys=frozenset({"platform:owner"}),
        )
    [problem] = [str(p) for p in error.value.problems]
    assert problem.startswith('platform:owner = "[secret]": set as a secret')
    assert "without --secret" in problem
    assert "s3cr3t" not in str(error.value)


def test_a_yes_no_value_is_not_taken_as_a_number():
    [problem] = problems_for(
        settings_with(platform__network=network_with(availabilityZoneCount=True))
    )
    assert problem.startswith("platform:network.availabilityZoneCount = true")
    assert "not a number" in problem


def test_extra_tags_may_not_redefine_standard_tags_and_bad_ones_are_named():
    [problem] = problems_for(settings_with(platform__tags={"owner": "someone-else"}))
    assert "tag key 'owner' is a standard tag" in problem
    [problem] = problems_for(settings_with(platform__tags={"team": ""}))
    assert "value of tag 'team'" in problem


def test_an_empty_value_in_the_stack_file_counts_as_missing(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: platform\nruntime: python\n")
    (tmp_path / "__main__.py").write_text("")
    stack_file = (REPOSITORY / "Pulumi.dev.yaml").read_text()
    (tmp_path / "Pulumi.dev.yaml").write_text(
        stack_file.replace("platform:owner: platform-team", "platform:owner:")
    )
    with pytest.raises(SettingsError, match="platform:owner: required key is missing"):
        settings_from_stack_file(tmp_path, "dev")


def test_an_unknown_region_stored_as_a_secret_is_not_shown():
    with pytest.raises(SettingsError) as error:
        parse_settings(
            settings_with(aws__region="eu-secret-9"),
            project="platform",
            stack="staging",
            source="x",
            secret_keys=frozenset({"aws:region"}),
        )
    assert 'aws:region = "[secret]": unknown region' in str(error.value)
    assert "eu-secret-9" not in str(error.value)


def test_tag_maps_read_from_source_agree_with_the_installed_classes():
    types = {
        r.type for stack in STACKS for r in preview(stack).resources if r.type.startswith("aws:")
    }
    types |= {"aws:autoscaling/group:Group", "aws:s3/bucketPolicy:BucketPolicy"}
    for type_token in sorted(types):
        assert _module_source(type_token) is not None, type_token
        assert takes_tag_map(type_token) == _tag_map_annotation(type_token), type_token
    assert not takes_tag_map("aws:autoscaling/group:Group")  # a list of tags, not a map
    assert takes_tag_map("aws:ec2/vpc:Vpc")
