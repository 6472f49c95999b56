"""Driving policy packs over the Analyzer protocol after an offline preview, as the engine does.

Per pack: ``Handshake`` (older packs answer "unimplemented"), ``GetAnalyzerInfo``, the
policy config reconciled and checked like the CLI does, ``ConfigureStack``, ``Configure``,
then ``Remediate`` (only when a policy is set to remediate) and ``Analyze`` for every
registered resource with its inputs, options and provider, and finally ``AnalyzeStack`` with
every resource's state, parent and dependencies. Diagnostics become :class:`Violation` s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from infra.preview.analyzer_process import AnalyzerProcess, PolicyPackError, read_manifest
from infra.preview.engine import STACK_TYPE, CapturedResource, PreviewResult
from infra.preview.policy_config import (
    PolicyConfigError,
    PolicySetting,
    load_policy_config,
    parse_policy_config,
    reconcile,
    to_request,
)
from infra.preview.values import secret_strings

# Analyze calls in flight per pack: the policy SDK serves four at a time.
ANALYZE_CONCURRENCY = 4
_SEVERITY = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
_LEVEL = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}


@dataclass(frozen=True)
class PolicyPackSource:
    directory: Path
    config: Path | None = None  # a --policy-pack-config file


@dataclass(frozen=True)
class Violation:
    policy_pack: str
    policy_pack_version: str
    policy_name: str
    enforcement_level: str
    severity: str
    urn: str | None
    message: str
    remediation: str

    @property
    def not_evaluated(self) -> bool:
        """The SDK's report that a policy could not run because a value it needs is unknown
        during preview: advisory by protocol, and not a finding about the resource."""
        return self.message.startswith("can't run policy ")

    def to_json(self) -> dict[str, Any]:
        return {
            "source": "policy",
            "policyPack": self.policy_pack,
            "policyPackVersion": self.policy_pack_version,
            "policyName": self.policy_name,
            "enforcementLevel": self.enforcement_level,
            "severity": self.severity,
            "urn": self.urn,
            "message": self.message,
            "remediation": self.remediation,
            "notEvaluated": self.not_evaluated,
        }


@dataclass(frozen=True)
class PackRun:
    name: str
    version: str
    directory: Path
    config: Path | None
    policies: int
    remediations: tuple[str, ...] = ()  # "<policy> on <urn>"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "directory": str(self.directory),
            "config": str(self.config) if self.config else None,
            "policies": self.policies,
            "remediations": list(self.remediations),
        }


@dataclass
class PolicyReport:
    packs: list[PackRun] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)

    def at_level(self, level: str) -> list[Violation]:
        """Findings at an enforcement level (the SDK's can't-run notes are not findings)."""
        return [v for v in self.violations if v.enforcement_level == level and not v.not_evaluated]

    @property
    def not_evaluated(self) -> list[Violation]:
        return [v for v in self.violations if v.not_evaluated]

    @property
    def blocked(self) -> bool:
        return any(v.enforcement_level == "mandatory" for v in self.violations)


@dataclass
class _Configured:
    """A pack that answered GetAnalyzerInfo and accepted its configuration."""

    source: PolicyPackSource
    process: AnalyzerProcess
    stub: Any
    info: analyzer_pb2.AnalyzerInfo
    remediate: bool


class PolicyPacks:
    """Policy packs started and configured for one stack, as the engine does before the
    program runs; start them first so their start-up overlaps the program, then
    :meth:`evaluate` the preview."""

    def __init__(
        self,
        sources: Sequence[PolicyPackSource],
        *,
        project: str,
        stack: str,
        config: Mapping[str, str],
        secret_keys: frozenset[str] = frozenset(),
    ):
        self.sources = list(sources)
        self.project, self.stack = project, stack
        self.config = dict(config)
        self.secret_keys = secret_keys
        self.processes: list[AnalyzerProcess] = []
        plain_config = {k: v for k, v in self.config.items() if k not in secret_keys}
        manifests = [read_manifest(source.directory) for source in self.sources]
        for source in self.sources:
            if source.config is not None:
                load_policy_config(source.config)  # a broken file fails before anything starts
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(manifests)))
        try:
            for manifest in manifests:
                self.processes.append(
                    AnalyzerProcess(manifest, project=project, stack=stack, config=plain_config)
                )
        except BaseException:
            self.close()
            raise
        self._configured = [
            self._pool.submit(self._configure, source, process)
            for source, process in zip(self.sources, self.processes, strict=True)
        ]

    def _configure(self, source: PolicyPackSource, process: AnalyzerProcess) -> _Configured:
        try:
            stub = process.stub()
            with contextlib.suppress(grpc.RpcError):  # packs from before the handshake
                stub.Handshake(  # answer "unimplemented", which the engine accepts
                    analyzer_pb2.AnalyzerHandshakeRequest(
                        engine_address="",
                        root_directory=str(process.manifest.directory),
                        program_directory=str(process.manifest.directory),
                    )
                )
            info = stub.GetAnalyzerInfo(empty_pb2.Empty())
            with contextlib.suppress(grpc.RpcError):
                stub.ConfigureStack(self._stack_request())
            given = load_policy_config(source.config) if source.config else {}
            where = str(source.config) if source.config else ""
            remediate = _apply_config(stub, info, given, where)
        except grpc.RpcError as exc:
            raise process.failure(f"failed while starting: {_details(exc)}") from None
        return _Configured(source, process, stub, info, remediate)

    def reconfigure(self, documents: Sequence[Mapping[str, Any] | None]) -> None:
        """Configure the running packs again, one policy config document (the JSON of a
        --policy-pack-config file) per pack, so one set of processes can judge many stacks or
        many configurations (the tests and benchmarks do)."""
        packs = [future.result() for future in self._configured]
        for pack, document in zip(packs, documents, strict=True):
            given = parse_policy_config(document or {}, "policy config")
            pack.remediate = _apply_config(pack.stub, pack.info, given, "")

    def evaluate(self, result: PreviewResult) -> PolicyReport:
        """Analyze every resource and the stack; raises PolicyConfigError for a config a pack
        refused and PolicyPackError for a pack that failed."""
        report = PolicyReport()
        scrub = _scrubber(result)
        packs = [future.result() for future in self._configured]
        # Each pack is its own process: judge the preview with all of them at once.
        with ThreadPoolExecutor(max_workers=len(packs) or 1) as pool:
            runs = [(pack, pool.submit(self._analyze, pack, result)) for pack in packs]
            for pack, future in runs:
                try:
                    run, violations = future.result()
                except grpc.RpcError as exc:
                    failure = pack.process.failure(f"failed: {_details(exc)}")
                    raise PolicyPackError(scrub(str(failure))) from None
                report.packs.append(run)
                report.violations += [_scrubbed(v, scrub) for v in violations]
        report.violations.sort(
            key=lambda v: (
                v.enforcement_level != "mandatory",
                v.policy_pack,
                v.policy_name,
                v.urn or "",
            )
        )
        return report

    def _analyze(self, pack: _Configured, result: PreviewResult) -> tuple[PackRun, list[Violation]]:
        stub, info = pack.stub, pack.info
        requests = _RequestBuilder(result, self.project, self.stack, self.config)
        remediated: list[str] = []

        def analyze(resource: CapturedResource) -> list[tuple[Any, str]]:
            request = requests.analyze(resource)
            if pack.remediate:
                answer = stub.Remediate(request)
                for change in answer.remediations:
                    if change.properties.fields:
                        request.properties.CopyFrom(change.properties)
                        remediated.append(f"{change.policyName} on {resource.urn}")
            return [(d, resource.urn) for d in stub.Analyze(request).diagnostics]

        diagnostics: list[tuple[Any, str]] = []
        analyzed = [r for r in result.resources if r.operation != "read"]
        with ThreadPoolExecutor(max_workers=ANALYZE_CONCURRENCY) as pool:
            for found in pool.map(analyze, analyzed):
                diagnostics += found
        stack_diagnostics = stub.AnalyzeStack(requests.analyze_stack()).diagnostics
        diagnostics += [(d, "") for d in stack_diagnostics]

        remediation_text = {p.name: p.remediation_steps for p in info.policies}
        version = pack.process.manifest.version
        violations = [
            Violation(
                policy_pack=d.policyPackName or info.name,
                policy_pack_version=version,
                policy_name=d.policyName,
                enforcement_level=_LEVEL.get(d.enforcementLevel, "advisory"),
                severity=_SEVERITY.get(d.severity, "unspecified"),
                urn=d.urn or urn or None,
                message=d.message,
                remediation=remediation_text.get(d.policyName, ""),
            )
            for d, urn in diagnostics
        ]
        run = PackRun(
            name=info.name,
            version=version,
            directory=pack.process.manifest.directory,
            config=pack.source.config,
            policies=len(info.policies),
            remediations=tuple(sorted(remediated)),
        )
        return run, violations

    def _stack_request(self) -> analyzer_pb2.AnalyzerStackConfigureRequest:
        return analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.stack,
            project=self.project,
            organization="organization",
            dry_run=True,
            config={k: v for k, v in self.config.items() if k not in self.secret_keys},
            config_secret_keys=sorted(self.secret_keys),
            tags={"pulumi:project": self.project, "pulumi:runtime": "python"},
        )

    def close(self) -> None:
        for process in self.processes:
            process.close()
        self.processes = []
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> PolicyPacks:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _apply_config(
    stub: Any,
    info: analyzer_pb2.AnalyzerInfo,
    given: Mapping[str, PolicySetting],
    where: str,
) -> bool:
    """Reconcile and check the config as the CLI does, then ``Configure``; returns whether
    any policy is set to remediate."""
    settings = reconcile(info, given, where)
    try:
        stub.Configure(to_request(settings))
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise
        source = f" from {where}" if where else ""
        raise PolicyConfigError(
            f"policy pack {info.name} refused its config{source}: {_details(exc)}"
        ) from None
    return any(s.enforcement == "remediate" for s in settings.values())


class _RequestBuilder:
    """The engine's view of each resource: inputs for Analyze, state for AnalyzeStack."""

    def __init__(self, result: PreviewResult, project: str, stack: str, config: Mapping[str, str]):
        self.result = result
        self.project, self.stack, self.config = project, stack, config
        self.by_urn = {r.urn: r for r in result.resources}

    def analyze(self, resource: CapturedResource) -> analyzer_pb2.AnalyzeRequest:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            urn=resource.urn,
            name=resource.name,
            options=_options(resource),
        )
        if resource.raw_inputs is not None:
            request.properties.CopyFrom(resource.raw_inputs)
        provider = self.provider(resource)
        if provider is not None:
            request.provider.CopyFrom(provider)
        return request

    def analyze_stack(self) -> analyzer_pb2.AnalyzeStackRequest:
        request = analyzer_pb2.AnalyzeStackRequest()
        for resource in self.result.resources:
            state = resource.state if resource.custom else resource.outputs
            entry = request.resources.add(
                type=resource.type,
                urn=resource.urn,
                name=resource.name,
                options=_options(resource),
                parent=resource.parent or "",
                dependencies=resource.dependencies,
            )
            entry.properties.CopyFrom(_struct(state or {}))
            for key, urns in resource.property_dependencies.items():
                entry.propertyDependencies[key].urns.extend(urns)
            provider = self.provider(resource)
            if provider is not None:
                entry.provider.CopyFrom(provider)
        return request

    def provider(self, resource: CapturedResource) -> analyzer_pb2.AnalyzerProviderResource | None:
        if resource.provider:
            urn = resource.provider.rsplit("::", 1)[0]
            explicit = self.by_urn.get(urn)
            if explicit is None:
                return None
            return analyzer_pb2.AnalyzerProviderResource(
                type=explicit.type,
                urn=urn,
                name=explicit.name,
                properties=explicit.raw_inputs or struct_pb2.Struct(),
            )
        if not resource.custom or resource.type == STACK_TYPE or ":" not in resource.type:
            return None
        # The engine's default provider for the package: its inputs are the package's config.
        package = resource.type.split(":", 1)[0]
        version = resource.options.get("version") or ""
        name = "default" + (f"_{version.replace('.', '_').replace('-', '_')}" if version else "")
        inputs = {
            key.split(":", 1)[1]: value
            for key, value in self.config.items()
            if key.startswith(f"{package}:")
        }
        if version:
            inputs["version"] = version
        return analyzer_pb2.AnalyzerProviderResource(
            type=f"pulumi:providers:{package}",
            urn=f"urn:pulumi:{self.stack}::{self.project}::pulumi:providers:{package}::{name}",
            name=name,
            properties=_struct(inputs),
        )


