"""Every rule, judged through the packs over the Analyzer protocol on hand-made resources:
a violating case, a compliant case and a case with an unknown value for each."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from policies.rules import CATALOGUE
from tests.policy_cases import Case
from tests.policy_cases.all import ALL_CASES
from tests.policy_harness import Harness, urn_of


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    harness = Harness()
    yield harness
    harness.close()


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case.id)
def test_rule_judges_the_case(case: Case, harness: Harness) -> None:
    found = harness.judge(case.rule, case.resources, case.config)
    findings = [v for v in found if not v.not_evaluated]
    messages = "\n".join(v.message for v in findings)
    if case.expect == "violation":
        assert findings, f"{case.rule} reported nothing"
        assert case.message in messages
        if case.at is not None:
            [target] = [r for r in case.resources if r.name == case.at]
            assert urn_of(target.type, target.name) in {v.urn for v in findings}
    else:
        # A compliant case, or one whose deciding value is unknown: never a violation.
        assert not findings, messages


def test_every_rule_has_a_violating_a_compliant_and_an_unknown_case() -> None:
    kinds: dict[str, set[str]] = {name: set() for name in CATALOGUE}
    for case in ALL_CASES:
        assert case.rule in CATALOGUE, f"case for unknown rule {case.rule}"
        kinds[case.rule].add(case.expect)
    incomplete = {
        name: sorted(k) for name, k in kinds.items() if k != {"violation", "pass", "undecided"}
    }
    assert not incomplete, incomplete
