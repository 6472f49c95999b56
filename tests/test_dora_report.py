"""``platformctl report``: the four DORA keys from a ledger whose answers are worked out by
hand below, through the command as CI runs it."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import pytest

from platformctl import cli
from platformctl.ledger import Ledger
from platformctl.record import Phase, ReleaseRecord
from platformctl.wiring import RealWorld
from tests.conftest import REPOSITORY

NOW = 1_800_000_000.0
DAY = 86400.0
PUSHED = {"1.0.0@sha256:" + "a" * 64: NOW - 10 * DAY - 3000}


def record(
    release_id: str, phase: Phase, *, started: float, promoted: float | None = None,
    finished: float | None = None, image: str = "1.0.0", restore: float | None = None,
) -> ReleaseRecord:  # fmt: skip
    made = ReleaseRecord(
        id=release_id, stack="prod", service="chat-api", strategy="canary", image=image,
        candidate_slot="green", previous_live="blue", previous_image="0.9.0", steps=[],
        on_failure="rollback", on_inconclusive="rollback", started_at=started, phase=phase,
        promoted=promoted is not None, promoted_at=promoted, finished_at=finished,
    )  # fmt: skip
    if restore is not None:
        made.detected_at, made.restored_at = started + 100, started + 100 + restore
    return made


def ledger_with_history(directory) -> Ledger:
    ledger = Ledger(directory)
    t = NOW - 10 * DAY
    records = [
        # Live 600 s after its start; the image was pushed 3,000 s before the start.
        record("20261225T000000-0001", Phase.SUCCEEDED, started=t, promoted=t + 600,
               finished=t + 1200, image="1.0.0@sha256:" + "a" * 64),
        # Rolled back, traffic restored 40 s after the failing measurement.
        record("20261226T000000-0002", Phase.ROLLED_BACK, started=t + DAY, finished=t + DAY + 500,
               restore=40.0),
        # Live 900 s after its start; its image's push time cannot be read.
        record("20261227T000000-0003", Phase.SUCCEEDED, started=t + 2 * DAY,
               promoted=t + 2 * DAY + 900, finished=t + 2 * DAY + 1000, image="1.1.0"),
        # Stopped by a person, and refused by the gate: no traffic taken, in neither count.
        record("20261228T000000-0004", Phase.ABORTED, started=t + 3 * DAY,
               finished=t + 3 * DAY + 9),
        record("20261229T000000-0005", Phase.REJECTED, started=t + 4 * DAY,
               finished=t + 4 * DAY + 5),
        # A rollback that could not be confirmed: a failed change, with no restore time.
        record("20261230T000000-0006", Phase.FAILED, started=t + 5 * DAY,
               finished=t + 5 * DAY + 700),
        # Before the 30-day window.
        record("20261101T000000-0007", Phase.SUCCEEDED, started=NOW - 40 * DAY,
               promoted=NOW - 40 * DAY + 60, finished=NOW - 40 * DAY + 120),
    ]  # fmt: skip
    for made in records:
        ledger.write(made)
    return ledger


class KnownPushes:
    def pushed_at(self, stack: str, service: str, image: str) -> float | None:
        return PUSHED.get(image)


class LedgerWorld(RealWorld):
    def __init__(self, ledger: Ledger) -> None:
        super().__init__(REPOSITORY, dict(os.environ), lambda _: None)
        self._ledger = ledger

    def ledger(self) -> Ledger:
        return self._ledger

    def image_pushes(self) -> Any:
        return KnownPushes()


def report(ledger: Ledger, capsys, *argv: str) -> tuple[int, str]:
    args = cli.parse_args(["report", *argv])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("platformctl.report.time.time", lambda: NOW)
        code = cli.execute(args, cli.Output(args.json), LedgerWorld(ledger))
    return code, capsys.readouterr().out


def test_the_four_keys_match_the_ledger_worked_out_by_hand(tmp_path, capsys):
    code, out = report(ledger_with_history(tmp_path), capsys, "prod", "--json")
    assert code == 0
    [keys] = json.loads(out)["reports"]
    assert keys["releases"] == 6
    # Two releases went live in 30 days: 2 x 7 / 30 a week.
    assert keys["deploymentFrequency"] == {"succeeded": 2, "perWeek": 0.47}
    # Median of 600 + 3,000 (from the push) and 900 (from the start).
    assert keys["leadTimeForChanges"] == {
        "medianSeconds": 2250.0,
        "from": "image pushed to ECR for 1 of 2, release start for the rest",
    }
    # Of four that took traffic, one rolled back and one failed.
    assert keys["changeFailureRate"] == {"rate": 0.5, "failed": 2, "tookTraffic": 4}
    assert keys["timeToRestore"] == {"medianSeconds": 40.0, "restores": 1}


def test_the_report_reads_as_text_too(tmp_path, capsys):
    code, out = report(ledger_with_history(tmp_path), capsys, "prod")
    assert code == 0
    assert out.splitlines() == [
        "DORA keys of prod, last 30 days (6 releases finished):",
        "  deployment frequency   2 live, 0.5 a week",
        "  lead time for changes  median 38 min (from image pushed to ECR for 1 of 2, release "
        "start for the rest to live)",
        "  change failure rate    50% (2 of 4 releases that took traffic were rolled back or "
        "failed)",
        "  time to restore        median 40 s (1 restore(s))",
    ]


def test_a_shorter_period_leaves_older_releases_out(tmp_path, capsys):
    _, out = report(ledger_with_history(tmp_path), capsys, "prod", "--since", "7d", "--json")
    [keys] = json.loads(out)["reports"]
    # Only the three finished in the last 7 days: aborted, rejected, failed.
    assert (keys["releases"], keys["changeFailureRate"]["tookTraffic"]) == (3, 1)
    assert keys["leadTimeForChanges"]["medianSeconds"] is None


def test_a_period_that_is_not_one_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.parse_args(["report", "prod", "--since", "3w"])
    assert exit_.value.code == 2
    assert "'3w' is not a period; allowed: a number of days or hours" in capsys.readouterr().err


def test_since_takes_days_and_hours():
    from platformctl.report import since_seconds

    assert since_seconds("30d") == 30 * DAY and since_seconds("12h") == 12 * 3600
    with pytest.raises(argparse.ArgumentTypeError):
        since_seconds("0d")
