"""Run a real Pulumi Python program against Pulumi's mock runtime and capture every resource.

The program runs exactly as ``pulumi-language-python-exec`` runs it (``runpy`` on the
project's ``main`` inside ``run_in_stack``); only the resource monitor is replaced. The
monitor records each registration as the engine receives it (wire names, secrets still
marked, options, dependencies), runs stack transforms through their gRPC callbacks as the
engine does, and answers with AWS-shaped ids and attributes from :class:`AwsMocks`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import pulumi
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import config as runtime_config
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import callback_pb2, callback_pb2_grpc, resource_pb2
from pulumi.runtime.stack import run_in_stack

from offline_preview.mocks import AwsMocks
from offline_preview.project import (
    SECRET_PLACEHOLDER,
    Project,
    ProjectError,
    StackConfig,
    load_project,
    load_stack_config,
    to_cli_string,
)
from platform_common.pulumi_values import as_secret, present, reveal

STACK_TYPE = "pulumi:pulumi:Stack"


class ProgramError(Exception):
    """The program (or its settings) failed; ``str()`` is the message for the user."""

    def __init__(
        self, message: str, details: str = "", registered: list[CapturedResource] | None = None
    ):
        super().__init__(message)
        self.details = details
        # What the program had registered before it failed: settings errors leave only
        # the stack itself.
        self.registered = registered or []


@dataclass
class CapturedResource:
    urn: str
    type: str
    name: str
    parent: str | None
    provider: str | None
    custom: bool
    id: str | None
    inputs: dict[str, Any]  # wire form: camelCase names, secrets marked, unknowns sentinel
    options: dict[str, Any]
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    outputs: dict[str, Any] | None = None  # what a component or the stack registered
    # What the engine would hold after the step (inputs plus computed attributes, secrets
    # marked): custom resources only; policy packs see it in AnalyzeStack.
    state: dict[str, Any] | None = None
    operation: str = "create"
    raw_inputs: struct_pb2.Struct | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "urn": self.urn,
            "type": self.type,
            "name": self.name,
            "parent": self.parent,
            "provider": self.provider,
            "inputs": present(self.inputs),
            "options": self.options,
            "dependencies": self.dependencies,
        }


@dataclass
class PreviewResult:
    project: str
    stack: str
    region: str
    unknowns: bool
    resources: list[CapturedResource]
    invokes: list[str]
    diagnostics: list[dict[str, Any]]

    @property
    def stack_resource(self) -> CapturedResource:
        return next(r for r in self.resources if r.type == STACK_TYPE)

    @property
    def outputs(self) -> dict[str, Any]:
        return self.stack_resource.outputs or {}

    def of_type(self, type_token: str, *, within: str | None = None) -> list[CapturedResource]:
        scope = self.resources if within is None else self.within(within)
        return [r for r in scope if r.type == type_token]

    def within(self, component_type: str) -> list[CapturedResource]:
        """Resources anywhere under components of a type, such as
        ``platform:components:Network`` (a URN carries the chain of its parents' types)."""
        return [r for r in self.resources if f"{component_type}$" in r.urn]

    def named(self, name: str) -> CapturedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]

    def children(self, urn: str) -> list[CapturedResource]:
        return sorted(
            (r for r in self.resources if r.parent == urn), key=lambda r: (r.name, r.type)
        )

    def summary(self) -> dict[str, Any]:
        by_type: dict[str, int] = {}
        for r in self.resources:
            by_type[r.type] = by_type.get(r.type, 0) + 1
        operations: dict[str, int] = {}
        for r in self.resources:
            operations[r.operation] = operations.get(r.operation, 0) + 1
        return {
            "resources": len(self.resources),
            "operations": operations,
            "byType": dict(sorted(by_type.items())),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "stack": self.stack,
            "mode": "unknowns" if self.unknowns else "mocked",
            "region": self.region,
            "resources": [r.to_json() for r in self.resources],
            "outputs": present(self.outputs),
            "diagnostics": self.diagnostics,
            "summary": self.summary(),
        }


