"""Driving policy packs over the Analyzer protocol after an offline preview, as the engine does.

Loading a pack (before the program runs): ``Handshake`` (packs that predate it answer
"unimplemented", which the engine accepts), ``ConfigureStack`` with the stack's identity and
config, ``GetAnalyzerInfo``, the policy config reconciled and checked as the CLI does, and
``Configure``. Judging the preview: if any policy is set to remediate, ``Remediate`` on every
resource first, each pack's changes feeding the next and every pack's ``Analyze``; then
``Analyze`` for every resource with its inputs, options and provider; and ``AnalyzeStack``
with every resource's state, parent and dependencies. Diagnostics become violations
(:mod:`offline_preview.policy_report`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from offline_preview.analyzer_process import (
    CALL_TIMEOUT_SECONDS,
    AnalyzerProcess,
    PolicyPackError,
    read_manifest,
)
from offline_preview.analyzer_requests import RequestBuilder
from offline_preview.engine import CapturedResource, PreviewResult
from offline_preview.policy_config import (
    PolicyConfigError,
    PolicySetting,
    load_policy_config,
    parse_policy_config,
    reconcile,
    to_request,
)
from offline_preview.policy_report import PackRun, PolicyReport, Scrubber, Violation

# Analyze calls in flight per pack: the policy SDK serves four at a time.
ANALYZE_CONCURRENCY = 4
_SEVERITY = {
    analyzer_pb2.POLICY_SEVERITY_LOW: "low",
    analyzer_pb2.POLICY_SEVERITY_MEDIUM: "medium",
    analyzer_pb2.POLICY_SEVERITY_HIGH: "high",
    analyzer_pb2.POLICY_SEVERITY_CRITICAL: "critical",
}
# As the engine reports them: a violation of a policy set to remediate (its remediation did
# not fix the resource) blocks like a mandatory one.
_LEVEL = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "mandatory",
    analyzer_pb2.DISABLED: "disabled",
}
T = TypeVar("T")


@dataclass(frozen=True)
class PolicyPackSource:
    directory: Path
    config: Path | None = None  # a --policy-pack-config file


@dataclass
class _Configured:
    """A pack that answered GetAnalyzerInfo and accepted its configuration."""

    source: PolicyPackSource
    process: AnalyzerProcess
    stub: Any
    info: analyzer_pb2.AnalyzerInfo
    remediate: bool

    def call(self, method: Callable[..., T], request: Any) -> T:
        """One call with a deadline: a stuck pack fails the preview, it does not hang it."""
        return method(request, timeout=CALL_TIMEOUT_SECONDS)

    def violation(self, diagnostic: Any, urn: str | None) -> Violation:
        policies = {p.name: p for p in self.info.policies}
        policy = policies.get(diagnostic.policyName)
        return Violation(
            policy_pack=diagnostic.policyPackName or self.info.name,
            policy_pack_version=self.process.manifest.version,
            policy_name=diagnostic.policyName,
            enforcement_level=_LEVEL.get(diagnostic.enforcementLevel, "advisory"),
            severity=_SEVERITY.get(diagnostic.severity, "unspecified"),
            urn=urn or None,
            message=diagnostic.message,
            remediation=policy.remediation_steps if policy else "",
        )


class PolicyPacks:
    """Policy packs started and configured for one stack, as the engine loads them before
    the program runs; start them first so their start-up overlaps the program, then
    :meth:`evaluate` the preview. Close them (or use ``with``) when done."""

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
        # Secret config reaches packs as the stack holds it here: a placeholder, since the
        # offline engine decrypts nothing (the CLI passes decrypted values).
        self.config = dict(config)
        self.secret_keys = secret_keys
        self.processes: list[AnalyzerProcess] = []
        manifests = [read_manifest(source.directory) for source in self.sources]
        for source in self.sources:
            if source.config is not None:
                load_policy_config(source.config)  # a broken file fails before anything starts
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(manifests)))
        try:
            for manifest in manifests:
                self.processes.append(
                    AnalyzerProcess(manifest, project=project, stack=stack, config=self.config)
                )
        except BaseException:
            self.close()
            raise
        self._configured = [
            self._pool.submit(self._configure, source, process)
            for source, process in zip(self.sources, self.processes, strict=True)
        ]

    def _configure(self, source: PolicyPackSource, process: AnalyzerProcess) -> _Configured:
        directory = str(process.manifest.directory)
        try:
            stub = process.stub()
            handshake = analyzer_pb2.AnalyzerHandshakeRequest(
                engine_address="", root_directory=directory, program_directory=directory
            )
            # The first call waits until the pack answers on the port it printed.
            _unless_unimplemented(lambda: process.first_call(stub.Handshake, handshake))
            stack = self._stack_request()
            _unless_unimplemented(lambda: stub.ConfigureStack(stack, timeout=CALL_TIMEOUT_SECONDS))
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=CALL_TIMEOUT_SECONDS)
            given = load_policy_config(source.config) if source.config else {}
            where = str(source.config) if source.config else ""
            remediate = _apply_config(stub, info, given, where)
        except grpc.RpcError as exc:
            raise process.failure(f"failed while loading: {_details(exc)}") from None
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
        """Judge every resource and the stack; raises PolicyConfigError for a config a pack
        refused and PolicyPackError for a pack that failed."""
        scrubber = Scrubber(result)
        packs = [future.result() for future in self._configured]
        requests = RequestBuilder(result, self.project, self.stack, self.config)
        report = PolicyReport()
        try:
            remediated, notes = self._remediate(packs, requests)
            report.violations += notes
            # Each pack is its own process: judge the preview with all of them at once.
            with ThreadPoolExecutor(max_workers=len(packs) or 1) as pool:
                futures = [
                    (pack, pool.submit(self._analyze, pack, requests, remediated)) for pack in packs
                ]
                for pack, future in futures:
                    try:
                        violations = future.result()
                    except grpc.RpcError as exc:
                        raise pack.process.failure(f"failed: {_details(exc)}") from None
                    report.violations += violations
                    report.packs.append(self._run(pack, remediated))
        except PolicyPackError as exc:
            raise PolicyPackError(scrubber.text(str(exc))) from None
        report.violations = [scrubber.violation(v) for v in report.violations]
        report.sort()
        return report

    def _remediate(
        self, packs: list[_Configured], requests: RequestBuilder
    ) -> tuple[dict[str, tuple[struct_pb2.Struct, list[str]]], list[Violation]]:
        """The engine's first pass: every resource through every pack's remediations, in
        order, before any pack analyzes it. Returns the new inputs (with the policies that
        changed them) by URN, and the remediations' own diagnostics (advisory)."""
        changed: dict[str, tuple[struct_pb2.Struct, list[str]]] = {}
        notes: list[Violation] = []
        remediating = [pack for pack in packs if pack.remediate]
        if not remediating:
            return changed, notes
        for resource in requests.analyzed:
            request = requests.analyze(resource)
            by: list[str] = []
            for pack in remediating:
                try:
                    answer = pack.call(pack.stub.Remediate, request)
                except grpc.RpcError as exc:
                    raise pack.process.failure(f"failed: {_details(exc)}") from None
                for change in answer.remediations:
                    if change.properties.fields:
                        request.properties.CopyFrom(change.properties)
                        by.append(f"{change.policyPackName}/{change.policyName}")
                    if change.diagnostic:  # the engine reports these as advisory
                        notes.append(
                            Violation(
                                policy_pack=change.policyPackName or pack.info.name,
                                policy_pack_version=pack.process.manifest.version,
                                policy_name=change.policyName,
                                enforcement_level="advisory",
                                severity="unspecified",
                                urn=resource.urn,
                                message=change.diagnostic,
                                remediation="",
                            )
                        )
            if by:
                changed[resource.urn] = (request.properties, by)
        return changed, notes

    def _analyze(
        self,
        pack: _Configured,
        requests: RequestBuilder,
        remediated: Mapping[str, tuple[struct_pb2.Struct, list[str]]],
    ) -> list[Violation]:
        def analyze(resource: CapturedResource) -> list[Violation]:
            properties = remediated.get(resource.urn, (None, []))[0]
            answer = pack.call(pack.stub.Analyze, requests.analyze(resource, properties))
            # The engine names the resource it asked about, whatever URN a pack reports.
            return [pack.violation(d, resource.urn) for d in answer.diagnostics]

        violations: list[Violation] = []
        with ThreadPoolExecutor(max_workers=ANALYZE_CONCURRENCY) as pool:
            for found in pool.map(analyze, requests.analyzed):
                violations += found
        stack = pack.call(pack.stub.AnalyzeStack, requests.analyze_stack())
        violations += [pack.violation(d, d.urn) for d in stack.diagnostics]
        return violations

    @staticmethod
    def _run(
        pack: _Configured, remediated: Mapping[str, tuple[struct_pb2.Struct, list[str]]]
    ) -> PackRun:
        mine = sorted(
            f"{policy.split('/', 1)[1]} on {urn}"
            for urn, (_, policies) in remediated.items()
            for policy in policies
            if policy.split("/", 1)[0] == pack.info.name
        )
        return PackRun(
            name=pack.info.name,
            version=pack.process.manifest.version,
            directory=pack.process.manifest.directory,
            config=pack.source.config,
            policies=len(pack.info.policies),
            remediations=tuple(mine),
        )

    def _stack_request(self) -> analyzer_pb2.AnalyzerStackConfigureRequest:
        return analyzer_pb2.AnalyzerStackConfigureRequest(
            stack=self.stack,
            project=self.project,
            organization="organization",
            dry_run=True,
            config=self.config,
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


def _unless_unimplemented(call: Callable[[], Any]) -> None:
    """Newer calls that older packs do not implement; any other failure fails the load."""
    try:
        call()
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNIMPLEMENTED:
            raise


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
        stub.Configure(to_request(settings), timeout=CALL_TIMEOUT_SECONDS)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise
        source = f" from {where}" if where else ""
        raise PolicyConfigError(
            f"policy pack {info.name} refused its config{source}: {_details(exc)}"
        ) from None
    return any(s.enforcement == "remediate" for s in settings.values())


def _details(error: grpc.RpcError) -> str:
    if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"no answer within {CALL_TIMEOUT_SECONDS:.0f} s"
    details = error.details() if hasattr(error, "details") else None
    return str(details or error)
