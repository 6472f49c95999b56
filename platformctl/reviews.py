"""The AI review at the driver's gates: which document to send, whether to send it at all,
and what the answer may do (``platformctl.review.gate``). The driver only records and transitions.

Cost control: at most one request per step. A re-run of a step whose document was already
reviewed and approved reuses that review instead of asking again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.settings.review import ReviewSettings
from platform_common.pulumi_values import secret_strings
from platformctl.changes import PreviewOutcome
from platformctl.ports import DeployError
from platformctl.review.client import UnavailableReviewer
from platformctl.review.document import (
    ReleasePlan,
    canary_document,
    change_document,
    failure_document,
)
from platformctl.review.model import ChangeDocument, Review, Reviewer, ReviewStatus
from platformctl.review.redact import secret_key
from policies.rules.stack import STATEFUL_TYPES

# Environment variables whose values are credentials: masked wherever they appear, so an
# error message that quotes one cannot carry it to the API.
_MIN_SECRET_CHARS = 8


def environment_secrets(environ: Mapping[str, str]) -> frozenset[str]:
    return frozenset(
        value
        for name, value in environ.items()
        if secret_key(name) and len(value) >= _MIN_SECRET_CHARS
    )


@dataclass
class ReleaseReviews:
    settings: ReviewSettings
    # Built on first use: a stack with the review off never needs one, and nothing about
    # the reviewer may stop an abort or a rollback.
    reviewer_for: Callable[[], Reviewer]
    stack: str
    environment: str
    known_secrets: frozenset[str] = frozenset()
    _reviewer: Reviewer | None = field(default=None, repr=False)

    def check_model(self) -> None:
        """Builds the reviewer now when a review is on, so a usage error (a bad
        PLATFORM_REVIEW_MODEL) stops the command before it changes anything."""
        if self.settings.any_enabled:
            try:
                self._reviewer = self.reviewer_for()
            except DeployError:
                raise
            except Exception as error:
                self._reviewer = _could_not_set_up(error)

    @property
    def reviewer(self) -> Reviewer:
        if self._reviewer is None:
            try:
                self._reviewer = self.reviewer_for()
            except Exception as error:
                self._reviewer = _could_not_set_up(error)
        return self._reviewer

    def learn(self, outcome: PreviewOutcome) -> None:
        """Remembers the preview's secret values, so that an engine error quoting one of
        them later (a failed `up`) cannot carry it to the API."""
        learned = {
            text
            for change in outcome.changes
            for prop in change.properties
            for text in secret_strings([prop.old, prop.new])
        }
        self.known_secrets = self.known_secrets | learned

    def pre_release_document(
        self, outcome: PreviewOutcome, plan: ReleasePlan | None
    ) -> ChangeDocument | None:
        """None when the pre-release review is off."""
        self.learn(outcome)
        if not self.settings.enabled:
            return None
        return change_document(
            stack=self.stack,
            environment=self.environment,
            outcome=outcome,
            plan=plan,
            stateful_types=STATEFUL_TYPES,
            known_secrets=self.known_secrets,
            max_chars=self.settings.max_document_chars,
        )

    def canary_document(
        self, service: str, step: str, weight: int | None, rounds: Sequence[Mapping[str, Any]]
    ) -> ChangeDocument | None:
        """None when the canary review is off."""
        if not self.settings.canary_review:
            return None
        return canary_document(
            stack=self.stack,
            environment=self.environment,
            service=service,
            step=step,
            weight=weight,
            rounds=rounds,
            known_secrets=self.known_secrets,
            max_chars=self.settings.max_document_chars,
        )

    def explain(self, operation: str, errors: Sequence[str]) -> Review | None:
        """None when failure explanations are off."""
        if not self.settings.explain_failures:
            return None
        document = failure_document(
            stack=self.stack,
            environment=self.environment,
            operation=operation,
            errors=errors,
            known_secrets=self.known_secrets,
            max_chars=self.settings.max_document_chars,
        )
        return self.reviewer.explain(document)

    def ask(self, document: ChangeDocument) -> Review:
        return self.reviewer.review(document)


def _could_not_set_up(error: Exception) -> Reviewer:
    return UnavailableReviewer(
        f"the reviewer could not be set up ({type(error).__name__}: {error})"
    )


def explanation_lines(review: Review) -> list[str]:
    """For the CI log, marked as advisory."""
    if review.status is not ReviewStatus.GIVEN or review.explanation is None:
        return [f"AI explanation unavailable: {review.reason}"]
    return [
        f"AI explanation (advisory): {review.explanation.cause}",
        f"  next step: {review.explanation.next_step}",
    ]


def verdict_lines(review: Review) -> list[str]:
    if review.status is not ReviewStatus.GIVEN or review.verdict is None:
        return []
    return [f"  concern: {c.resource}: {c.why}" for c in review.verdict.concerns]
