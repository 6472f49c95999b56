"""Serving a pack: the policy SDK's Analyzer, plus a ``Configure`` that refuses bad config.

``PolicyPack`` in the SDK builds its gRPC servicer and serves it in one constructor, leaving
no place to check configuration: its ``Configure`` stores whatever it is given. This module
serves the SDK's own servicer (so ``Analyze``, ``AnalyzeStack`` and ``GetAnalyzerInfo`` are
exactly the SDK's) with ``Configure`` checked first, and reports the version written in
``PulumiPolicy.yaml``, which the CLI reads for Python packs and the SDK does not know.
The pin on pulumi-policy (<2) covers the one private name used here.
"""

from __future__ import annotations

import sys
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import json_format
from pulumi.runtime.proto import analyzer_pb2_grpc
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from platform_common.pulumi_values import whole_numbers
from policies.framework.config import config_problems
from policies.framework.rule import Pack, Rule, to_policy

DEFAULT_ENFORCEMENT = {
    Pack.SECURITY: EnforcementLevel.MANDATORY,
    Pack.QUALITY: EnforcementLevel.ADVISORY,
}
# The SDK raises the gRPC receive limit the same way: stacks are sent whole to AnalyzeStack.
_MAX_MESSAGE = 400 * 1024 * 1024


class ConfiguredAnalyzer(_PolicyAnalyzerServicer):
    """The SDK's servicer, refusing a configuration with problems before storing it."""

    def __init__(self, *args: Any, catalogue: dict[str, Rule], served: set[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._catalogue = catalogue
        self._served = served

    def Configure(self, request: Any, context: grpc.ServicerContext) -> Any:
        # A Struct holds every number as a double: judge and quote 7, not 7.0.
        config = {
            name: whole_numbers(json_format.MessageToDict(request.policyConfig[name].properties))
            for name in request.policyConfig
        }
        problems = config_problems(self._catalogue, self._served, config)
        if problems:
            noun = "problem" if len(problems) == 1 else "problems"
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"policy config has {len(problems)} {noun}:\n"
                + "\n".join(f"  - {p}" for p in problems),
            )
        return super().Configure(request, context)


def pack_version(directory: Path) -> str:
    document = yaml.safe_load((directory / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    return str(document.get("version") or "0.0.1")


def analyzer(
    pack: Pack, rules: list[Rule], catalogue: dict[str, Rule], *, name: str, version: str
) -> ConfiguredAnalyzer:
    return ConfiguredAnalyzer(
        name,
        version,
        [to_policy(rule) for rule in rules],
        DEFAULT_ENFORCEMENT[pack],
        None,
        f"Platform {pack} policies: "
        + ("violations block the preview" if pack is Pack.SECURITY else "advisory by default"),
        f"platform {pack}",
        None,
        "aws",
        ["aws", "kubernetes", str(pack)],
        None,
        catalogue=catalogue,
        served={rule.name for rule in rules},
    )


def main(pack: Pack, directory: Path) -> None:
    """What a pack directory's ``__main__.py`` runs: serve that pack's rules."""
    # Imported here: the catalogue imports every rule module, which imports this one.
    from policies.rules import CATALOGUE, rules_for

    serve(
        analyzer(
            pack,
            rules_for(pack),
            CATALOGUE,
            name=f"platform-{pack}",
            version=pack_version(directory),
        )
    )


def serve(servicer: ConfiguredAnalyzer) -> None:
    """Serve on a free loopback port and print it, as the engine expects of an analyzer."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_receive_message_length", _MAX_MESSAGE)],
    )
    analyzer_pb2_grpc.add_AnalyzerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        server.stop(0)
