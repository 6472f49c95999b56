"""docs/configuration.md is the settings models and the stack files, read back from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from infra.settings.reference import PAGE, RELEASE_STATE, page, settings
from platformctl import machine
from platformctl.record import ReleaseRecord
from tests.conftest import REPOSITORY, STACKS


def test_the_configuration_page_is_the_models_and_the_stack_files():
    written = (REPOSITORY / PAGE).read_text()
    assert written == page(REPOSITORY), (
        "docs/configuration.md is stale: run python -m infra.settings.reference"
    )


def test_every_setting_says_what_it_does_and_what_it_accepts():
    rows = settings(REPOSITORY)
    assert len(rows) > 150
    assert [r.key for r in rows if not r.description.strip()] == []
    assert [r.key for r in rows if not r.allowed.strip()] == []


def test_every_setting_names_files_that_exist_as_its_readers():
    rows = settings(REPOSITORY)
    assert [r.key for r in rows if not r.read_by] == []
    missing = {
        (r.key, path) for r in rows for path in r.read_by if not (REPOSITORY / path).is_file()
    }
    assert missing == set()


def _project_copy(tmp_path: Path) -> Path:
    for name in ["Pulumi.yaml", *(f"Pulumi.{s}.yaml" for s in STACKS)]:
        shutil.copy(REPOSITORY / name, tmp_path / name)
    return tmp_path


def _edit_stack(project: Path, stack: str, edit) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    edit(document["config"])
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def _record(release: dict) -> ReleaseRecord:
    live = release["live"]
    candidate = "green" if live == "blue" else "blue"
    return ReleaseRecord(
        id="r1", stack="staging", service="chat-api", strategy="blue-green",
        image="9.9.9", candidate_slot=candidate, previous_live=live, previous_image=None,
        steps=[], on_failure="rollback", on_inconclusive="rollback", started_at=0.0,
    )  # fmt: skip


def test_a_release_leaves_the_page_as_it_was(tmp_path):
    """The release driver rewrites the stack file at every step; the page must not go stale
    with each commit the release workflow makes."""
    project = _project_copy(tmp_path)

    def release_everything(config: dict) -> None:
        for service in config["platform:app"]["services"]:
            release = service["release"]
            record = _record(release)
            release = machine.deploy_config(release, record)
            release = machine.weight_config(release, 40)
            release = machine.promote_config(release, record)
            service["release"] = machine.scale_down_config(release, record.previous_live)

    for stack in STACKS:
        _edit_stack(project, stack, release_everything)
    assert page(project) == page(REPOSITORY)
    assert {r.key for r in settings(REPOSITORY)} >= RELEASE_STATE


def test_a_value_a_stack_changes_shows_on_the_page(tmp_path):
    project = _project_copy(tmp_path)

    def more_readers(config: dict) -> None:
        config["platform:database"]["instanceCount"] = 5

    _edit_stack(project, "prod", more_readers)
    [row] = [r for r in settings(project) if r.key == "platform:database.instanceCount"]
    assert row.values[-1] == "5"
    assert page(project) != page(REPOSITORY)
