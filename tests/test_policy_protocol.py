"""The offline engine drives any pack as the Pulumi engine does: a pack written with the
policy SDK alone (not this project's framework) sees the stack's identity and config, each
resource's provider, remediations before analysis, and violations at the levels the engine
reports."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline_preview.policy_run import PolicyPacks, PolicyPackSource
from tests.policy_harness import PROJECT, STACK, Res, preview_of

PROBE_PACK = """
    import pulumi
    from pulumi_policy import (
        EnforcementLevel, PolicyPack, ResourceValidationPolicy, StackValidationPolicy,
    )

    def what_the_engine_said(args, report_violation):
        if args.resource_type != "aws:s3/bucket:Bucket":
            return
        provider = args.provider
        report_violation(
            f"stack tags {dict(args.stack_tags)}; region config "
            f"{pulumi.Config('aws').get('region')}; provider {provider.resource_type} "
            f"{provider.name} region {provider.props.get('region')}"
        )

    def add_owner(args):
        if args.resource_type == "aws:s3/bucket:Bucket" and "owner" not in args.props["tags"]:
            return {**args.props, "tags": {**args.props["tags"], "owner": "platform"}}

    def needs_owner(args, report_violation):
        if args.resource_type == "aws:s3/bucket:Bucket" and "owner" not in args.props["tags"]:
            report_violation("no owner tag")

    def providers_in_the_stack(args, report_violation):
        kinds = [r for r in args.resources if r.resource_type.startswith("pulumi:providers:")]
        report_violation(f"providers {sorted(r.name for r in kinds)}")

    PolicyPack(
        name="probe",
        enforcement_level=EnforcementLevel.ADVISORY,
        policies=[
            ResourceValidationPolicy(
                name="what-the-engine-said", description="Echoes.", validate=what_the_engine_said
            ),
            ResourceValidationPolicy(
                name="add-owner", description="Adds an owner tag.", remediate=add_owner
            ),
            ResourceValidationPolicy(
                name="needs-owner", description="Needs an owner tag.", validate=needs_owner,
                enforcement_level=EnforcementLevel.REMEDIATE,
            ),
            StackValidationPolicy(
                name="providers-in-the-stack", description="Lists providers.",
                validate=providers_in_the_stack,
            ),
        ],
    )
"""
BUCKET = Res("aws:s3/bucket:Bucket", "logs", {"bucket": "logs-1", "tags": {"team": "x"}})


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyPacks]:
    directory = tmp_path_factory.mktemp("probe")
    (directory / "PulumiPolicy.yaml").write_text(
        "runtime:\n  name: python\n  options:\n"
        f"    virtualenv: {Path(sys.executable).parent.parent}\nversion: 2.0.0\n"
    )
    (directory / "__main__.py").write_text(textwrap.dedent(PROBE_PACK))
    packs = PolicyPacks(
        [PolicyPackSource(directory)],
        project=PROJECT,
        stack=STACK,
        config={"aws:region": "eu-west-1", "policy-tests:apiKey": "[secret]"},
        secret_keys=frozenset({"policy-tests:apiKey"}),
    )
    yield packs
    packs.close()


def messages(packs: PolicyPacks, policy: str, config: dict | None = None) -> list[str]:
    packs.reconfigure([config or {}])
    report = packs.evaluate(preview_of([BUCKET]))
    return [v.message for v in report.violations if v.policy_name == policy]


def test_a_pack_sees_the_stack_its_config_and_the_default_provider(probe):
    [message] = messages(probe, "what-the-engine-said")
    assert f"'pulumi:project': '{PROJECT}'" in message
    assert "region config eu-west-1" in message
    assert "provider pulumi:providers:aws default region eu-west-1" in message


def test_default_providers_are_resources_of_the_stack(probe):
    [message] = messages(probe, "providers-in-the-stack")
    assert message.endswith("providers ['default']")


def test_without_remediation_a_remediate_level_violation_blocks_like_a_mandatory_one(probe):
    probe.reconfigure([{"add-owner": "disabled"}])
    report = probe.evaluate(preview_of([BUCKET]))
    [violation] = [v for v in report.violations if v.policy_name == "needs-owner"]
    assert violation.enforcement_level == "mandatory"
    assert report.blocked


def test_remediations_run_first_and_the_analysis_sees_their_result(probe):
    probe.reconfigure([{"add-owner": "remediate"}])
    report = probe.evaluate(preview_of([BUCKET]))
    assert not [v for v in report.violations if v.policy_name == "needs-owner"]
    [run] = report.packs
    assert run.remediations == (f"add-owner on urn:pulumi:{STACK}::{PROJECT}::{BUCKET.type}::logs",)
    assert run.version == "2.0.0"
