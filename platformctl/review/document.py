"""The documents the AI reviewer reads: compact JSON, redacted, within a size bound.

Everything shown passes through one :class:`~platformctl.review.redact.Redactor`. A document that
is too long is summarised by a fixed ladder (the first rung that fits is sent), so the same
input always gives byte-identical text, and a value is either shown whole or described,
never cut part-way (a cut value could read as a different, plausible one). What matters
most for data loss stays longest: replacements, deletions and protected or stateful
resources, and mandatory policy findings.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from platformctl.changes import PolicyFinding, PreviewOutcome, ResourceChange
from platformctl.review.model import ChangeDocument, ReviewKind
from platformctl.review.redact import Redactor

# A property value whose JSON is longer than this is described (rung 2) rather than shown.
VALUE_LIMIT = 400
# Finding messages and remediations are cut (at a word boundary) to this on rungs 5 and 6.
MESSAGE_LIMIT = 300
SHORT_MESSAGE_LIMIT = 120
# Error lines of a failure document, on its second and third rungs.
LINE_LIMIT = 500
SHORT_LINE_LIMIT = 200
DESTRUCTIVE = frozenset({"replace", "delete"})
KUBERNETES_SECRETS = frozenset({"kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch"})

Json = dict[str, Any]


@dataclass(frozen=True)
class ReleasePlan:
    service: str
    strategy: str
    image: str
    previous_image: str | None
    candidate_slot: str
    live_slot: str
    steps: tuple[str, ...]  # step labels, e.g. "set-weight 5%", "analyse 300s"

    def to_json(self, redactor: Redactor, *, steps: bool = True) -> Json:
        shown: Json = {
            "service": redactor.text(self.service),
            "strategy": redactor.text(self.strategy),
            "image": redactor.text(self.image),
            "previousImage": redactor.text(self.previous_image) if self.previous_image else None,
            "candidateSlot": redactor.text(self.candidate_slot),
            "liveSlot": redactor.text(self.live_slot),
        }
        if steps:
            shown["steps"] = [redactor.text(step) for step in self.steps]
        return shown


def dumps(document: Json) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- pre-release -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Change:
    """One resource change, redacted once; each rung shows it in its own detail."""

    urn: str
    type: str
    operation: str
    protected: bool
    stateful: bool
    properties: tuple[tuple[str, Any, Any], ...]  # (name, old, new), redacted
    changed_inputs: tuple[str, ...]

    @property
    def important(self) -> bool:
        return self.operation in DESTRUCTIVE or self.protected or self.stateful

    def head(self) -> Json:
        return {
            "urn": self.urn,
            "type": self.type,
            "operation": self.operation,
            "protected": self.protected,
            "stateful": self.stateful,
        }

    def with_values(self, limit: int | None) -> Json:
        if not self.properties:
            return self.with_names()
        shown = {
            name: {"old": _within(old, limit), "new": _within(new, limit)}
            for name, old, new in self.properties
        }
        return {**self.head(), "properties": shown}

    def with_names(self) -> Json:
        names = [name for name, _, _ in self.properties] or list(self.changed_inputs)
        return {**self.head(), "changedInputs": names} if names else self.head()


def change_document(
    *,
    stack: str,
    environment: str,
    outcome: PreviewOutcome,
    plan: ReleasePlan | None,
    stateful_types: Collection[str],
    known_secrets: Collection[str],
    max_chars: int,
) -> ChangeDocument:
    """The planned change of one stack before a release (kind ``pre-release``)."""
    redactor = Redactor(known_secrets)
    # Learn every secret first: one shown in plain text elsewhere (an output, a message)
    # is masked wherever it comes up, including in changes redacted before its own.
    for change in outcome.changes:
        for prop in change.properties:
            redactor.learn(prop.old)
            redactor.learn(prop.new)
    changes = [
        _redacted_change(redactor, change, stateful_types)
        for change in outcome.changes
        if change.operation != "same"
    ]
    # Mandatory first (a stable sort keeps the engine's order otherwise), as the smallest
    # rung keeps the first findings that fit.
    findings = sorted(outcome.findings, key=lambda f: f.enforcement_level != "mandatory")
    head: Json = {
        "kind": ReviewKind.PRE_RELEASE.value,
        "stack": redactor.text(stack),
        "environment": redactor.text(environment),
        "counts": outcome.counts(),
    }
    release = plan.to_json(redactor) if plan else None
    shown_findings = [_finding(redactor, f, None) for f in findings]
    important = [c for c in changes if c.important]
    touches = [
        {"urn": c.urn, "operation": c.operation} for c in changes if c.protected or c.stateful
    ]
    routine = [c for c in changes if not c.important]

    def detailed(shown_changes: list[Json], note: str | None, grouped: bool = False) -> Json:
        document = {
            **head,
            "changes": shown_changes,
            "touchesProtectedOrStateful": touches,
            "policyFindings": shown_findings,
        }
        if grouped:
            document["otherChanges"] = _grouped(routine)
        return _finish(document, release, note)

    grouped_note = (
        f"property values left out; {len(routine):,} other changes (no replace or delete, no "
        "protected or stateful resource) are counted by type and operation (otherChanges)"
    )
    rungs: list[Callable[[], Json]] = [
        lambda: detailed([c.with_values(None) for c in changes], None),
        lambda: detailed(
            [c.with_values(VALUE_LIMIT) for c in changes],
            f"property values longer than {VALUE_LIMIT} characters are described, not shown",
        ),
        lambda: detailed([c.with_names() for c in changes], "property values left out"),
        lambda: detailed([c.with_names() for c in important], grouped_note, grouped=True),
        lambda: _finish(
            {
                **head,
                "changes": [c.head() for c in important],
                "otherChanges": _grouped(routine),
                "policyFindings": [_finding(redactor, f, MESSAGE_LIMIT) for f in findings],
            },
            release,
            grouped_note.replace("property values", "properties and values")
            + f"; finding messages shortened to {MESSAGE_LIMIT} characters",
        ),
        lambda: _fill_essentials(head, important, findings, redactor, plan, max_chars),
    ]
    return _first_fitting(ReviewKind.PRE_RELEASE, rungs, max_chars)


def _redacted_change(
    redactor: Redactor, change: ResourceChange, stateful_types: Collection[str]
) -> _Change:
    secret_object = change.type in KUBERNETES_SECRETS
    properties = tuple(
        (
            redactor.text(prop.name),
            _property_value(redactor, prop.name, prop.old, secret_object),
            _property_value(redactor, prop.name, prop.new, secret_object),
        )
        for prop in change.properties
    )
    return _Change(
        urn=redactor.text(change.urn),
        type=redactor.text(change.type),
        operation=change.operation,
        protected=change.protected,
        stateful=change.type in stateful_types,
        properties=properties,
        changed_inputs=tuple(redactor.text(name) for name in change.changed_inputs),
    )


def _property_value(redactor: Redactor, name: str, value: Any, secret_object: bool) -> Any:
    if secret_object and name in ("data", "stringData"):
        # A Secret's top-level inputs arrive one by one, so its `kind` is not beside them.
        return redactor.secret_data(value)
    return redactor.value(value, key=name)


def _finding(
    redactor: Redactor, finding: PolicyFinding, limit: int | None, *, remediation: bool = True
) -> Json:
    shown = {
        "policyPack": redactor.text(finding.policy_pack),
        "policy": redactor.text(finding.policy_name),
        "enforcementLevel": finding.enforcement_level,
        "urn": redactor.text(finding.urn),
        "message": _shortened(redactor.text(finding.message), limit),
    }
    if remediation:
        shown["remediation"] = _shortened(redactor.text(finding.remediation), limit)
    return shown


def _grouped(changes: Sequence[_Change]) -> list[Json]:
    counts: dict[tuple[str, str], int] = {}
    for change in changes:
        counts[change.type, change.operation] = counts.get((change.type, change.operation), 0) + 1
    return [
        {"type": type_, "operation": operation, "count": count}
        for (type_, operation), count in sorted(counts.items())
    ]


def _fill_essentials(
    head: Json,
    important: Sequence[_Change],
    findings: Sequence[PolicyFinding],
    redactor: Redactor,
    plan: ReleasePlan | None,
    max_chars: int,
) -> Json:
    """The last rung: counts, then as many mandatory findings (short messages) and then
    replacements, deletions and protected or stateful changes as fit, in their order."""
    mandatory = [
        _finding(redactor, f, SHORT_MESSAGE_LIMIT, remediation=False)
        for f in findings
        if f.enforcement_level == "mandatory"
    ]
    changes = [{"urn": c.urn, "operation": c.operation} for c in important]
    release = plan.to_json(redactor, steps=False) if plan else None

    def build(findings_shown: int, changes_shown: int) -> Json:
        note = (
            f"only counts are complete: {findings_shown} of {len(mandatory)} mandatory "
            f"findings (messages shortened, no remediation), {changes_shown} of {len(changes)} "
            "replacements, deletions and protected or stateful changes shown; property names "
            "and values, other changes and findings, and release steps left out"
        )
        document = {
            **head,
            "policyFindings": mandatory[:findings_shown],
            "changes": changes[:changes_shown],
        }
        return _finish(document, release, note)

    if len(dumps(build(0, 0))) > max_chars:
        release = None  # an absurdly long image name: the counts matter more
    budget = max_chars - len(dumps(build(0, 0)))
    findings_shown = _how_many(mandatory, budget)
    budget -= _chars(mandatory[:findings_shown])
    changes_shown = _how_many(changes, budget) if findings_shown == len(mandatory) else 0
    # The note's numbers grew by a few digits: give back items until it all fits.
    while len(dumps(build(findings_shown, changes_shown))) > max_chars and (
        findings_shown or changes_shown
    ):
        if changes_shown:
            changes_shown -= 1
        else:
            findings_shown -= 1
    return build(findings_shown, changes_shown)


def _how_many(items: Sequence[Json], budget: int) -> int:
    """How many of the first items fit in ``budget`` characters of a JSON list."""
    used = 0
    for count, item in enumerate(items):
        used += len(dumps(item)) + (1 if count else 0)
        if used > budget:
            return count
    return len(items)


def _chars(items: Sequence[Json]) -> int:
    return sum(len(dumps(item)) for item in items) + max(len(items) - 1, 0)


def _within(value: Any, limit: int | None) -> Any:
    """The value itself, or (when its JSON is longer than ``limit``) what it is."""
    if limit is None:
        return value
    chars = len(json.dumps(value, ensure_ascii=False))
    if chars <= limit:
        return value
    if isinstance(value, dict):
        return f"<object with {_plural(len(value), 'key')}, {chars:,} chars>"
    if isinstance(value, list):
        return f"<list of {_plural(len(value), 'item')}, {chars:,} chars>"
    if isinstance(value, str):
        return f"<text of {len(value):,} chars>"
    return f"<value of {chars:,} chars>"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


# --- canary ------------------------------------------------------------------------------


# long: the ladder's rungs close over one series; split apart they would pass it all around
def canary_document(
    *,
    stack: str,
    environment: str,
    service: str,
    step: str,
    weight: int | None,
    rounds: Sequence[Mapping[str, Any]],
    max_chars: int,
    known_secrets: Collection[str] = (),
) -> ChangeDocument:
    """One analysis step's metrics, candidate against live, round by round (``canary``).

    ``rounds`` are the driver's analysis events: ``round``, ``measurements`` (each a
    ``Measurement.to_json()``) and ``judgement``. ``known_secrets`` are masked wherever
    they appear (a reason quoting a query's credentials, an error)."""
    redactor = Redactor(known_secrets)
    numbers = [_round_number(r, index) for index, r in enumerate(rounds)]
    judgements = [redactor.text(str(r.get("judgement", ""))) for r in rounds]
    series = _series(redactor, rounds)
    head: Json = {
        "kind": ReviewKind.CANARY.value,
        "stack": redactor.text(stack),
        "environment": redactor.text(environment),
        "service": redactor.text(service),
        "step": redactor.text(step),
        "weight": weight,
    }

    def shown(first: int, reasons: Callable[[Json], Json], note: str | None) -> Json:
        metrics = {
            name: {**_sliced(metric, first), **reasons(metric)} for name, metric in series.items()
        }
        document = {
            **head,
            "rounds": numbers[first:],
            "judgements": judgements[first:],
            "metrics": metrics,
        }
        return _finish(document, None, note)

    def every_reason(metric: Json) -> Json:
        return {"reasons": metric["reasons"]}

    def failing_reasons(metric: Json) -> Json:
        failing = {
            str(number): reason
            for number, reason, verdict in zip(
                numbers, metric["reasons"], metric["verdicts"], strict=True
            )
            if verdict not in ("pass", None)
        }
        return {"lastReason": _last(metric["reasons"]), "reasonsNotPassing": failing}

    def last_reason(metric: Json) -> Json:
        return {"lastReason": _shortened(_last(metric["reasons"]), MESSAGE_LIMIT)}

    def latest(first: int) -> Json:
        left_out = f"rounds {numbers[0]}-{numbers[first - 1]} left out; " if first else ""
        return shown(first, last_reason, left_out + "only the last round's reasons shown")

    def fewest_rounds() -> Json:
        """The latest rounds that fit (a longer series of older rounds left out)."""
        first = next(
            (f for f in range(len(rounds)) if len(dumps(latest(f))) <= max_chars),
            len(rounds),
        )
        return latest(first)

    rungs: list[Callable[[], Json]] = [
        lambda: shown(0, every_reason, None),
        lambda: shown(0, failing_reasons, "reasons shown for rounds that did not pass only"),
        lambda: latest(0),
        fewest_rounds,
        lambda: _finish(
            {**head, "rounds": numbers[-1:], "judgements": judgements[-1:]},
            None,
            "metrics left out; only the last round's judgement shown",
        ),
    ]
    return _first_fitting(ReviewKind.CANARY, rungs, max_chars)


def _round_number(round_: Mapping[str, Any], index: int) -> Any:
    number = round_.get("round")
    return number if isinstance(number, int) and not isinstance(number, bool) else index + 1


def _series(redactor: Redactor, rounds: Sequence[Mapping[str, Any]]) -> dict[str, Json]:
    """Per metric, lists aligned with the rounds (None where a round did not measure it)."""
    series: dict[str, Json] = {}
    fields = ("values", "liveValues", "verdicts", "reasons", "errors")
    for index, round_ in enumerate(rounds):
        for measurement in _measurements(round_):
            name = redactor.text(str(measurement.get("metric", "")))
            metric = series.setdefault(name, {f: [None] * len(rounds) for f in fields})
            metric["values"][index] = _number(measurement.get("value"))
            metric["liveValues"][index] = _number(measurement.get("liveValue"))
            metric["verdicts"][index] = redactor.text(str(measurement.get("verdict", "")))
            metric["reasons"][index] = redactor.text(str(measurement.get("reason", "")))
            metric["errors"][index] = bool(measurement.get("error", False))
    return series


def _measurements(round_: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for measurement in round_.get("measurements") or ():
        if isinstance(measurement, Mapping):
            yield measurement
        elif hasattr(measurement, "to_json"):  # a Measurement itself
            yield measurement.to_json()


def _sliced(metric: Json, first: int) -> Json:
    shown: Json = {
        "value": metric["values"][first:],
        "liveValue": metric["liveValues"][first:],
        "verdict": metric["verdicts"][first:],
    }
    if any(metric["errors"][first:]):
        shown["error"] = metric["errors"][first:]
    return shown


def _number(value: Any) -> Any:
    """Six significant digits (the noise beyond says nothing); JSON has no NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None if value is None else str(value)
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        return str(value)
    return float(f"{number:.6g}") if math.isfinite(number) else str(number)


def _last(reasons: Sequence[str | None]) -> str:
    return next((reason for reason in reversed(reasons) if reason is not None), "")


# --- failure -----------------------------------------------------------------------------


def failure_document(
    *,
    stack: str,
    environment: str,
    operation: str,
    errors: Sequence[str],
    known_secrets: Collection[str],
    max_chars: int,
) -> ChangeDocument:
    """A failed ``up`` (or other operation): its error lines, redacted (``failure``)."""
    redactor = Redactor(known_secrets)
    # Whole messages are redacted before they are split: a PEM block or a kubeconfig spans
    # lines, and a line of one alone no longer looks like a secret.
    lines = [
        line.rstrip()
        for error in errors
        for line in redactor.text(str(error)).splitlines()
        if line.strip()
    ]
    head: Json = {
        "kind": ReviewKind.FAILURE.value,
        "stack": redactor.text(stack),
        "environment": redactor.text(environment),
        "operation": redactor.text(operation),
    }

    def with_lines(shown: list[str], note: str | None) -> Json:
        return _finish({**head, "errors": shown}, None, note)

    rungs: list[Callable[[], Json]] = [
        lambda: with_lines(lines, None),
        lambda: with_lines(
            _distinct(lines, LINE_LIMIT),
            f"repeated lines shown once; lines shortened to {LINE_LIMIT} characters",
        ),
        lambda: _ends(head, _distinct(lines, SHORT_LINE_LIMIT), max_chars),
    ]
    return _first_fitting(ReviewKind.FAILURE, rungs, max_chars)


def _distinct(lines: Sequence[str], limit: int) -> list[str]:
    counts: dict[str, int] = {}
    for line in lines:
        counts[line] = counts.get(line, 0) + 1
    return [
        _shortened(line, limit) + (f" (repeated {count} times)" if count > 1 else "")
        for line, count in counts.items()
    ]


def _ends(head: Json, lines: Sequence[str], max_chars: int) -> Json:
    """The first and last lines that fit (the summary and the final error usually say
    most), taken alternately from both ends, with how many were left out between them."""

    def build(first: int, last: int) -> Json:
        left_out = len(lines) - first - last
        middle = [f"… {left_out:,} lines left out …"] if left_out else []
        shown = [*lines[:first], *middle, *lines[len(lines) - last :]]
        note = f"{left_out:,} of {len(lines):,} error lines left out; lines shortened"
        return _finish({**head, "errors": shown}, None, note)

    first = last = 0
    while first + last < len(lines):
        wider = (first + 1, last) if first <= last else (first, last + 1)
        if len(dumps(build(*wider))) > max_chars:
            break
        first, last = wider
    return build(first, last)


# --- shared ------------------------------------------------------------------------------


def _finish(document: Json, release: Json | None, note: str | None) -> Json:
    if release is not None:
        document = {**document, "release": release}
    if note is not None:
        document = {**document, "summarised": note}
    return document


def _first_fitting(
    kind: ReviewKind, rungs: Sequence[Callable[[], Json]], max_chars: int
) -> ChangeDocument:
    """The first rung whose text fits; each is only built when the one before did not."""
    for rung in rungs:
        document = rung()
        text = dumps(document)
        if len(text) <= max_chars:
            return ChangeDocument(kind=kind, text=text, summarised="summarised" in document)
    raise ValueError(
        f"the {kind.value} document does not fit in {max_chars:,} characters even summarised"
    )


def _shortened(text: str, limit: int | None) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (with "…")."""
    if limit is None or len(text) <= limit:
        return text
    cut = text[: limit - 1]
    at_space = cut.rfind(" ")
    if at_space > limit // 2:
        cut = cut[:at_space]
    return cut.rstrip() + "…"
