"""The policy gate as a preview meets it: the shipped packs with a stack's policy config,
run over the Analyzer protocol on the offline preview of that stack (or a changed copy)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from google.protobuf import json_format, struct_pb2

from offline_preview.engine import CapturedResource, PreviewResult
from offline_preview.policy_report import PolicyReport, Violation
from offline_preview.policy_run import PolicyPacks, PolicyPackSource
from offline_preview.project import load_project, load_stack_config
from tests.conftest import REPOSITORY

PACKS = (REPOSITORY / "policies" / "security", REPOSITORY / "policies" / "quality")


class Gate:
    """The shipped packs for each stack, started once and reused by every test."""

    def __init__(self) -> None:
        self._packs: dict[str, PolicyPacks] = {}

    def packs(self, stack: str) -> PolicyPacks:
        if stack not in self._packs:
            project = load_project(REPOSITORY)
            config = load_stack_config(project, stack)
            policy_config = REPOSITORY / "policies" / "config" / f"{stack}.json"
            self._packs[stack] = PolicyPacks(
                [PolicyPackSource(pack, policy_config) for pack in PACKS],
                project=project.name,
                stack=stack,
                config=config.values,
                secret_keys=config.secret_keys,
            )
        return self._packs[stack]

    def judge(self, result: PreviewResult) -> PolicyReport:
        return self.packs(result.stack).evaluate(result)

    def close(self) -> None:
        for packs in self._packs.values():
            packs.close()


def findings(report: PolicyReport, level: str = "mandatory") -> list[Violation]:
    return [v for v in report.at_level(level) if not v.not_evaluated]


def _rebuilt(resource: CapturedResource, inputs: dict[str, Any]) -> CapturedResource:
    struct = struct_pb2.Struct()
    json_format.ParseDict(inputs, struct)
    state = {**(resource.state or {}), **inputs} if resource.custom else None
    return replace(resource, inputs=inputs, state=state, raw_inputs=struct)


def mutated(
    result: PreviewResult,
    name: str,
    change: Callable[[dict[str, Any]], None],
    *,
    protect: bool | None = None,
) -> PreviewResult:
    """A copy of the preview in which resource ``name`` (``Type:name`` where two resources
    share a name) has its inputs changed in place by ``change`` (and, if given, its protect
    option set): what a hand edit of a component would register."""
    kind, _, name = name.rpartition(":")
    resources = []
    for resource in result.resources:
        if resource.name == name and (not kind or resource.type.endswith(f":{kind}")):
            inputs = copy.deepcopy(resource.inputs)
            change(inputs)
            resource = _rebuilt(resource, inputs)
            if protect is not None:
                resource = replace(resource, options={**resource.options, "protect": protect})
        resources.append(resource)
    assert resources != result.resources, f"no resource {kind}:{name} to change"
    return replace(result, resources=resources)


def without(result: PreviewResult, name: str) -> PreviewResult:
    assert any(r.name == name for r in result.resources), f"no resource named {name}"
    return replace(result, resources=[r for r in result.resources if r.name != name])


def with_resource(
    result: PreviewResult,
    type_token: str,
    name: str,
    inputs: dict[str, Any],
    dependencies: dict[str, list[str]],
) -> PreviewResult:
    """A copy with one more resource, whose inputs came from the named resources."""
    by_name = {r.name: r for r in result.resources}
    stack = result.stack_resource
    property_dependencies = {k: [by_name[n].urn for n in v] for k, v in dependencies.items()}
    added = _rebuilt(
        CapturedResource(
            urn=f"urn:pulumi:{result.stack}::{result.project}::{type_token}::{name}",
            type=type_token,
            name=name,
            parent=stack.urn,
            provider=None,
            custom=True,
            id=f"{name}-id",
            inputs={},
            options={"protect": False, "version": None},
            dependencies=sorted({u for urns in property_dependencies.values() for u in urns}),
            property_dependencies=property_dependencies,
            state={},
        ),
        inputs,
    )
    return replace(result, resources=[*result.resources, added])
