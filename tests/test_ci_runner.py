"""The CI runner inside the VPC (platform:ciRunner) and the bootstrap's foundation phase: what
each phase registers, proven through the offline engine."""

from __future__ import annotations

import json

import pytest
import yaml

from infra.config import SettingsError, parse_settings
from infra.settings.versions import catalogue
from tests.conftest import REPOSITORY, preview, stack_setting, subnet_ids

PROJECT = "aws:codebuild/project:Project"
WEBHOOK = "aws:codebuild/webhook:Webhook"
CONNECTION = (
    "arn:aws:codeconnections:us-east-1:123456789012:connection/0c7e2f1a-5b3d-4e8f-9a61-2d4c8b7e6f50"
)
FOUNDATION = {"platform__deployPhase": "foundation"}


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_runner_is_a_codebuild_project_in_the_private_subnets(stack):
    result = preview(stack)
    [project] = result.of_type(PROJECT)
    inputs = project.inputs
    assert inputs["name"] == f"platform-{stack}-runner"
    assert inputs["source"] == {
        "type": "GITHUB",
        "location": "https://github.com/example-org/platform.git",
        "auth": {"type": "CODECONNECTIONS", "resource": CONNECTION},
    }
    [role] = [r for r in result.of_type("aws:iam/role:Role") if r.name == "ci-runner-role"]
    assert inputs["serviceRole"] == f"arn:aws:iam::123456789012:role/{role.inputs['name']}"
    [image] = catalogue().listed("images", "codebuild-runner")
    environment = inputs["environment"]
    assert (environment["image"], environment["privilegedMode"]) == (image.version, False)
    vpc = inputs["vpcConfig"]
    assert sorted(vpc["subnets"]) == subnet_ids(result, "private")
    [group] = result.of_type("aws:ec2/securityGroup:SecurityGroup", within="CiRunner")
    assert vpc["securityGroupIds"] == [group.id]
    [egress] = result.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
    assert (egress.inputs["fromPort"], egress.inputs["toPort"]) == (443, 443)
    logs = inputs["logsConfig"]["cloudwatchLogs"]
    assert logs == {"status": "ENABLED", "groupName": f"/aws/codebuild/platform-{stack}-runner"}
    [webhook] = result.of_type(WEBHOOK)
    assert webhook.inputs["filterGroups"] == [
        {"filters": [{"type": "EVENT", "pattern": "WORKFLOW_JOB_QUEUED"}]}
    ]
    assert result.outputs["ciRunnerProject"] == f"platform-{stack}-runner"


def test_dev_reaches_its_public_endpoint_from_github_and_has_no_runner():
    result = preview("dev")
    assert not result.of_type(PROJECT)
    assert "ciRunnerProject" not in result.outputs


def _problems(**changes) -> list[str]:
    config = yaml.safe_load((REPOSITORY / "Pulumi.prod.yaml").read_text())["config"]
    for key, value in changes.items():
        config[key.replace("__", ":")] = value
    try:
        parse_settings(config, project="platform", stack="prod", source="Pulumi.prod.yaml")
    except SettingsError as error:
        return [str(p) for p in error.problems]
    return []


