"""The README stays a short door into the manual: its links lead somewhere, and it stays
short enough to read before the first command."""

from __future__ import annotations

import re

from tests.conftest import REPOSITORY

README = REPOSITORY / "README.md"
MOST_LINES = 150


def test_the_readme_is_short():
    assert len(README.read_text().splitlines()) <= MOST_LINES


def test_every_link_of_the_readme_leads_to_a_file_of_the_repository():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    assert len(links) > 10
    assert [link for link in links if not (REPOSITORY / link).is_file()] == []


def test_the_readme_gives_the_two_set_up_commands_ci_runs():
    text = README.read_text()
    assert "./scripts/preview dev" in text
    assert "./scripts/test" in text
    assert "scripts/test" in (REPOSITORY / ".ci" / "run").read_text()
