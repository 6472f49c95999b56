"""The documents the AI reviewer reads: what a pre-release document shows, that it is
redacted and byte-identical for the same input, and that a huge preview is summarised to fit
the size bound (never cut mid-value) while replacements, deletions, protected or stateful
resources and mandatory findings stay longest; canary and failure documents likewise."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from pydantic import ValidationError

from infra.settings.review import ReviewSettings
from platform_common.pulumi_values import as_secret
from platformctl.changes import PolicyFinding, PreviewOutcome, PropertyChange, ResourceChange
from platformctl.ports import Measurement, Verdict
from platformctl.review.document import (
    VALUE_LIMIT,
    ReleasePlan,
    canary_document,
    change_document,
    failure_document,
)
from platformctl.review.model import ReviewKind

CLUSTER = "aws:rds/cluster:Cluster"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"
STATEFUL = frozenset({CLUSTER, "aws:s3/bucket:Bucket"})
OLD_PASSWORD = "oldPasswordValue9"
NEW_PASSWORD = "newPasswordValue7"
DESCRIBED = re.compile(r"<(object with [\d,]+ keys?|list of [\d,]+ items?|text of|value of)[^>]*>")


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:prod::platform::{type_}::{name}"


PLAN = ReleasePlan(
    service="chat-api",
    strategy="canary",
    image="registry.example.com/chat-api:1.5.0",
    previous_image="registry.example.com/chat-api:1.4.0",
    candidate_slot="green",
    live_slot="blue",
    steps=("set-weight 5%", "analyse 300s", "set-weight 50%", "promote"),
)


def realistic_outcome() -> PreviewOutcome:
    cluster = ResourceChange(
        urn(CLUSTER, "chat-db"),
        CLUSTER,
        "replace",
        protected=True,
        changed_inputs=("engineVersion", "masterPassword"),
        properties=(
            PropertyChange("engineVersion", "15.4", "16.1"),
            PropertyChange("masterPassword", as_secret(OLD_PASSWORD), as_secret(NEW_PASSWORD)),
            PropertyChange("manageMasterUserPassword", True, False),
        ),
    )
    config = ResourceChange(
        urn(CONFIG_MAP, "chat-config"),
        CONFIG_MAP,
        "update",
        changed_inputs=("data",),
        properties=(
            PropertyChange(
                "data",
                {"DATABASE_URL": f"postgres://chat:{OLD_PASSWORD}@db:5432/chat"},
                # The new password, in plain text where the engine has no marker for it.
                {
                    "DATABASE_URL": f"postgres://chat:{NEW_PASSWORD}@db:5432/chat",
                    "NOTE": NEW_PASSWORD,
                },
            ),
        ),
    )
    secret = ResourceChange(
        urn(SECRET, "chat-db"),
        SECRET,
        "update",
        changed_inputs=("stringData",),
        properties=(PropertyChange("stringData", {"url": "plainSecretText1"}, {"url": "x2"}),),
    )
    deployment = ResourceChange(
        urn(DEPLOYMENT, "chat-api-green"), DEPLOYMENT, "update", changed_inputs=("spec",)
    )
    bucket = ResourceChange(urn("aws:s3/bucket:Bucket", "logs"), "aws:s3/bucket:Bucket", "same")
    findings = (
        PolicyFinding(
            "platform-aws",
            "required-tags",
            "advisory",
            urn(CONFIG_MAP, "chat-config"),
            "missing tag owner",
        ),
        PolicyFinding(
            "platform-aws",
            "protect-stateful-resources",
            "mandatory",
            urn(CLUSTER, "chat-db"),
            f"would replace a protected cluster (password {NEW_PASSWORD})",
            "unprotect deliberately",
        ),
    )
    # The plain-text password comes before its marker: learned first all the same.
    return PreviewOutcome((config, cluster, secret, deployment, bucket), findings)


def document_of(outcome: PreviewOutcome, max_chars: int = 24_000, **kwargs: Any) -> Any:
    return change_document(
        stack="prod",
        environment="prod",
        outcome=outcome,
        plan=kwargs.get("plan", PLAN),
        stateful_types=STATEFUL,
        known_secrets=kwargs.get("known_secrets", ()),
        max_chars=max_chars,
    )


def test_the_pre_release_document_shows_the_change_redacted() -> None:
    document = document_of(realistic_outcome())
    shown = json.loads(document.text)
    assert document.kind is ReviewKind.PRE_RELEASE and not document.summarised
    assert "summarised" not in shown
    assert (shown["stack"], shown["environment"]) == ("prod", "prod")
    assert shown["counts"] == {"replace": 1, "update": 3, "same": 1}
    config, cluster, secret, deployment = shown["changes"]  # "same" is only counted
    assert cluster == {
        "urn": urn(CLUSTER, "chat-db"),
        "type": CLUSTER,
        "operation": "replace",
        "protected": True,
        "stateful": True,
        "properties": {
            "engineVersion": {"old": "15.4", "new": "16.1"},
            "masterPassword": {"old": "[secret]", "new": "[secret]"},
            "manageMasterUserPassword": {"old": True, "new": False},
        },
    }
    assert config["properties"]["data"]["new"] == {
        "DATABASE_URL": "postgres://[secret]@db:5432/chat",
        "NOTE": "[secret]",
    }
    assert secret["properties"]["stringData"] == {
        "old": {"url": "[secret]"},
        "new": {"url": "[secret]"},
    }
    assert deployment["changedInputs"] == ["spec"]
    assert shown["touchesProtectedOrStateful"] == [
        {"urn": urn(CLUSTER, "chat-db"), "operation": "replace"}
    ]
    mandatory, advisory = shown["policyFindings"]
    assert mandatory == {
        "policyPack": "platform-aws",
        "policy": "protect-stateful-resources",
        "enforcementLevel": "mandatory",
        "urn": urn(CLUSTER, "chat-db"),
        "message": "would replace a protected cluster (password [secret])",
        "remediation": "unprotect deliberately",
    }
    assert advisory["enforcementLevel"] == "advisory"
    assert shown["release"] == {
        "service": "chat-api",
        "strategy": "canary",
        "image": "registry.example.com/chat-api:1.5.0",
        "previousImage": "registry.example.com/chat-api:1.4.0",
        "candidateSlot": "green",
        "liveSlot": "blue",
        "steps": ["set-weight 5%", "analyse 300s", "set-weight 50%", "promote"],
    }
    for secret_text in (OLD_PASSWORD, NEW_PASSWORD, "plainSecretText1"):
        assert secret_text not in document.text


def test_a_given_known_secret_is_masked_in_the_document() -> None:
    outcome = PreviewOutcome(
        (
            ResourceChange(
                urn(DEPLOYMENT, "worker"),
                DEPLOYMENT,
                "update",
                properties=(PropertyChange("args", ["--dsn-file=/x"], ["run sharedSecretXyz"]),),
            ),
        )
    )
    document = document_of(outcome, known_secrets=("sharedSecretXyz",))
    assert "sharedSecretXyz" not in document.text
    assert "run [secret]" in document.text


def test_the_document_is_byte_identical_for_the_same_input() -> None:
    first, second = document_of(realistic_outcome()), document_of(realistic_outcome())
    assert first.text == second.text and first.sha256 == second.sha256
    assert first.text == json.dumps(
        json.loads(first.text), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def test_without_a_plan_the_document_has_no_release() -> None:
    assert "release" not in json.loads(document_of(realistic_outcome(), plan=None).text)


# --- size bound -----------------------------------------------------------------------------


def huge_outcome(changes: int = 3_000, keys: int = 40) -> PreviewOutcome:
    """Mostly routine Deployment updates with big specs; every 7th a replace, every 50th on
    a protected resource, every 11th on a stateful bucket; mandatory and advisory findings."""
    resources = []
    for n in range(changes):
        type_ = "aws:s3/bucket:Bucket" if n % 11 == 0 else DEPLOYMENT
        operation = "replace" if n % 7 == 0 else ("create" if n % 5 == 0 else "update")
        spec = {f"field{k}": f"value {n} {k} " + "x" * 40 for k in range(keys)}
        resources.append(
            ResourceChange(
                urn(type_, f"r{n}"),
                type_,
                operation,
                protected=n % 50 == 0,
                changed_inputs=("spec", "metadata"),
                properties=(
                    PropertyChange("spec", spec, {**spec, "field0": f"changed {n}"}),
                    PropertyChange("metadata", {"name": f"r{n}"}, {"name": f"r{n}"}),
                ),
            )
        )
    findings = [
        PolicyFinding(
            "pack",
            f"rule-{n}",
            "advisory" if n % 2 else "mandatory",
            urn(DEPLOYMENT, f"r{n}"),
            "word " * 100,
        )
        for n in range(10)
    ]
    return PreviewOutcome(tuple(resources), tuple(findings))


def important_urns(outcome: PreviewOutcome) -> set[str]:
    return {
        c.urn
        for c in outcome.changes
        if c.operation in ("replace", "delete") or c.protected or c.type in STATEFUL
    }


def shown_values(document: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (change["urn"], value)
        for change in document.get("changes", ())
        for diff in change.get("properties", {}).values()
        for value in (diff["old"], diff["new"])
    ]


@pytest.mark.parametrize("max_chars", [2_000, 24_000, 200_000])
def test_a_huge_preview_is_summarised_to_fit_the_bound(max_chars: int) -> None:
    outcome = huge_outcome()
    document = document_of(outcome, max_chars)
    assert len(document.text) <= max_chars
    shown = json.loads(document.text)
    assert document.summarised and shown["summarised"]
    assert shown["counts"] == outcome.counts()  # counts are always complete
    assert document.text == document_of(outcome, max_chars).text


def test_at_a_moderate_size_every_destructive_protected_and_mandatory_item_stays() -> None:
    outcome = huge_outcome(changes=300, keys=20)
    document = document_of(outcome, 60_000)
    shown = json.loads(document.text)
    assert document.summarised
    assert {c["urn"] for c in shown["changes"]} >= important_urns(outcome)
    shown_rules = {f["policy"] for f in shown["policyFindings"]}
    assert shown_rules >= {f.policy_name for f in outcome.blocking}


def test_mandatory_findings_outlast_the_changes_at_the_smallest_size() -> None:
    outcome = huge_outcome()
    shown = json.loads(document_of(outcome, 3_000).text)
    assert [f["policy"] for f in shown["policyFindings"]] == [
        f.policy_name for f in outcome.blocking
    ]
    assert all(f["enforcementLevel"] == "mandatory" for f in shown["policyFindings"])
    assert len(shown["changes"]) < len(important_urns(outcome))


@pytest.mark.parametrize("max_chars", [12_000, 30_000, 120_000, 400_000])
def test_no_value_is_cut_part_way(max_chars: int) -> None:
    outcome = huge_outcome(changes=120, keys=12)
    full = {c.urn: c for c in outcome.changes}
    shown = json.loads(document_of(outcome, max_chars).text)
    for urn_, value in shown_values(shown):
        expected = [p.old for p in full[urn_].properties] + [p.new for p in full[urn_].properties]
        assert value in expected or (isinstance(value, str) and DESCRIBED.fullmatch(value)), value


def test_big_values_are_described_before_anything_is_left_out() -> None:
    outcome = huge_outcome(changes=40, keys=12)
    full_length = len(document_of(outcome, 10_000_000).text)
    document = document_of(outcome, full_length - 1)
    shown = json.loads(document.text)
    values = [value for _, value in shown_values(shown)]
    assert len(values) == 2 * 2 * 40  # every change keeps old and new of both properties
    assert "<object with 12 keys, " in document.text
    assert {"name": "r1"} in values  # small values stay as they are
    assert str(VALUE_LIMIT) in shown["summarised"]


def test_a_preview_too_large_for_any_summary_to_fit_is_refused() -> None:
    # Below the settings' minimum: not even the counts fit.
    with pytest.raises(ValueError, match="does not fit"):
        document_of(huge_outcome(changes=10), 50)


def test_a_pathological_preview_fits_the_smallest_allowed_bound() -> None:
    """10,000 replaced stateful resources with very long URNs, 500 mandatory findings with
    long messages, a long release plan: at the settings' minimum (2,000) the last rung
    still fits, with the counts and what else fits."""
    minimum = ReviewSettings.model_validate({"maxDocumentChars": 2_000}).max_document_chars
    with pytest.raises(ValidationError):
        ReviewSettings.model_validate({"maxDocumentChars": minimum - 1})
    name = "a-very-long-resource-name-" * 12
    changes = tuple(
        ResourceChange(urn(CLUSTER, f"{name}{n}"), CLUSTER, "replace", protected=True)
        for n in range(10_000)
    )
    findings = tuple(
        PolicyFinding(
            "platform-aws-" + "p" * 60,
            f"protect-stateful-resources-{n}",
            "mandatory",
            changes[n].urn,
            "would replace a protected stateful resource " * 30,
            "unprotect it deliberately " * 30,
        )
        for n in range(500)
    )
    plan = ReleasePlan("chat-api", "canary", "repo/app:" + "c" * 3_000, None, "g", "b", ("x",) * 99)
    outcome = PreviewOutcome(changes, findings)
    document = document_of(outcome, minimum, plan=plan)
    shown = json.loads(document.text)
    assert len(document.text) <= minimum and document.summarised
    assert shown["counts"] == {"replace": 10_000}
    assert 0 < len(shown["policyFindings"]) < 500
    assert "of 500 mandatory findings" in shown["summarised"]


def test_a_json_property_value_is_redacted_as_its_structure() -> None:
    """An ECS task definition's containerDefinitions arrive as one JSON string."""
    definitions = json.dumps(
        [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": "ecsSecretValue5"}]}]
    )
    task = "aws:ecs/taskDefinition:TaskDefinition"
    outcome = PreviewOutcome(
        (
            ResourceChange(
                urn(task, "app"),
                task,
                "update",
                properties=(PropertyChange("containerDefinitions", None, definitions),),
            ),
        )
    )
    document = document_of(outcome)
    assert "ecsSecretValue5" not in document.text
    (change,) = json.loads(document.text)["changes"]
    shown = json.loads(change["properties"]["containerDefinitions"]["new"])
    assert shown == [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": "[secret]"}]}]


# --- canary ---------------------------------------------------------------------------------


def rounds(count: int) -> list[dict[str, Any]]:
    return [
        {
            "round": n,
            "measurements": [
                Measurement(
                    "error-rate",
                    Verdict.PASS if n < count else Verdict.FAIL,
                    f"error-rate {n / 100} outside [0, 0.01] (see https://admin:hunter2@grafana/x)",
                    value=n / 100,
                    live_value=0.004,
                ).to_json(),
                Measurement(
                    "p99-latency", Verdict.PASS, "p99 within", value=0.2 + n, live_value=0.21
                ).to_json(),
            ],
            "judgement": "continue" if n < count else "fail",
        }
        for n in range(1, count + 1)
    ]


def canary(count: int, max_chars: int = 24_000, **kwargs: Any) -> Any:
    return canary_document(
        stack="prod",
        environment="prod",
        service="chat-api",
        step="analyse 300s",
        weight=5,
        rounds=kwargs.get("rounds", rounds(count)),
        max_chars=max_chars,
        **({"known_secrets": kwargs["known_secrets"]} if "known_secrets" in kwargs else {}),
    )


def test_the_canary_document_shows_each_metrics_series() -> None:
    document = canary(3)
    shown = json.loads(document.text)
    assert document.kind is ReviewKind.CANARY and not document.summarised
    assert (shown["service"], shown["step"], shown["weight"]) == ("chat-api", "analyse 300s", 5)
    assert shown["rounds"] == [1, 2, 3]
    assert shown["judgements"] == ["continue", "continue", "fail"]
    errors = shown["metrics"]["error-rate"]
    assert errors["value"] == [0.01, 0.02, 0.03]
    assert errors["liveValue"] == [0.004, 0.004, 0.004]
    assert errors["verdict"] == ["pass", "pass", "fail"]
    assert shown["metrics"]["p99-latency"]["value"] == [1.2, 2.2, 3.2]
    assert "hunter2" not in document.text
    assert "https://[secret]@grafana/x" in errors["reasons"][0]


def test_a_given_known_secret_is_masked_in_the_canary_document() -> None:
    reason = "query failed: 401 for token promKnownSecret9 (service chat-api)"
    measurements = [Measurement("error-rate", Verdict.FAIL, reason, error=True).to_json()]
    shown_rounds = [{"round": 1, "measurements": measurements, "judgement": "fail"}]
    assert "promKnownSecret9" in canary(1, rounds=shown_rounds).text  # not known: shown
    document = canary(1, rounds=shown_rounds, known_secrets=("promKnownSecret9",))
    assert "promKnownSecret9" not in document.text
    reasons = json.loads(document.text)["metrics"]["error-rate"]["reasons"]
    assert reasons == ["query failed: 401 for token [secret] (service chat-api)"]


def test_a_long_canary_keeps_the_latest_rounds_within_the_bound() -> None:
    document = canary(400, max_chars=4_000)
    shown = json.loads(document.text)
    assert len(document.text) <= 4_000 and document.summarised
    assert shown["rounds"][-1] == 400 and shown["judgements"][-1] == "fail"
    assert shown["metrics"]["error-rate"]["verdict"][-1] == "fail"
    assert document.text == canary(400, max_chars=4_000).text


# --- failure --------------------------------------------------------------------------------


def test_the_failure_document_shows_the_errors_redacted() -> None:
    document = failure_document(
        stack="prod",
        environment="prod",
        operation="up",
        errors=[
            "error: update failed",
            "  aws:rds:Cluster chat-db: password=hunter2hunter is invalid\nconnecting to "
            "postgres://app:pw123456@db:5432",
            "token leakedKnownSecret rejected",
        ],
        known_secrets=("leakedKnownSecret",),
        max_chars=24_000,
    )
    shown = json.loads(document.text)
    assert document.kind is ReviewKind.FAILURE and not document.summarised
    assert shown["operation"] == "up"
    assert shown["errors"] == [
        "error: update failed",
        "  aws:rds:Cluster chat-db: password=[secret] is invalid",
        "connecting to postgres://[secret]@db:5432",
        "token [secret] rejected",
    ]


def test_a_long_failure_keeps_its_first_and_last_lines_within_the_bound() -> None:
    errors = ["error: first line says what failed"] + [
        f"detail {n} " + "y" * 80 for n in range(500)
    ]
    errors.append("error: the last line says why")
    document = failure_document(
        stack="prod",
        environment="prod",
        operation="up",
        errors=errors,
        known_secrets=(),
        max_chars=3_000,
    )
    shown = json.loads(document.text)
    assert len(document.text) <= 3_000 and document.summarised
    assert shown["errors"][0] == "error: first line says what failed"
    assert shown["errors"][-1] == "error: the last line says why"
    assert any("lines left out" in line for line in shown["errors"])