def test_the_runners_own_role_runs_the_runner_and_can_deploy_nothing():
    # Any job of the repository can name the runner: its role must not be a deployer. Jobs
    # deploy by assuming their GitHub environment's role through OIDC.
    result = preview("prod")
    [role] = [r for r in result.of_type("aws:iam/role:Role") if r.name == "ci-runner-role"]
    [statement] = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert statement["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnEquals": {
            "aws:SourceArn": "arn:aws:codebuild:us-east-1:123456789012:project/platform-prod-runner"
        },
    }
    [policy] = [
        p for p in result.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == "ci-runner-role"
    ]
    actions = {
        action
        for statement in json.loads(policy.inputs["policy"])["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    services = {action.split(":")[0] for action in actions}
    assert services == {"ec2", "logs", "codeconnections", "codestar-connections"}
    assert {a for a in actions if a.startswith("ec2:")} <= {
        "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets",
        "ec2:DescribeVpcs", "ec2:CreateNetworkInterfacePermission",
    }  # fmt: skip
    admins = stack_setting("prod", "platform:cluster")["adminRoleArns"]
    assert all(not arn.endswith(f"/{role.inputs['name']}") for arn in admins)


def test_the_runner_outlives_the_longest_job_it_takes():
    [project] = preview("prod").of_type(PROJECT)
    assert project.inputs["buildTimeout"] == 300


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("repository", "platform", "allowed: a GitHub repository as owner/name"),
        ("connectionArn", "arn:aws:iam::123456789012:role/x", "a CodeConnections connection ARN"),
        ("computeType", "BUILD_GENERAL1_2XLARGE", "BUILD_GENERAL1_SMALL"),
        ("buildTimeoutMinutes", 3000, "allowed: 5 to 2160 minutes"),
    ],
)
def test_bad_runner_settings_are_refused_naming_the_key(key, value, allowed):
    runner = {**stack_setting("prod", "platform:ciRunner"), key: value}
    [problem] = _problems(platform__ciRunner=runner)
    assert problem.startswith(f"platform:ciRunner.{key} = ")
    assert allowed in problem


def test_without_a_runner_prod_needs_a_range_that_reaches_its_private_api():
    [problem] = _problems(platform__ciRunner=None)
    assert problem.startswith("platform:cluster.privateAccessCidrs = []: ")
    assert "no platform:ciRunner nothing can reach the API" in problem


# -- the bootstrap's foundation phase ----------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_foundation_phase_registers_nothing_that_needs_the_kubernetes_api(stack):
    foundation = preview(stack, **FOUNDATION)
    kinds = {r.type for r in foundation.resources}
    assert not [k for k in kinds if k.startswith("kubernetes:")]
    assert "pulumi:providers:kubernetes" not in kinds
    assert "platform:components:App" not in kinds
    # What the API needs to answer and CI needs to reach it is all there.
    for kind in ("aws:eks/cluster:Cluster", "aws:eks/nodeGroup:NodeGroup"):
        assert foundation.of_type(kind), kind
    assert len(foundation.of_type("aws:eks/addon:Addon")) == 5
    assert len(foundation.of_type("aws:eks/accessEntry:AccessEntry")) == len(
        stack_setting(stack, "platform:cluster")["adminRoleArns"]
    )
    assert bool(foundation.of_type(PROJECT)) == (stack != "dev")
    assert foundation.outputs["deployPhase"] == "foundation"
    assert foundation.outputs["releases"] == {}
    [warning] = [d for d in foundation.diagnostics if d["severity"] == "warning"]
    assert "the Kubernetes resources are not registered" in warning["message"]


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_the_complete_phase_keeps_every_foundation_resource_as_it_was(stack):
    # The full `up` after the bootstrap only adds: nothing the foundation made is replaced.
    foundation = {r.urn: r.inputs for r in preview(stack, **FOUNDATION).resources}
    complete = {r.urn: r.inputs for r in preview(stack).resources}
    assert set(foundation) < set(complete)
    changed = [
        urn
        for urn in foundation
        if foundation[urn] != complete[urn] and "::pulumi:pulumi" not in urn
    ]
    assert changed == []
    added = {urn.split("::")[-2].rsplit("$", 1)[-1] for urn in set(complete) - set(foundation)}
    assert added >= {
        "pulumi:providers:kubernetes",
        "kubernetes:helm.sh/v3:Release",
        "kubernetes:apps/v1:Deployment",
        "kubernetes:networking.k8s.io/v1:Ingress",
    }
    assert preview(stack).outputs["deployPhase"] == "complete"


def test_an_unknown_phase_is_refused():
    [problem] = _problems(platform__deployPhase="half")
    assert problem.startswith('platform:deployPhase = "half": ')
    assert "'foundation' or 'complete'" in problem