def _options(resource: CapturedResource) -> analyzer_pb2.AnalyzerResourceOptions:
    options = resource.options
    return analyzer_pb2.AnalyzerResourceOptions(
        parent=resource.parent or "",
        protect=bool(options.get("protect")),
        ignoreChanges=options.get("ignoreChanges") or [],
        deleteBeforeReplace=bool(options.get("deleteBeforeReplace")),
        deleteBeforeReplaceDefined="deleteBeforeReplace" in options,
        additionalSecretOutputs=options.get("additionalSecretOutputs") or [],
    )


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(value), struct)
    return struct


def _details(error: grpc.RpcError) -> str:
    details = error.details() if hasattr(error, "details") else None
    return str(details or error)


def _scrubber(result: PreviewResult) -> Any:
    """Replaces every secret value of the preview with ``[secret]`` in pack output: the SDK
    gives policies secrets in plain text, and a policy might quote one."""
    secrets = sorted(
        {s for r in result.resources for s in secret_strings([r.inputs, r.state, r.outputs])},
        key=len,
        reverse=True,
    )

    def scrub(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "[secret]")
        return text

    return scrub


def _scrubbed(violation: Violation, scrub: Any) -> Violation:
    return Violation(**{**violation.__dict__, "message": scrub(violation.message)})
