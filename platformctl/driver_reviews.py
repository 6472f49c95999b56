"""The AI review at the driver's gates (advisory: it can only ask for a human). Which
document goes and what its answer may do live in :mod:`platformctl.reviews` and
:mod:`platformctl.review.gate`; here the driver asks, records and transitions."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from platformctl.changes import PreviewOutcome
from platformctl.driver_acts import DriverActs
from platformctl.machine import Transition
from platformctl.record import Phase
from platformctl.review import gate
from platformctl.review.document import ReleasePlan
from platformctl.review.model import ChangeDocument, Review, ReviewKind, ReviewStatus
from platformctl.reviews import explanation_lines, verdict_lines


class DriverReviews(DriverActs):
    def _pre_release_review(self, outcome: PreviewOutcome) -> Transition | None:
        record = self._record()
        plan = self._plan()
        return self._reviewed(
            lambda: self._reviews.pre_release_document(outcome, plan),
            ReviewKind.PRE_RELEASE,
            record.step_index,
        )

    def _canary_review(self, judged: Transition, events: list[dict[str, Any]]) -> Transition | None:
        record = self._record()
        step = record.step
        assert step is not None
        weight = next(
            (s.weight for s in reversed(record.steps[: record.step_index]) if s.weight), None
        )
        rounds = [e for e in events if "round" in e]
        return self._reviewed(
            lambda: self._reviews.canary_document(self.service, step.label(), weight, rounds),
            ReviewKind.CANARY,
            judged.step_index,
            judged.reason,
        )

    def _reviewed(
        self,
        build: Callable[[], ChangeDocument | None],
        kind: ReviewKind,
        then_step: int | None,
        done: str = "",
    ) -> Transition | None:
        """Builds the document, asks (at most once per document in a release), records and
        decides. Returns the wait for a human, or None to go on."""
        record = self._record()
        step = record.step.label() if record.step else ""
        try:
            document = build()
        except Exception as error:  # the advisory review must never strand a release
            unbuilt = f"{record.id} {step}: {type(error).__name__}"
            document = ChangeDocument(kind, json.dumps({"unbuilt": unbuilt}))
            review: Review | None = Review(
                kind, ReviewStatus.UNAVAILABLE,
                reason=f"the document could not be built ({type(error).__name__})",
                document_sha256=document.sha256,
            )  # fmt: skip
        else:
            review = None
        if document is None:
            return None
        earlier = [r for r in record.reviews if r.get("documentSha256") == document.sha256]
        if any(a.get("review") == document.sha256 for a in record.approvals):
            self._event(review=kind.value, reused=document.sha256, note="approved earlier")
            self._save()
            return None
        given = next((r for r in earlier if r.get("status") == "given"), None)
        if review is None and given is not None:
            # Resumed or retried: the verdict on this very document is already in hand.
            review = Review.from_json(given)
            self._event(review=kind.value, reused=document.sha256)
        elif review is None:
            review = self._asking(kind, document)
        decision = gate.decide(self.settings.platform.environment, review)
        if given is None or review.status is not ReviewStatus.GIVEN:
            entry = {
                **review.to_json(),
                "step": step or None,
                "at": self.world.clock.now(),
                "summarised": document.summarised,
                "decision": decision.friction.value,
                "gate": decision.reason,
            }
            record.reviews.append(entry)
            self._event(review=kind.value, status=review.status.value, decision=entry["decision"])
        self._save()
        self._say(f"  {decision.reason}")
        for line in verdict_lines(review):
            self._say(line)
        if not decision.needs_approval:
            return None
        record.awaiting_review = document.sha256
        prefix = f"{done}; " if done else ""
        return Transition(
            Phase.AWAITING_APPROVAL,
            f"{prefix}{decision.reason} (platformctl approve {record.stack} {record.service})",
            then_step,
        )

    def _asking(self, kind: ReviewKind, document: ChangeDocument) -> Review:
        """The review, asked from a worker while this thread keeps taking commands: an abort
        or a rollback does not wait for the API to answer."""
        answers: list[Review] = []
        deaths: list[BaseException] = []

        def ask() -> None:
            try:
                answers.append(self._reviews.ask(document))
            except Exception as error:
                answers.append(
                    Review(kind, ReviewStatus.UNAVAILABLE, reason=type(error).__name__,
                           document_sha256=document.sha256)
                )  # fmt: skip
            except BaseException as death:  # the process is going down: so is the release
                deaths.append(death)

        worker = threading.Thread(target=ask, name="ai-review", daemon=True)
        worker.start()
        while worker.is_alive():
            self._take_commands(interrupt=True)
            worker.join(self.world.poll_seconds)
        if deaths:
            raise deaths[0]
        return answers[0]

    def _plan(self) -> ReleasePlan:
        record = self._record()
        return ReleasePlan(
            service=record.service,
            strategy=record.strategy,
            image=record.image,
            previous_image=record.previous_image,
            candidate_slot=record.candidate_slot,
            live_slot=record.previous_live,
            steps=tuple(s.label() for s in record.steps),
        )

    def _explain_failed_up(self) -> None:
        if self._failed_up is None:
            return
        label, error = self._failed_up
        self._failed_up = None
        review = self._reviews.explain(f"up ({label})", error.details or (str(error),))
        if review is None:
            return
        self._record().reviews.append(
            {**review.to_json(), "step": label, "at": self.world.clock.now()}
        )
        self._event(review=review.kind.value, status=review.status.value)
        self._save()
        for line in explanation_lines(review):
            self._say(line)
