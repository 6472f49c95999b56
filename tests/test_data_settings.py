"""Database, cache, firewall and registry settings: each bad value is named with what AWS
allows, before anything is registered."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config import parse_settings
from infra.settings.windows import overlaps
from offline_preview.engine import ProgramError, run_preview
from tests.conftest import REPOSITORY
from tests.test_config import BASE, problems_for, settings_with


def database_with(**changes: Any) -> dict[str, Any]:
    return {**BASE["platform:database"], **changes}


def cache_with(**changes: Any) -> dict[str, Any]:
    return {**BASE["platform:cache"], **changes}


@pytest.mark.parametrize(
    "instance_class", ["db.r7g.large", "db.t4g.medium", "db.r6gd.xlarge", "db.x2g.16xlarge"]
)
def test_real_instance_classes_are_accepted(instance_class):
    config = settings_with(platform__database=database_with(instanceClass=instance_class))
    settings = parse_settings(config, project="platform", stack="staging", source="x")
    assert settings.platform.database.instance_class == instance_class


@pytest.mark.parametrize(
    "instance_class",
    ["r7g.large", "db.large", "db.r7g.huge", "DB.R7G.LARGE", "db.t4g.small", "db.m5.large"],
)
def test_an_instance_class_of_unknown_format_is_rejected(instance_class):
    [problem] = problems_for(
        settings_with(platform__database=database_with(instanceClass=instance_class))
    )
    assert problem.startswith(f'platform:database.instanceClass = "{instance_class}"')
    assert "allowed: db.serverless or db.<family>.<size> such as db.r7g.large" in problem
    assert "(t3 and t4g: medium or large)" in problem


@pytest.mark.parametrize(
    "node_type", ["t4g.micro", "cache.micro", "db.r7g.large", "cache.t1.micro"]
)
def test_a_cache_node_type_of_unknown_format_is_rejected(node_type):
    [problem] = problems_for(settings_with(platform__cache=cache_with(nodeType=node_type)))
    assert problem.startswith(f'platform:cache.nodeType = "{node_type}"')
    assert "cache.t4g.micro" in problem


@pytest.mark.parametrize("days", [0, 36])
def test_backup_retention_outside_one_to_35_days_is_rejected(days):
    [problem] = problems_for(
        settings_with(platform__database=database_with(backupRetentionDays=days))
    )
    assert problem == f"platform:database.backupRetentionDays = {days}: allowed: 1 to 35 days"


def test_prod_needs_two_database_instances_two_cache_nodes_and_two_weeks_of_backups():
    config = settings_with(
        platform__environment="prod",
        platform__logRetentionDays=365,
        platform__database=database_with(instanceCount=1, backupRetentionDays=7),
        platform__cache=cache_with(nodeCount=1),
    )
    problems = problems_for(config, stack="prod")
    keys = [p.split(" = ")[0] for p in problems]
    assert keys == [
        "platform:database.instanceCount",
        "platform:database.backupRetentionDays",
        "platform:cache.nodeCount",
    ]
    assert "allowed: 2 to 16" in problems[0]
    assert "allowed: 14 to 35" in problems[1]
    assert "allowed: 2 to 6" in problems[2]


def test_single_instances_are_fine_outside_prod():
    config = settings_with(
        platform__database=database_with(instanceCount=1, backupRetentionDays=1),
        platform__cache=cache_with(nodeCount=1, snapshotRetentionDays=0),
    )
    settings = parse_settings(config, project="platform", stack="staging", source="x")
    assert settings.platform.cache.node_count == 1


def test_prod_may_not_skip_the_final_snapshot():
    config = settings_with(
        platform__environment="prod",
        platform__logRetentionDays=365,
        platform__database=database_with(instanceCount=2, skipFinalSnapshot=True),
    )
    [problem] = problems_for(config, stack="prod")
    assert problem.startswith("platform:database.skipFinalSnapshot = true")


@pytest.mark.parametrize("limit", [9, 0, 2_000_000_001])
def test_a_rate_limit_outside_what_waf_accepts_is_rejected(limit):
    [problem] = problems_for(settings_with(platform__firewall={"rateLimit": limit}))
    assert problem.startswith(f"platform:firewall.rateLimit = {limit}")
    assert "allowed: 10 to 2000000000 requests per client IP per window" in problem


def test_an_inverted_serverless_range_is_rejected_with_both_values():
    database = database_with(
        instanceClass="db.serverless", serverless={"minCapacity": 8, "maxCapacity": 2}
    )
    [problem] = problems_for(settings_with(platform__database=database))
    assert problem.startswith("platform:database.serverless = ")
    assert "inverted (minCapacity 8 > maxCapacity 2)" in problem
    assert "allowed: minCapacity <= maxCapacity" in problem


def test_serverless_capacity_must_come_in_half_acus_within_aws_bounds():
    database = database_with(
        instanceClass="db.serverless", serverless={"minCapacity": 0.3, "maxCapacity": 300}
    )
    problems = problems_for(settings_with(platform__database=database))
    assert [p.split(" = ")[0] for p in problems] == [
        "platform:database.serverless.minCapacity",
        "platform:database.serverless.maxCapacity",
    ]
    assert all("allowed: 0 to 256 ACUs in steps of 0.5" in p for p in problems)


def test_serverless_class_and_capacity_go_together():
    [missing] = problems_for(
        settings_with(platform__database=database_with(instanceClass="db.serverless"))
    )
    assert "needs a capacity range" in missing
    [stray] = problems_for(
        settings_with(
            platform__database=database_with(serverless={"minCapacity": 1, "maxCapacity": 2})
        )
    )
    assert "serverless capacity is set but instanceClass is db.r7g.large" in stray


def test_overlapping_backup_and_maintenance_windows_are_rejected():
    database = database_with(backupWindow="04:00-05:00", maintenanceWindow="sun:04:30-sun:05:30")
    [problem] = problems_for(settings_with(platform__database=database))
    assert "backupWindow 04:00-05:00 overlaps maintenanceWindow sun:04:30-sun:05:30" in problem


@pytest.mark.parametrize(
    ("daily", "weekly", "expected"),
    [
        ("03:00-04:00", "sun:04:30-sun:05:30", False),
        ("03:00-04:00", "sun:04:00-sun:05:00", False),  # touching is not overlapping
        ("03:00-04:01", "sun:04:00-sun:05:00", True),
        ("23:30-00:30", "mon:00:00-mon:01:00", True),  # the daily window wraps midnight
        ("23:30-00:30", "sun:23:00-mon:00:10", True),  # the weekly window wraps the week
        ("12:00-13:00", "sun:23:00-mon:00:10", False),
        ("10:00-11:00", "wed:10:30-wed:11:30", True),  # any day counts
    ],
)
def test_window_overlap_handles_midnight_and_the_end_of_the_week(daily, weekly, expected):
    assert overlaps(daily, weekly) is expected


def test_windows_of_the_wrong_shape_or_too_short_are_rejected():
    cache = cache_with(snapshotWindow="5-6", maintenanceWindow="sun:06:30-sun:07:00")
    problems = problems_for(settings_with(platform__cache=cache))
    assert problems[0].startswith('platform:cache.snapshotWindow = "5-6": allowed: hh:mm-hh:mm')
    assert "lasts 30 minutes; allowed: 60 or more" in problems[1]


def test_firewall_lists_are_checked():
    problems = problems_for(
        settings_with(
            platform__firewall={
                "blockedCountries": ["de"],
                "allowedIpCidrs": ["0.0.0.0/0"],
                "managedRuleGroups": ["AWSManagedRulesMadeUp"],
            }
        )
    )
    text = "\n".join(problems)
    assert "platform:firewall.blockedCountries" in text and "ISO 3166" in text
    assert "platform:firewall.allowedIpCidrs" in text and "matches every client" in text
    assert "unknown rule group AWSManagedRulesMadeUp" in text


def test_count_only_rules_must_belong_to_a_group_in_use():
    [problem] = problems_for(
        settings_with(
            platform__firewall={
                "managedRuleGroups": ["AWSManagedRulesSQLiRuleSet"],
                "countOnlyRules": ["AWSManagedRulesCommonRuleSet:SizeRestrictions_BODY"],
            }
        )
    )
    assert "AWSManagedRulesCommonRuleSet is not in managedRuleGroups" in problem


def test_registry_names_must_be_valid_ecr_names():
    [problem] = problems_for(settings_with(platform__registry={"repositories": ["Chat_API!"]}))
    assert problem.startswith('platform:registry.repositories = ["Chat_API!"]')


@pytest.mark.parametrize(
    "override",
    [
        {"platform:database": {"engineVersion": "16.8", "instanceClass": "db.huge"}},
        {"platform:cache": {"nodeCount": 9}},
        {"platform:firewall": {"rateLimit": 5}},
    ],
)
def test_bad_data_settings_register_nothing_but_the_stack(override):
    with pytest.raises(ProgramError) as error:
        run_preview(REPOSITORY, "dev", config_overrides=override)
    assert [r.type for r in error.value.registered] == ["pulumi:pulumi:Stack"]
    assert "invalid setting" in str(error.value)


@pytest.mark.parametrize("stack", ["Prod", "feature_x", "a-very-long-feature-branch-stack-name"])
def test_a_stack_name_aws_would_refuse_in_resource_names_is_rejected(stack):
    problems = problems_for(settings_with(), stack=stack)
    assert problems == [
        f'project and stack name = "platform-{stack}": AWS names built from it would be '
        "refused; allowed: lowercase letters, digits and single hyphens, starting with a "
        "letter, 34 characters in all"
    ]


@pytest.mark.parametrize("version", ["6.2", "8.0", "7"])
def test_only_redis_versions_with_the_redis7_family_and_required_tls_are_accepted(version):
    [problem] = problems_for(settings_with(platform__cache=cache_with(engineVersion=version)))
    assert problem == (
        f'platform:cache.engineVersion = "{version}": allowed: a Redis OSS 7 version such as 7.1'
    )


def test_pausing_serverless_needs_an_engine_version_that_can_pause():
    database = database_with(
        engineVersion="16.2",
        instanceClass="db.serverless",
        serverless={"minCapacity": 0, "maxCapacity": 4},
    )
    problems = problems_for(settings_with(platform__database=database))
    assert any(
        "minCapacity 0 (pause when idle) needs a newer engineVersion than 16.2" in p
        for p in problems
    )
    database["engineVersion"] = "16.8"
    parse_settings(
        settings_with(platform__database=database), project="platform", stack="x", source="x"
    )


def test_a_window_that_starts_where_it_ends_is_rejected():
    [problem] = problems_for(
        settings_with(platform__database=database_with(backupWindow="03:00-03:00"))
    )
    assert "starts where it ends" in problem


def test_prod_may_not_skip_the_final_cache_snapshot():
    config = settings_with(
        platform__environment="prod",
        platform__logRetentionDays=365,
        platform__cache=cache_with(skipFinalSnapshot=True),
    )
    [problem] = problems_for(config, stack="prod")
    assert problem.startswith("platform:cache.skipFinalSnapshot = true")
