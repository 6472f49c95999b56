"""What each stack can recover, computed from its settings: the point-in-time window, the
recovery point objective in the region and after losing it, how far back a restore can go,
and how often a restore is proven. ``python -m infra.settings.backup_objectives`` writes the
table into docs/backup.md, which a test keeps equal to the stack files."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from infra.config import StackSettings, parse_settings

REPOSITORY = Path(__file__).resolve().parents[2]
PAGE = REPOSITORY / "docs" / "backup.md"
BEGIN, END = "<!-- objectives: begin -->", "<!-- objectives: end -->"
# Aurora's latest restorable time trails the present by about five minutes (its logs are
# shipped continuously), for its own automated backups and for AWS Backup's continuous ones.
POINT_IN_TIME_LAG = "≈ 5 min"


def period_hours(schedule: str) -> int | None:
    """The interval of the schedules the stacks use: daily, weekly or monthly crons."""
    fields = schedule.removeprefix("cron(").removesuffix(")").split()
    if len(fields) != 6:
        return None
    _, hours, day, month, weekday, _ = fields
    if not re.fullmatch(r"\d+", hours) or month != "*":
        return None
    if day in ("*", "?") and weekday in ("*", "?"):
        return 24
    if day == "?" and re.fullmatch(r"[A-Z]{3}|\d", weekday):
        return 24 * 7
    if re.fullmatch(r"\d+", day) and weekday == "?":
        return 24 * 31
    return None


def _period(schedule: str) -> str:
    hours = period_hours(schedule)
    names = {24: "24 h", 24 * 7: "7 days", 24 * 31: "1 month"}
    return names.get(hours or 0, schedule)


def _days(days: int) -> str:
    return f"{days} day" if days == 1 else f"{days} days"


@dataclass(frozen=True)
class Objectives:
    stack: str
    point_in_time_days: int
    rpo_in_region: str
    rpo_region_lost: str
    history: str
    restore_tested: str


def objectives(settings: StackSettings) -> Objectives:
    platform = settings.platform
    backup = platform.backup
    rules = backup.rules()
    continuous = [r.retention_days for r in rules if r.continuous]
    window = max([platform.database.backup_retention_days, *continuous])
    if backup.copy_region:
        # Every rule copies what it takes (a continuous rule's copies are snapshots, taken
        # on its schedule): the most frequent rule bounds what a region loss costs.
        most_often = min(rules, key=lambda r: period_hours(r.schedule) or 10**6)
        lost = f"{_period(most_often.schedule)} (copies in {backup.copy_region})"
    else:
        lost = "none kept: no copy in another region"
    longest = _days(max(r.retention_days for r in rules))
    test = backup.restore_testing
    return Objectives(
        stack=settings.stack,
        point_in_time_days=window,
        rpo_in_region=POINT_IN_TIME_LAG,
        rpo_region_lost=lost,
        history=longest,
        restore_tested=f"every {_period(test.schedule)}" if test else "never",
    )


def table(all_objectives: list[Objectives]) -> str:
    rows = [
        "| stack | point in time, last | RPO in the region | RPO after losing the region "
        "| oldest restorable point | restore tested |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for o in all_objectives:
        rows.append(
            f"| {o.stack} | {_days(o.point_in_time_days)} | {o.rpo_in_region} | "
            f"{o.rpo_region_lost} | {o.history} | {o.restore_tested} |"
        )
    return "\n".join(rows)


def shipped_table() -> str:
    """The shipped stack files hold no secret values, so they parse as they are read."""
    found = []
    for stack in ("dev", "staging", "prod"):
        config = yaml.safe_load((REPOSITORY / f"Pulumi.{stack}.yaml").read_text())["config"]
        found.append(
            objectives(parse_settings(config, project="platform", stack=stack, source=stack))
        )
    return table(found)


def write() -> None:
    page = PAGE.read_text()
    head, _, rest = page.partition(BEGIN)
    _, _, tail = rest.partition(END)
    PAGE.write_text(f"{head}{BEGIN}\n{shipped_table()}\n{END}{tail}")


if __name__ == "__main__":
    write()
    sys.stdout.write(f"wrote {PAGE.relative_to(REPOSITORY)}\n")
