"""A rule: what it checks, why, how to fix it, how bad it is, which controls it answers to.

Rules are data plus an ``evaluate`` step. :class:`ResourceRule` judges one resource at a time
(the engine's ``Analyze``); :class:`StackRule` judges the whole stack with parents and
dependencies (``AnalyzeStack``). :func:`to_policy` turns either into the policy SDK's object,
so a pack is nothing but a list of rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyComplianceFramework,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from platform_common.pulumi_values import whole_numbers
from policies.framework.params import Param
from policies.framework.resources import Resource, StackView, each
from policies.framework.values import Undecidable, unknown


class Pack(StrEnum):
    SECURITY = "security"
    QUALITY = "quality"


# The frameworks a rule can cite, with the version the IDs refer to.
CIS_AWS = ("CIS AWS Foundations Benchmark", "3.0.0")
FSBP = ("AWS Foundational Security Best Practices", "1.0.0")
PSS = ("Kubernetes Pod Security Standards", "v1.33")


@dataclass(frozen=True)
class Compliance:
    """The public controls a rule answers to, as IDs (see docs/policies/coverage.md)."""

    cis: tuple[str, ...] = ()  # CIS AWS Foundations Benchmark 3.0.0 control ids
    fsbp: tuple[str, ...] = ()  # Security Hub FSBP control ids, e.g. RDS.27
    pss: tuple[str, ...] = ()  # Pod Security Standards "<level>: <control>"
    checkov: tuple[str, ...] = ()  # CKV_AWS_n / CKV2_AWS_n / CKV_K8S_n
    awsguard: tuple[str, ...] = ()  # policy names of Pulumi's AWSGuard pack

    def framework(self) -> PolicyComplianceFramework | None:
        """The SDK carries one framework per policy: the benchmark if one applies."""
        for (name, version), ids in ((CIS_AWS, self.cis), (FSBP, self.fsbp), (PSS, self.pss)):
            if ids:
                return PolicyComplianceFramework(
                    name=name, version=version, reference=", ".join(ids)
                )
        return None

    def tags(self) -> list[str]:
        return [
            *(f"cis-aws:{i}" for i in self.cis),
            *(f"fsbp:{i}" for i in self.fsbp),
            *(f"pss:{i}" for i in self.pss),
            *(f"checkov:{i}" for i in self.checkov),
            *(f"awsguard:{i}" for i in self.awsguard),
        ]


@dataclass(frozen=True)
class Finding:
    message: str
    urn: str | None = None  # stack rules name the resource at fault; None: the stack


@dataclass(frozen=True, kw_only=True)
class Rule:
    name: str
    description: str
    remediation: str
    severity: Severity
    pack: Pack
    resource_types: tuple[str, ...]
    compliance: Compliance = field(default_factory=Compliance)
    # None: the pack's default (security: mandatory, quality: advisory).
    enforcement: EnforcementLevel | None = None
    params: tuple[Param, ...] = ()

    def settings(self, config: Mapping[str, Any] | None) -> dict[str, Any]:
        """The rule's parameters: schema defaults, then the stack's policy config."""
        values = {p.name: p.default for p in self.params}
        values.update({k: v for k, v in (config or {}).items() if k != "enforcementLevel"})
        return {k: whole_numbers(v) for k, v in values.items()}

    def config_schema(self) -> PolicyConfigSchema | None:
        if not self.params:
            return None
        return PolicyConfigSchema(properties={p.name: dict(p.schema) for p in self.params})


@dataclass(frozen=True, kw_only=True)
class ResourceRule(Rule):
    evaluate: Callable[[Resource, Mapping[str, Any]], Iterable[str]]


@dataclass(frozen=True, kw_only=True)
class StackRule(Rule):
    evaluate: Callable[[StackView, Mapping[str, Any]], Iterable[Finding]]


Judge = Callable[[Resource, StackView, Mapping[str, Any]], Iterable["Finding | str"]]


def stack_rule(*, over: tuple[str, ...], judge: Judge, **metadata: Any) -> StackRule:
    """A stack rule that judges each resource of the ``over`` types in the light of the whole
    stack. A plain message is a finding on the judged resource; a resource whose verdict
    needs an unknown value is passed over without silencing the others."""

    def evaluate(stack: StackView, settings: Mapping[str, Any]) -> Iterable[Finding]:
        def findings(resource: Resource) -> Iterable[Finding]:
            for found in judge(resource, stack, settings):
                yield found if isinstance(found, Finding) else Finding(found, resource.urn)

        return each(stack.of_type(*over), findings)

    metadata.setdefault("resource_types", over)
    return StackRule(evaluate=evaluate, **metadata)


def to_policy(rule: Rule) -> Policy:
    common: dict[str, Any] = {
        "name": rule.name,
        "description": rule.description,
        "enforcement_level": rule.enforcement,
        "config_schema": rule.config_schema(),
        "severity": rule.severity,
        "framework": rule.compliance.framework(),
        "tags": [f"pack:{rule.pack}", *rule.compliance.tags()],
        "remediation_steps": rule.remediation,
    }
    if isinstance(rule, ResourceRule):
        return ResourceValidationPolicy(validate=_resource_validation(rule), **common)
    if isinstance(rule, StackRule):
        return StackValidationPolicy(validate=_stack_validation(rule), **common)
    raise TypeError(f"{rule.name}: not a ResourceRule or StackRule")


def _resource_validation(
    rule: ResourceRule,
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    types = frozenset(rule.resource_types)

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in types:
            return
        resource = Resource(
            type=args.resource_type,
            urn=args.urn,
            name=args.name,
            raw=args.props,
            protect=bool(args.opts.protect),
            parent=args.opts.parent,
        )
        # Findings are reported as they come: a known violation stands even when a later
        # check of the same rule meets an unknown value (the SDK then adds its note).
        try:
            for message in rule.evaluate(resource, rule.settings(args.get_config())):
                report_violation(message, None)
        except Undecidable as exc:
            raise unknown(None, exc.path or "(a property this policy reads)") from None

    return validate


def _stack_validation(rule: StackRule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        stack = StackView.from_policy_resources(args.resources)
        try:
            for finding in rule.evaluate(stack, rule.settings(args.get_config())):
                report_violation(finding.message, finding.urn)
        except Undecidable as exc:
            raise unknown(None, exc.path or "(a property this policy reads)") from None

    return validate