def _wire(struct: struct_pb2.Struct) -> dict[str, Any]:
    return _normalised(json_format.MessageToDict(struct))


def _normalised(value: Any) -> Any:
    # protobuf Structs carry every number as a double (show 24, not 24.0) and maps in no
    # particular order (sort keys so two runs print the same).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalised(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def _struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    json_format.ParseDict(dict(value), struct)
    return struct


class _UnusedMocks(pulumi_mocks.Mocks):
    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, None]:
        raise AssertionError("the capturing monitor answers invokes itself")

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict]:
        raise AssertionError("the capturing monitor answers registrations itself")


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """A resource monitor that records registrations and answers like AWS would."""

    def __init__(self, aws: AwsMocks):
        super().__init__(_UnusedMocks())
        self.aws = aws
        self.captured: list[CapturedResource] = []
        self.invokes: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self._transform_callbacks: list[callback_pb2.Callback] = []
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()
        # Explicit AWS providers' regions, by provider reference (urn::id): a resource
        # created through one lives, and gets its ARN, in that region.
        self._provider_regions: dict[str, str] = {}

    # -- registrations -------------------------------------------------------------------

    def RegisterResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        options = _options(request)
        properties = request.object
        if request.type != STACK_TYPE:
            properties, options = self._transform(request, properties, options)
        inputs = _wire(properties)

        resource_id, computed = "", dict[str, Any]()
        if request.custom:
            checked = self.aws.check(request.type, request.name, urn, inputs)
            if checked is not inputs:
                inputs = checked
                properties = _struct(inputs)
            region = self._provider_regions.get(request.provider)
            resource_id, computed = self.aws.new_resource(
                request.type, request.name, urn, inputs, region
            )
            if request.type == "pulumi:providers:aws" and isinstance(inputs.get("region"), str):
                self._provider_regions[f"{urn}::{resource_id}"] = inputs["region"]
        property_dependencies = {
            key: sorted(deps.urns) for key, deps in request.propertyDependencies.items()
        }
        implicit = {urn for urns in property_dependencies.values() for urn in urns}
        options["dependsOn"] = sorted(d for d in request.dependencies if d not in implicit)
        # Inputs come back as outputs with their secret markers, as the engine keeps them,
        # and the engine marks the outputs the resource declares secret.
        state = {**inputs, **computed}
        for key in options["additionalSecretOutputs"]:
            if key in state:
                state[key] = as_secret(state[key])
        self._record(
            request,
            urn,
            custom=request.custom,
            id=resource_id or None,
            inputs=inputs,
            options=options,
            property_dependencies=property_dependencies,
            raw_inputs=properties,
            state=state if request.custom else None,
        )
        if not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=_struct(state))

    def ReadResource(self, request: Any) -> Any:
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = _wire(request.properties)
        _, computed = self.aws.new_resource(request.type, request.name, urn, inputs)
        state = {**inputs, **computed}
        self._record(
            request,
            urn,
            custom=True,
            id=request.id,
            inputs=inputs,
            options={},
            property_dependencies={},
            operation="read",
            raw_inputs=request.properties,
            state=state,
        )
        # A real preview performs reads too, so the id is known in either mode.
        return resource_pb2.ReadResourceResponse(urn=urn, id=request.id, properties=_struct(state))

    def RegisterResourceOutputs(self, request: Any) -> Any:
        outputs = _wire(request.outputs)
        with self._lock:
            for resource in self.captured:
                if resource.urn == request.urn:
                    resource.outputs = outputs
        return empty_pb2.Empty()

    def Invoke(self, request: Any) -> Any:
        if request.tok == "pulumi:pulumi:getResource":
            return super().Invoke(request)
        with self._lock:
            self.invokes.append(request.tok)
        result = self.aws.call(request.tok, reveal(_wire(request.args)))
        return resource_pb2.ResourceInvokeResponse(failures=None, **{"return": _struct(result)})

    def _record(self, request: Any, urn: str, **fields: Any) -> None:
        resource = CapturedResource(
            urn=urn,
            type=request.type,
            name=request.name,
            parent=request.parent or None,
            provider=request.provider or None,
            dependencies=sorted(request.dependencies),
            **fields,
        )
        with self._lock:
            if any(r.urn == urn for r in self.captured):
                # The engine refuses a second resource with the same URN; so do we.
                raise ValueError(f"duplicate resource URN {urn}; logical names must be unique")
            self.captured.append(resource)

    # -- transforms ----------------------------------------------------------------------

    def RegisterStackTransform(self, request: Any) -> Any:
        self._transform_callbacks.append(request)
        return super().RegisterStackTransform(request)

    def _transform(
        self, request: Any, properties: struct_pb2.Struct, options: dict[str, Any]
    ) -> tuple[struct_pb2.Struct, dict[str, Any]]:
        # The engine runs a resource's own transforms, then the stack's, each through the
        # program's callback server; so do we, with the same request and response messages.
        for callback in [*request.transforms, *self._transform_callbacks]:
            transform_request = resource_pb2.TransformRequest(
                type=request.type,
                name=request.name,
                custom=request.custom,
                parent=request.parent,
                properties=properties,
                options=resource_pb2.TransformResourceOptions(
                    protect=options["protect"],
                    ignore_changes=options["ignoreChanges"],
                    delete_before_replace=options["deleteBeforeReplace"],
                    retain_on_delete=options["retainOnDelete"],
                ),
            )
            reply = self._callbacks_stub(callback.target).Invoke(
                callback_pb2.CallbackInvokeRequest(
                    token=callback.token, request=transform_request.SerializeToString()
                )
            )
            response = resource_pb2.TransformResponse.FromString(reply.response)
            properties = response.properties
            if response.HasField("options"):
                new = response.options
                options = {
                    **options,
                    "protect": new.protect,
                    "ignoreChanges": list(new.ignore_changes),
                    "deleteBeforeReplace": new.delete_before_replace,
                    "retainOnDelete": new.retain_on_delete,
                }
        return properties, options

    def _callbacks_stub(self, target: str) -> callback_pb2_grpc.CallbacksStub:
        with self._lock:
            if target not in self._channels:
                self._channels[target] = grpc.insecure_channel(target)
            return callback_pb2_grpc.CallbacksStub(self._channels[target])

    def SignalAndWaitForShutdown(self, request: Any) -> Any:
        # The program is done and its callback server stops next: hang up first, so gRPC
        # has no open connection to complain about.
        self.close()
        return super().SignalAndWaitForShutdown(request)

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()


