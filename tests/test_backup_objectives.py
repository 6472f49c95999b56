"""What each stack can recover, computed from its settings, and the manual's table kept equal
to the stack files."""

from __future__ import annotations

import pytest

from infra.config import parse_settings
from infra.settings.backup_objectives import (
    BEGIN,
    END,
    PAGE,
    objectives,
    period_hours,
    shipped_table,
)
from tests.test_backup import backup
from tests.test_config import settings_with


@pytest.mark.parametrize(
    ("schedule", "hours"),
    [
        ("cron(0 5 * * ? *)", 24),
        ("cron(0 6 ? * SAT *)", 24 * 7),
        ("cron(0 6 1 * ? *)", 24 * 31),
        ("cron(0/15 * * * ? *)", None),
        ("rate(1 day)", None),
    ],
)
def test_the_period_of_a_daily_weekly_or_monthly_schedule(schedule, hours):
    assert period_hours(schedule) == hours


def settings(**changes):
    config = settings_with(platform__backup=backup(**changes))
    return parse_settings(config, project="platform", stack="staging", source="x")


def test_a_copy_in_another_region_bounds_the_loss_of_the_region_by_its_most_frequent_rule():
    rules = [
        {"name": "continuous", "schedule": "cron(0 5 * * ? *)", "retentionDays": 30,
         "continuous": True},
        {"name": "weekly", "schedule": "cron(0 6 ? * SUN *)", "retentionDays": 90},
    ]  # fmt: skip
    found = objectives(settings(plans={"standard": rules}))
    assert found.rpo_region_lost == "24 h (copies in us-west-2)"
    assert (found.point_in_time_days, found.history) == (30, "90 days")


def test_without_a_copy_nothing_survives_the_region_and_without_tests_nothing_is_proven():
    found = objectives(settings(copyRegion=None, vaultLock=None))
    assert found.rpo_region_lost == "none kept: no copy in another region"
    assert found.restore_tested == "never"
    # Aurora's own backup retention (14 days in the base) is the point-in-time window.
    assert found.point_in_time_days == 14


def test_the_manuals_table_is_computed_from_the_stack_files():
    page = PAGE.read_text()
    assert page.split(BEGIN, 1)[1].split(END, 1)[0].strip() == shipped_table(), (
        "docs/backup.md is stale: run python -m infra.settings.backup_objectives"
    )
