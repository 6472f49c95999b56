"""What each pack declares to the engine (GetAnalyzerInfo over gRPC), and the manual's
coverage table kept equal to the rules' own metadata."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2

from offline_preview.analyzer_process import AnalyzerProcess, read_manifest
from policies.catalogue import coverage_counts, coverage_table
from policies.framework.rule import Pack
from policies.rules import ALL_RULES, CATALOGUE, rules_for
from tests.conftest import REPOSITORY


@pytest.fixture(scope="module", params=list(Pack), ids=str)
def declared(request: pytest.FixtureRequest) -> Iterator[tuple[Pack, analyzer_pb2.AnalyzerInfo]]:
    pack = request.param
    manifest = read_manifest(REPOSITORY / "policies" / str(pack))
    with AnalyzerProcess(manifest, project="platform", stack="dev", config={}) as process:
        yield pack, process.stub().GetAnalyzerInfo(empty_pb2.Empty())


def test_each_pack_declares_exactly_its_rules(declared):
    pack, info = declared
    assert info.name == f"platform-{pack}"
    assert [p.name for p in info.policies] == [r.name for r in rules_for(pack)]
    assert info.supportsConfig


def test_every_policy_declares_its_description_remediation_severity_and_controls(declared):
    _, info = declared
    for policy in info.policies:
        rule = CATALOGUE[policy.name]
        assert policy.description == rule.description
        assert policy.remediation_steps == rule.remediation
        assert policy.severity != analyzer_pb2.POLICY_SEVERITY_UNSPECIFIED
        compliance = rule.compliance
        if compliance.cis or compliance.fsbp or compliance.pss:
            assert policy.framework.name and policy.framework.reference, policy.name
        tags = set(policy.tags)
        assert {f"fsbp:{c}" for c in compliance.fsbp} <= tags
        assert {f"checkov:{c}" for c in compliance.checkov} <= tags
        declared_params = set(policy.configSchema.properties.keys())
        assert declared_params == {p.name for p in rule.params}, policy.name


def test_security_is_mandatory_and_quality_advisory_unless_a_rule_says_otherwise(declared):
    pack, info = declared
    default = analyzer_pb2.MANDATORY if pack is Pack.SECURITY else analyzer_pb2.ADVISORY
    overridden = {r.name for r in rules_for(pack) if r.enforcement is not None}
    for policy in info.policies:
        if policy.name not in overridden:
            assert policy.enforcementLevel == default, policy.name
    if pack is Pack.QUALITY:
        mandatory = {p.name for p in info.policies if p.enforcementLevel == analyzer_pb2.MANDATORY}
        assert mandatory == {
            "ingress-weights-valid",
            "k8s-hpa-target-cpu-requests",
            "k8s-pdb-allows-disruption",
            "metrics-collector-covers-cluster",
        }


def test_rule_names_are_kebab_case_and_every_rule_checks_named_types():
    for rule in ALL_RULES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", rule.name), rule.name
        assert rule.resource_types, rule.name
        assert rule.description.endswith(".") and rule.remediation, rule.name


def test_the_manuals_coverage_table_is_the_catalogue():
    page = (REPOSITORY / "docs" / "policies" / "coverage.md").read_text()
    assert coverage_counts() in page
    assert coverage_table() in page


def test_each_stack_policy_config_names_only_rules_of_this_project():
    for path in sorted((REPOSITORY / "policies" / "config").glob("*.json")):
        names = set(json.loads(path.read_text())) - {"all"}
        assert names <= set(CATALOGUE), (path.name, names - set(CATALOGUE))
