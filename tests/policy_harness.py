"""Hand-made resources judged by the real policy packs, over the Analyzer protocol.

A case lists resources as the engine registers them: wire-form properties (camelCase),
property dependencies naming other resources of the case, options. The harness builds the
preview the engine would hold and drives the running packs through
``offline_preview.policy_run`` exactly as an offline preview does: ``Configure`` with the
case's config, ``Analyze`` per resource, ``AnalyzeStack``. Nothing calls a rule directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.rpc import UNKNOWN

from offline_preview.engine import STACK_TYPE, CapturedResource, PreviewResult
from offline_preview.policy_report import Violation
from offline_preview.policy_run import PolicyPacks, PolicyPackSource
from policies.framework.rule import Pack
from policies.rules import CATALOGUE
from tests.conftest import REPOSITORY

PROJECT, STACK = "policy-tests", "test"
__all__ = ["UNKNOWN", "Harness", "Res", "preview_of"]


@dataclass(frozen=True)
class Res:
    type: str
    name: str
    props: Mapping[str, Any] = field(default_factory=dict)
    deps: Mapping[str, Sequence[str]] = field(default_factory=dict)  # input -> resource names
    protect: bool = False


def urn_of(type_token: str, name: str) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{type_token}::{name}"


def preview_of(resources: Sequence[Res]) -> PreviewResult:
    by_name = {r.name: r for r in resources}
    stack_urn = urn_of(STACK_TYPE, f"{PROJECT}-{STACK}")
    captured = [
        CapturedResource(
            urn=stack_urn,
            type=STACK_TYPE,
            name=f"{PROJECT}-{STACK}",
            parent=None,
            provider=None,
            custom=False,
            id=None,
            inputs={},
            options={},
            dependencies=[],
            property_dependencies={},
            outputs={},
        )
    ]
    for resource in resources:
        # Dependencies on resources the case leaves out are dropped, as if created elsewhere.
        dependencies = {
            key: [urn_of(by_name[n].type, n) for n in names if n in by_name]
            for key, names in resource.deps.items()
        }
        props = dict(resource.props)
        struct = struct_pb2.Struct()
        json_format.ParseDict(props, struct)
        captured.append(
            CapturedResource(
                urn=urn_of(resource.type, resource.name),
                type=resource.type,
                name=resource.name,
                parent=stack_urn,
                provider=None,
                custom=True,
                id=f"{resource.name}-id",
                inputs=props,
                options={"protect": resource.protect, "ignoreChanges": [], "version": None},
                dependencies=sorted({u for urns in dependencies.values() for u in urns}),
                property_dependencies=dependencies,
                state=props,
                raw_inputs=struct,
            )
        )
    return PreviewResult(
        project=PROJECT,
        stack=STACK,
        region="us-east-1",
        unknowns=False,
        resources=captured,
        invokes=[],
        diagnostics=[],
    )


class Harness:
    """Both packs, started once; each judgement configures the rule's pack and evaluates."""

    def __init__(self) -> None:
        self.packs = {
            pack: PolicyPacks(
                [PolicyPackSource(REPOSITORY / "policies" / str(pack))],
                project=PROJECT,
                stack=STACK,
                config={"aws:region": "us-east-1"},
            )
            for pack in Pack
        }

    def judge(
        self, rule: str, resources: Sequence[Res], config: Mapping[str, Any] | None = None
    ) -> list[Violation]:
        """What the pack holding ``rule`` reports under that rule for these resources."""
        packs = self.packs[CATALOGUE[rule].pack]
        packs.reconfigure([{rule: dict(config)} if config else {}])
        report = packs.evaluate(preview_of(resources))
        return [v for v in report.violations if v.policy_name == rule]

    def close(self) -> None:
        for packs in self.packs.values():
            packs.close()
