"""``platform:delivery.review``: the advisory AI review at the release gates.

Off unless turned on per stack. The API key never appears here: it is read from
``ANTHROPIC_API_KEY`` when a review runs; without it the review is "unavailable".
"""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import Field, field_validator

from infra.settings.base import Model, Number, matching, reference, within

# Overrides ``model`` for one run (to try a model without editing the stack file).
MODEL_ENV = "PLATFORM_REVIEW_MODEL"
MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9.@:_-]{1,99}")
MODEL_ALLOWED = "a model name such as claude-sonnet-5-5 (lowercase letters, digits and .@:_-)"
# Where the settings of one call to the model are read (the configuration reference).
_CLIENT = ("platformctl/review/client.py",)


class ReviewSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("platformctl/reviews.py",)

    # The pre-release review of the change document (before the candidate is deployed).
    enabled: bool = Field(
        default=False,
        description="Asks for the advisory AI review of the change document before a release "
        "or an `up`.",
    )
    # One review per analysis step, of the metric series (live against candidate).
    canary_review: bool = Field(
        default=False,
        description="Asks for a review of the metric series, live against candidate, after "
        "each passing analysis step.",
    )
    # A short cause and next step for the CI log when an `up` fails.
    explain_failures: bool = Field(
        default=False,
        description="Asks for a short cause and next step for the CI log when an `up` fails.",
    )
    model: str = Field(
        default="claude-sonnet-5-5",
        description=f"The model that reviews; {MODEL_ENV} overrides it for one run.",
        json_schema_extra=reference(allowed=MODEL_ALLOWED, read_by=_CLIENT),
    )
    # Per attempt, wall clock; the longest a review can take is
    # platformctl.review.client.longest_review_seconds (107 s with these defaults).
    timeout_seconds: Number = Field(
        default=30,
        description="Seconds one attempt at a review may take, wall clock.",
        json_schema_extra=reference(allowed="1 to 300", read_by=_CLIENT),
    )
    max_retries: Number = Field(
        default=2,
        description="How often a review is retried after a timeout, a rate limit (429), an "
        "overload (529) or another transient error.",
        json_schema_extra=reference(allowed="0 to 5", read_by=_CLIENT),
    )
    # The change document is summarised deterministically to fit (never cut mid-value).
    max_document_chars: Number = Field(
        default=24_000,
        description="The most characters of the change document a review is sent; a longer "
        "one is summarised to fit, never cut mid-value.",
        json_schema_extra=reference(allowed="2,000 to 200,000"),
    )
    max_output_tokens: Number = Field(
        default=1024,
        description="The most tokens a review's answer may take.",
        json_schema_extra=reference(allowed="256 to 8,192", read_by=_CLIENT),
    )

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
