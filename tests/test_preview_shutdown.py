"""Every way a preview ends leaves only its own message: no thread's traceback.

A refusal (bad settings, a broken policy config) ends the preview while the policy packs it
started are still connecting; whatever gRPC or the packs' threads do as they are torn down
must never print. The race this guards against showed about once in 24 runs with four
previews at a time, so the test runs that many, concurrently, and reads all their output;
with them, previews that pass (exit 0) and that a mandatory policy blocks (exit 1).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPOSITORY
from tests.test_policy_cli import insecure_project
from tests.test_preview_cli import run_cli

pytestmark = pytest.mark.slow

RUNS_PER_KIND = 8
AT_ONCE = 4
THREAD_NOISE = ("Traceback", "Exception in thread", "Exception ignored", "Channel closed")


def _project(directory: Path, stack_file: str) -> Path:
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(
        f"name: platform\nruntime: python\nmain: {REPOSITORY / 'infra'}\n"
    )
    (directory / "Pulumi.dev.yaml").write_text(stack_file)
    return directory


def test_previews_run_side_by_side_print_their_outcome_and_no_thread_traceback(tmp_path):
    stack_file = (REPOSITORY / "Pulumi.dev.yaml").read_text()
    bad_settings = _project(
        tmp_path / "bad-settings",
        stack_file.replace("  platform:network:\n", '  platform:network: "oops"\n  unused:\n'),
    )
    bad_policy_config = tmp_path / "policy.json"
    bad_policy_config.write_text('{"logs-retention": {"minimumDays": "a year"}}')
    insecure = insecure_project(tmp_path)
    # (arguments, exit code, what the output says); refusals the most, as they race the most.
    kinds = {
        "settings": (
            ["dev", "--project-dir", str(bad_settings)],
            2,
            'platform:network = "oops"',
        ),
        "policy config": (
            [
                "dev",
                *("--policy-pack", str(REPOSITORY / "policies/security")),
                *("--policy-pack-config", str(bad_policy_config)),
            ],
            2,
            "logs-retention",
        ),
        "passes": (["dev"], 0, "Advisory violations (1)"),
        "blocked": (["dev", "--project-dir", str(insecure)], 1, "mandatory policy violation"),
    }
    runs = [
        (kind, args)
        for kind, (args, _, _) in kinds.items()
        for _ in range(RUNS_PER_KIND if kind in ("settings", "policy config") else 2)
    ]
    with ThreadPoolExecutor(AT_ONCE) as pool:
        results = list(pool.map(lambda run: (run[0], run_cli(*run[1], timeout=300)), runs))

    for kind, result in results:
        _, code, expected = kinds[kind]
        assert result.returncode == code, (kind, result.stderr)
        assert expected in result.stdout + result.stderr, (kind, result.stderr)
        noise = [word for word in THREAD_NOISE if word in result.stderr]
        assert not noise, (kind, result.stderr)
