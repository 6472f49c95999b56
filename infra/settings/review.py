"""``platform:delivery.review``: the advisory AI review at the release gates.

Off unless turned on per stack. The API key never appears here: it is read from
``ANTHROPIC_API_KEY`` when a review runs; without it the review is "unavailable".
"""

from __future__ import annotations

import re

from pydantic import field_validator

from infra.settings.base import Model, Number, matching, within

# Overrides ``model`` for one run (to try a model without editing the stack file).
MODEL_ENV = "PLATFORM_REVIEW_MODEL"
MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9.@:_-]{1,99}")
MODEL_ALLOWED = "a model name such as claude-sonnet-5-5 (lowercase letters, digits and .@:_-)"


class ReviewSettings(Model):
    # The pre-release review of the change document (before the candidate is deployed).
    enabled: bool = False
    # One review per analysis step, of the metric series (live against candidate).
    canary_review: bool = False
    # A short cause and next step for the CI log when an `up` fails.
    explain_failures: bool = False
    model: str = "claude-sonnet-5-5"
    # Per attempt, wall clock; the longest a review can take is
    # platformctl.review.client.longest_review_seconds (107 s with these defaults).
    timeout_seconds: Number = 30
    max_retries: Number = 2
    # The change document is summarised deterministically to fit (never cut mid-value).
    max_document_chars: Number = 24_000
    max_output_tokens: Number = 1024

    @field_validator("model")
    @classmethod
    def _model(cls, model: str) -> str:
        return matching(model, MODEL_NAME, MODEL_ALLOWED)

    @field_validator("timeout_seconds")
    @classmethod
    def _timeout(cls, seconds: int) -> int:
        return within(seconds, 1, 300, " seconds")

    @field_validator("max_retries")
    @classmethod
    def _retries(cls, retries: int) -> int:
        return within(retries, 0, 5)

    @field_validator("max_document_chars")
    @classmethod
    def _size(cls, chars: int) -> int:
        return within(chars, 2_000, 200_000, " characters")

    @field_validator("max_output_tokens")
    @classmethod
    def _tokens(cls, tokens: int) -> int:
        return within(tokens, 256, 8_192, " tokens")

    @property
    def any_enabled(self) -> bool:
        return self.enabled or self.canary_review or self.explain_failures