def _options(request: Any) -> dict[str, Any]:
    return {
        "protect": request.protect,
        "ignoreChanges": list(request.ignoreChanges),
        "deleteBeforeReplace": request.deleteBeforeReplace,
        "deleteBeforeReplaceDefined": request.deleteBeforeReplaceDefined,
        "retainOnDelete": request.retainOnDelete,
        "replaceOnChanges": list(request.replaceOnChanges),
        "additionalSecretOutputs": list(request.additionalSecretOutputs),
        "aliases": [json_format.MessageToDict(a) for a in request.aliases],
        "importId": request.importId or None,
        "deletedWith": request.deletedWith or None,
        "version": request.version or None,
    }


class _CapturingEngine:
    """Stands in for the engine's log service: program messages become diagnostics."""

    _SEVERITIES = {0: "debug", 1: "info", 2: "warning", 3: "error"}

    def __init__(self, sink: list[dict[str, Any]]):
        self.sink = sink

    def Log(self, request: Any) -> None:
        severity = self._SEVERITIES.get(request.severity, "info")
        if severity in ("warning", "error"):
            self.sink.append(
                {
                    "source": "program",
                    "severity": severity,
                    "urn": request.urn or None,
                    "message": request.message,
                }
            )


def run_preview(
    project_dir: str | Path,
    stack: str,
    *,
    unknowns: bool = False,
    config_overrides: Mapping[str, Any] | None = None,
    caller_role_arn: str | None = None,
) -> PreviewResult:
    """Run the project's program for ``stack`` offline and return what it registered.

    ``config_overrides`` replaces stack-file values (``namespace:key`` -> value), which is
    how tests and the release driver preview a config change without editing files.
    ``caller_role_arn`` is the IAM role the program runs as (default: ``role/offline`` of
    the fake account).
    Raises :class:`ProjectError` for an unusable project, :class:`ProgramError` when the
    program or its settings fail.
    """
    project = load_project(Path(project_dir))
    stack_config = load_stack_config(project, stack)
    values = dict(stack_config.values)
    secret_keys = set(stack_config.secret_keys)
    for key, value in (config_overrides or {}).items():
        if value is None:
            values.pop(key, None)
            secret_keys.discard(key)
        elif isinstance(value, Mapping) and set(value) == {"secure"}:
            # An encrypted value, as a stack file holds it: never decrypted offline.
            values[key] = SECRET_PLACEHOLDER
            secret_keys.add(key)
        else:
            values[key] = to_cli_string(value)
            secret_keys.discard(key)
    stack_config = replace(stack_config, values=values, secret_keys=frozenset(secret_keys))

    region = values.get("aws:region") or "us-east-1"
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "run_preview runs its own event loop; call it from synchronous code "
            "(for example through asyncio.to_thread)"
        )
    # The SDK keeps process-wide state (settings, the stack root, config) and the program
    # runs in the project's directory with its modules imported: one preview at a time.
    with _ONE_RUN_AT_A_TIME:
        monitor, logs, error = _run_program(
            project,
            stack,
            values,
            stack_config,
            AwsMocks(region, unknowns=unknowns, caller_role_arn=caller_role_arn),
        )
    # Registrations arrive from a thread pool; order them so two runs print the same.
    resources = sorted(monitor.captured, key=lambda r: (r.type != STACK_TYPE, r.urn))
    if error is not None:
        if isinstance(error, KeyboardInterrupt):
            raise error
        failure = _program_error(error, project.directory)
        failure.registered = resources
        raise failure
    return PreviewResult(
        project=project.name,
        stack=stack,
        region=region,
        unknowns=unknowns,
        resources=resources,
        invokes=monitor.invokes,
        diagnostics=logs,
    )


