"""The engine's view of each resource, as analyzers receive it: inputs, options and provider
for ``Analyze``; state, parent and dependencies for ``AnalyzeStack``.

Resources on a package's default provider get it as the engine builds it: a provider resource
``pulumi:providers:<package>::default_<version>`` whose inputs are the stack's config of that
package. The engine registers those providers as resources of the stack, so they are
analyzed and sent to ``AnalyzeStack`` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from offline_preview.engine import STACK_TYPE, CapturedResource, PreviewResult


class RequestBuilder:
    def __init__(self, result: PreviewResult, project: str, stack: str, config: Mapping[str, str]):
        self.result = result
        self.project, self.stack, self.config = project, stack, config
        self.default_providers: dict[str, CapturedResource] = {}
        for resource in result.resources:
            if self._uses_default_provider(resource):
                provider = self._default_provider(resource)
                self.default_providers.setdefault(provider.urn, provider)
        self.resources = [*self.default_providers.values(), *result.resources]
        self.by_urn = {r.urn: r for r in self.resources}

    @property
    def analyzed(self) -> list[CapturedResource]:
        """What the engine sends to Analyze: every registered resource (reads excluded)."""
        return [r for r in self.resources if r.operation != "read"]

    def analyze(
        self, resource: CapturedResource, properties: struct_pb2.Struct | None = None
    ) -> analyzer_pb2.AnalyzeRequest:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
        )
        inputs = properties if properties is not None else resource.raw_inputs
        if inputs is not None:
            request.properties.CopyFrom(inputs)
        provider = self.provider(resource)
        if provider is not None:
            request.provider.CopyFrom(provider)
        return request

    def analyze_stack(self) -> analyzer_pb2.AnalyzeStackRequest:
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in self.resources:
            state = resource.state if resource.custom else resource.outputs
            entry = request.resources.add(
                type=resource.type,
                urn=resource.urn,
                name=resource.name,
                options=_options(resource),
                parent=resource.parent or "",
                dependencies=resource.dependencies,
            )
            entry.properties.CopyFrom(struct(state or {}))
            for key, urns in resource.property_dependencies.items():
                entry.propertyDependencies[key].urns.extend(urns)
            provider = self.provider(resource)
            if provider is not None:
                entry.provider.CopyFrom(provider)
        return request

    def provider(self, resource: CapturedResource) -> analyzer_pb2.AnalyzerProviderResource | None:
        if resource.provider:
            urn = resource.provider.rsplit("::", 1)[0]
        elif self._uses_default_provider(resource):
            urn = self._default_provider(resource).urn
        else:
            return None
        provider = self.by_urn.get(urn)
        if provider is None:
            return None
        return analyzer_pb2.AnalyzerProviderResource(
            type=provider.type,
            urn=urn,
            name=provider.name,
            properties=provider.raw_inputs or struct_pb2.Struct(),
        )

    @staticmethod
    def _uses_default_provider(resource: CapturedResource) -> bool:
        return (
            resource.custom
            and not resource.provider
            and resource.type != STACK_TYPE
            and not resource.type.startswith("pulumi:providers:")
        )

    def _default_provider(self, resource: CapturedResource) -> CapturedResource:
        package = resource.type.split(":", 1)[0]
        version = resource.options.get("version") or ""
        name = "default" + (f"_{version.replace('.', '_').replace('-', '_')}" if version else "")
        inputs: dict[str, Any] = {
            key.split(":", 1)[1]: value
            for key, value in self.config.items()
            if key.startswith(f"{package}:")
        }
        if version:
            inputs["version"] = version
        return CapturedResource(
            urn=f"urn:pulumi:{self.stack}::{self.project}::pulumi:providers:{package}::{name}",
            type=f"pulumi:providers:{package}",
            name=name,
            parent=None,
            provider=None,
            custom=True,
            id=None,
            inputs=inputs,
            options={"protect": False},
            dependencies=[],
            property_dependencies={},
            state=inputs,
            raw_inputs=struct(inputs),
        )


def _options(resource: CapturedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    options = resource.options
    return analyzer_pb2.AnalyzerResourceOptions(
        parent=resource.parent or "",
        protect=bool(options.get("protect")),
        ignoreChanges=options.get("ignoreChanges") or [],
        deleteBeforeReplace=bool(options.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined=bool(options.get("deleteBeforeReplaceDefined")),
        additionalSecretOutputs=options.get("additionalSecretOutputs") or [],
    )


def struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(dict(value), message)
    return message
