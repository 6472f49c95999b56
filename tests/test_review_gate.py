"""The review gate's semantics: a verdict only ever adds a human approval, never removes a
gate; every verdict x stack combination, and a review that could not be had."""

from __future__ import annotations

import itertools

import pytest

from platformctl.review.gate import Friction, approved, decide
from platformctl.review.model import (
    Concern,
    Recommendation,
    Review,
    ReviewKind,
    ReviewStatus,
    Risk,
    Verdict,
)

ENVIRONMENTS = ("dev", "staging", "prod")


def given(risk: Risk, recommendation: Recommendation) -> Review:
    verdict = Verdict(
        risk=risk,
        summary="replaces the Aurora cluster",
        concerns=[Concern(resource="urn:...:Cluster", why="data loss")],
        recommendation=recommendation,
    )
    return Review(ReviewKind.PRE_RELEASE, ReviewStatus.GIVEN, verdict=verdict, document_sha256="d1")


def unavailable() -> Review:
    return Review(ReviewKind.PRE_RELEASE, ReviewStatus.UNAVAILABLE, reason="overloaded (529)")


@pytest.mark.parametrize(
    ("environment", "risk", "recommendation"),
    list(itertools.product(ENVIRONMENTS, Risk, Recommendation)),
)
def test_every_verdict_in_every_stack_adds_friction_only_where_the_semantics_say(
    environment: str, risk: Risk, recommendation: Recommendation
):
    worrying = risk in (Risk.HIGH, Risk.CRITICAL) or recommendation in (
        Recommendation.HOLD,
        Recommendation.ABORT,
    )
    expected = (
        Friction.APPROVAL_AFTER_REVIEW
        if worrying and environment in ("staging", "prod")
        else Friction.NONE
    )
    decision = decide(environment, given(risk, recommendation))
    assert decision.friction is expected
    assert decision.needs_approval is (expected is not Friction.NONE)
    assert f"{risk.value} risk, {recommendation.value}" in decision.reason
    assert "replaces the Aurora cluster" in decision.reason


@pytest.mark.parametrize(
    ("environment", "expected"),
    [("dev", Friction.NONE), ("staging", Friction.NONE), ("prod", Friction.APPROVAL_OF_UNREVIEWED)],
)
def test_an_unavailable_review_leaves_the_decision_to_the_gates_except_in_prod(
    environment: str, expected: Friction
):
    decision = decide(environment, unavailable())
    assert decision.friction is expected
    assert "overloaded (529)" in decision.reason


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_a_review_turned_off_adds_nothing(environment: str):
    review = Review(ReviewKind.PRE_RELEASE, ReviewStatus.OFF, reason="off in settings")
    assert decide(environment, review).friction is Friction.NONE


def test_a_concern_is_only_approved_by_an_approval_of_that_reviewed_document():
    decision = decide("prod", given(Risk.HIGH, Recommendation.HOLD))
    promotion = {"by": "alice", "at": 1.0, "for": "promotion to prod"}
    other_document = {"by": "bob", "at": 2.0, "review": "d0"}
    this_document = {"by": "carol", "at": 3.0, "review": "d1"}
    assert approved(decision, [promotion], "d1") is None
    assert approved(decision, [promotion, other_document], "d1") is None
    assert approved(decision, [promotion, other_document, this_document], "d1") == this_document


def test_an_unavailable_review_in_prod_is_passed_only_by_an_approval_given_after_it():
    decision = decide("prod", unavailable())
    promotion = {"by": "alice", "at": 1.0, "for": "promotion to prod"}
    assert approved(decision, [promotion], "d1") is None
    after = {"by": "bob", "at": 2.0, "review": "d1"}
    assert approved(decision, [promotion, after], "d1") == after


def test_no_friction_needs_no_approval():
    decision = decide("staging", given(Risk.LOW, Recommendation.PROCEED))
    assert approved(decision, [], "d1") is None and not decision.needs_approval