_ONE_RUN_AT_A_TIME = threading.Lock()


def _run_program(
    project: Project,
    stack: str,
    values: dict[str, str],
    stack_config: StackConfig,
    aws: AwsMocks,
) -> tuple[CapturingMonitor, list[dict[str, Any]], BaseException | None]:
    monitor = CapturingMonitor(aws)
    logs: list[dict[str, Any]] = []
    error: BaseException | None = None
    _reset_sdk_state()
    with (
        _program_environment(project.directory),
        _unknown_secrets(stack_config.secret_keys),
        # A program's print() must not corrupt --json on stdout.
        contextlib.redirect_stdout(sys.stderr),
    ):
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_about_reported_failures)
        asyncio.set_event_loop(loop)
        try:
            runtime_settings.configure(
                pulumi_mocks.MockSettings(
                    monitor=monitor,
                    monitor_features=set(
                        monitor.GetDeploymentInfo(empty_pb2.Empty()).supportedFeatures
                    ),
                    engine=_CapturingEngine(logs),
                    project=project.name,
                    stack=stack,
                    dry_run=True,
                    organization="organization",
                    callbacks=None,
                )
            )
            runtime_config.set_all_config(values, sorted(stack_config.secret_keys))
            program = str(project.main)

            def run_program() -> None:
                runpy.run_path(program, run_name="__main__")

            loop.run_until_complete(run_in_stack(run_program))
        except SystemExit as exc:
            # sys.exit() with success ends a program normally, as under the language host.
            if exc.code not in (None, 0):
                error = exc
        except BaseException as exc:
            error = exc
        finally:
            try:
                _shutdown_loop(loop)
            finally:
                _reset_sdk_state()
                monitor.close()
    return monitor, logs, error


