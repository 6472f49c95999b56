"""No secret reaches the API: random change documents seeded with secrets go through the
whole path (preview outcome -> document -> the SDK's real client) and every request body
sent is searched for them."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from infra.settings.review import ReviewSettings
from platformctl.changes import PolicyFinding, PreviewOutcome, PropertyChange, ResourceChange
from platformctl.review.client import ClaudeReviewer
from platformctl.review.document import ReleasePlan
from platformctl.reviews import ReleaseReviews
from tests.anthropic_fakes import (
    FAKE_API_KEY,
    RecordingHandler,
    Sleeps,
    explanation_message,
    mock_http_client,
    verdict_message,
)
from tests.test_review_redaction import SKELETON, seeded_documents

OPERATIONS = ("create", "update", "replace", "delete")
TYPES = (
    "aws:rds/cluster:Cluster",
    "kubernetes:core/v1:Secret",
    "aws:eks/cluster:Cluster",
    "kubernetes:apps/v1:Deployment",
    "aws:elasticache/replicationGroup:ReplicationGroup",
)


def _outcome(document: dict[str, Any], draw: st.DrawFn) -> PreviewOutcome:
    """The seeded document spread over resource changes, old and new values and findings."""
    parts = [document["resources"], *document["outputs"], *document["more"]]
    changes = []
    for index, part in enumerate(parts):
        operation = draw(st.sampled_from(OPERATIONS))
        old, new = (None, part) if operation == "create" else (part, None)
        if operation in ("update", "replace"):
            old, new = part, draw(st.sampled_from([part, "t3.large", None]))
        name = draw(st.sampled_from(["spec", "masterPassword", "environment", "data", "tags"]))
        changes.append(
            ResourceChange(
                f"urn:pulumi:prod::platform::{TYPES[index % len(TYPES)]}::r{index}",
                TYPES[index % len(TYPES)], operation, protected=index % 2 == 0,
                changed_inputs=(name,), properties=(PropertyChange(name, old, new),),
            )
        )  # fmt: skip
    texts = [p for p in document["more"] if isinstance(p, str)]
    findings = tuple(
        PolicyFinding("platform-security", "no-plaintext", "mandatory", changes[0].urn, text)
        for text in texts
    )
    return PreviewOutcome(tuple(changes), findings)


@st.composite
def seeded_outcomes(draw: st.DrawFn) -> tuple[PreviewOutcome, list[str], list[str], list[str]]:
    document, secrets, known = draw(seeded_documents())
    errors = [f"error: {p}" for p in document["more"] if isinstance(p, str)] or ["error: boom"]
    return _outcome(document, draw), secrets, known, errors


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeded_outcomes(), st.sampled_from([2_000, 6_000, 24_000]))
def test_no_seeded_secret_appears_in_any_request_body(
    seeded: tuple[PreviewOutcome, list[str], list[str], list[str]], max_chars: int
) -> None:
    outcome, secrets, known, errors = seeded
    assume(not any(secret in SKELETON for secret in secrets))
    review = ReviewSettings.model_validate(
        {"enabled": True, "explainFailures": True, "maxDocumentChars": max_chars}
    )
    handler = RecordingHandler(verdict_message(), explanation_message())
    reviews = ReleaseReviews(
        settings=review,
        reviewer_for=lambda: ClaudeReviewer(
            review, api_key=FAKE_API_KEY, http_client=mock_http_client(handler), sleep=Sleeps()
        ),
        stack="prod",
        environment="prod",
        known_secrets=frozenset(known),
    )
    plan = ReleasePlan("chat-api", "canary", "1.6.0", "1.5.0", "green", "blue", ("deploy",))
    document = reviews.pre_release_document(outcome, plan)
    assert document is not None and len(document.text) <= max_chars
    assert reviews.ask(document).status.value == "given"
    explained = reviews.explain("up", errors)
    assert explained is not None and explained.status.value == "given"
    assert handler.count == 2
    for request in handler.requests:
        body = request.raw.decode()
        leaked = [secret for secret in secrets if secret in body]
        assert not leaked, body