def _quiet_about_reported_failures(
    loop: asyncio.AbstractEventLoop, context: dict[str, Any]
) -> None:
    # When a program fails, the SDK leaves futures holding that same failure; asyncio would
    # print each one as "never retrieved" when collected. The failure is reported once.
    if "never retrieved" in str(context.get("message", "")):
        return
    loop.default_exception_handler(context)


def _reset_sdk_state() -> None:
    """Forget what an earlier (possibly failed) run left in the SDK's process-wide state;
    outputs still pending on a closed event loop would otherwise fail the next run."""
    runtime_settings.SETTINGS.outputs.clear()
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.ROOT.set(None)
    runtime_config.set_all_config({}, [])


def _shutdown_loop(loop: asyncio.AbstractEventLoop) -> None:
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    asyncio.set_event_loop(None)


@contextlib.contextmanager
def _program_environment(directory: Path) -> Iterator[None]:
    """Run with the project as working directory and importable, as an editable install
    makes it under ``pulumi up``; forget its modules afterwards so the next project that
    has a module of the same name gets its own."""
    old_cwd, old_path = os.getcwd(), list(sys.path)
    before = set(sys.modules)
    os.chdir(directory)
    sys.path.insert(0, str(directory))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path
        for name in set(sys.modules) - before:
            origin = getattr(sys.modules[name], "__file__", None) or ""
            if origin.startswith(str(directory) + os.sep) and not _is_installed(origin):
                del sys.modules[name]


def _is_installed(path: str) -> bool:
    return "site-packages" in path


@contextlib.contextmanager
def _unknown_secrets(secret_keys: frozenset[str]) -> Iterator[None]:
    """Encrypted config is never decrypted: its secret getters yield unknown secrets."""
    names = [
        f"{verb}_secret{kind}"
        for verb in ("get", "require")
        for kind in ("", "_bool", "_int", "_float", "_object")
    ]
    originals = {name: getattr(pulumi.Config, name) for name in names}

    def patched(name: str) -> Any:
        original = originals[name]

        def method(self: pulumi.Config, key: str, *args: Any, **kwargs: Any) -> Any:
            if self.full_key(key) in secret_keys:
                return _unknown_secret_output()
            return original(self, key, *args, **kwargs)

        return method

    for name in names:
        setattr(pulumi.Config, name, patched(name))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(pulumi.Config, name, original)


def _unknown_secret_output() -> pulumi.Output[Any]:
    loop = asyncio.get_event_loop()

    def done(value: Any) -> asyncio.Future[Any]:
        future = loop.create_future()
        future.set_result(value)
        return future

    return pulumi.Output(set(), done(SECRET_PLACEHOLDER), done(False), done(True))


def _program_error(error: BaseException, project_dir: Path) -> ProgramError:
    details = "".join(traceback.format_exception(error))
    if isinstance(error, pulumi.RunError):
        # RunError is how programs report a user mistake: Pulumi shows only the message.
        return ProgramError(str(error), details)
    frames = [
        f
        for f in traceback.extract_tb(error.__traceback__)
        if f.filename.startswith(str(project_dir)) and "site-packages" not in f.filename
    ]
    where = ""
    if frames:
        last = frames[-1]
        where = f" (at {os.path.relpath(last.filename, project_dir)}:{last.lineno})"
    return ProgramError(f"the program failed: {type(error).__name__}: {error}{where}", details)


__all__ = [
    "CapturedResource",
    "PreviewResult",
    "ProgramError",
    "ProjectError",
    "run_preview",
]
