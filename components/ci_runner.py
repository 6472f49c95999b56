"""A CodeBuild-hosted GitHub Actions runner in the stack's private subnets: CI's way to a
cluster API that answers only inside the VPC.

GitHub's WORKFLOW_JOB_QUEUED webhook starts one build per job whose ``runs-on`` names the
project (``codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}``); the build
registers as an ephemeral runner, runs the job and ends. The project reaches GitHub through
a CodeConnections connection.

The runner's own role may do nothing but run the runner (its network interfaces in the VPC,
its log group, the connection): any job of the repository can name the runner, so it must
not carry the power to deploy. A job deploys by assuming its GitHub environment's role through
GitHub's OIDC token, as on any runner, so an environment's reviewers still gate it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.parts import LogArchive, log_group, role_with_policies, service_trust_policy

# The runner's jobs call GitHub, the AWS APIs, the state backend and the package indexes,
# and the cluster's private endpoint: all HTTPS.
HTTPS = 443


@dataclass(frozen=True)
class CiRunnerArgs:
    name_prefix: str
    region: str
    partition: str
    account_id: str
    repository: str  # owner/name on GitHub
    connection_arn: str  # CodeConnections connection to GitHub
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]  # private subnets (egress through NAT)
    compute_type: str
    image: str
    build_timeout_minutes: int
    logs: LogArchive
    protect: bool


class CiRunner(pulumi.ComponentResource):
    """What others consume: ``security_group_id`` (admitted to the cluster's private
    endpoint) and ``runs_on`` (the label a workflow job names to run here)."""

    security_group_id: pulumi.Output[str]
    project_name: str
    runs_on: str

    def __init__(self, name: str, args: CiRunnerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:CiRunner", name, None, opts)
        self.project_name = f"{args.name_prefix}-runner"
        group = self._security_group(name, args)
        # CodeBuild creates /aws/codebuild/<project> on first write, unencrypted and kept
        # forever; the project writes to this one instead.
        build_logs = log_group(
            f"{name}-logs",
            name=f"/aws/codebuild/{self.project_name}",
            archive=args.logs,
            protect=args.protect,
            parent=self,
        )
        role, grants = self._role(name, args, build_logs)
        project = self._project(name, args, role, group, build_logs, grants)
        self._webhook(name, project)
        self.security_group_id = group.id
        run = "${{ github.run_id }}-${{ github.run_attempt }}"
        self.runs_on = f"codebuild-{self.project_name}-{run}"
        self.register_outputs(
            {
                "securityGroupId": self.security_group_id,
                "projectName": self.project_name,
                "runsOn": self.runs_on,
            }
        )

    def _security_group(self, name: str, args: CiRunnerArgs) -> aws.ec2.SecurityGroup:
        child = pulumi.ResourceOptions(parent=self)
        group = aws.ec2.SecurityGroup(
            f"{name}-sg",
            description=f"GitHub Actions runner of {args.name_prefix}: HTTPS out only",
            vpc_id=args.vpc_id,
            tags={"Name": self.project_name},
            opts=child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-https-out",
            security_group_id=group.id,
            description="HTTPS: GitHub, AWS APIs, the state backend, the cluster endpoint",
            ip_protocol="tcp",
            from_port=HTTPS,
            to_port=HTTPS,
            cidr_ipv4="0.0.0.0/0",
            opts=child,
        )
        return group

    def _role(
        self, name: str, args: CiRunnerArgs, build_logs: aws.cloudwatch.LogGroup
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        return role_with_policies(
            f"{name}-role",
            description=f"CodeBuild runner of {args.name_prefix}: runs the runner, deploys nothing",
            assume_role_policy=service_trust_policy(
                "codebuild.amazonaws.com",
                {
                    # Only this account's project may use it (no confused deputy).
                    "StringEquals": {"aws:SourceAccount": args.account_id},
                    "ArnEquals": {"aws:SourceArn": self._project_arn(args)},
                },
            ),
            inline_policy=pulumi.Output.all(args.subnet_ids, build_logs.arn).apply(
                lambda v: runner_policy(args, list(v[0]), v[1])
            ),
            parent=self,
        )

    def _project(
        self,
        name: str,
        args: CiRunnerArgs,
        role: aws.iam.Role,
        group: aws.ec2.SecurityGroup,
        build_logs: aws.cloudwatch.LogGroup,
        grants: list[pulumi.Resource],
    ) -> aws.codebuild.Project:
        return aws.codebuild.Project(
            f"{name}-project",
            name=self.project_name,
            description=f"GitHub Actions runner for {args.repository} inside {args.name_prefix}",
            service_role=role.arn,
            source=aws.codebuild.ProjectSourceArgs(
                type="GITHUB",
                location=f"https://github.com/{args.repository}.git",
                auth=aws.codebuild.ProjectSourceAuthArgs(
                    type="CODECONNECTIONS", resource=args.connection_arn
                ),
            ),
            artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
            environment=aws.codebuild.ProjectEnvironmentArgs(
                type="LINUX_CONTAINER",
                compute_type=args.compute_type,
                image=args.image,
                image_pull_credentials_type="CODEBUILD",
                # No Docker daemon: the jobs run platformctl and Pulumi, never build images.
                privileged_mode=False,
            ),
            vpc_config=aws.codebuild.ProjectVpcConfigArgs(
                vpc_id=args.vpc_id, subnets=args.subnet_ids, security_group_ids=[group.id]
            ),
            logs_config=aws.codebuild.ProjectLogsConfigArgs(
                cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(
                    status="ENABLED", group_name=build_logs.name
                ),
                s3_logs=aws.codebuild.ProjectLogsConfigS3LogsArgs(status="DISABLED"),
            ),
            build_timeout=args.build_timeout_minutes,
            tags={"Name": self.project_name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[build_logs, *grants]),
        )

    def _webhook(self, name: str, project: aws.codebuild.Project) -> None:
        child = pulumi.ResourceOptions(parent=self)
        # One build per queued workflow job that names this project in its runs-on label.
        aws.codebuild.Webhook(
            f"{name}-webhook",
            project_name=project.name,
            build_type="BUILD",
            filter_groups=[
                aws.codebuild.WebhookFilterGroupArgs(
                    filters=[
                        aws.codebuild.WebhookFilterGroupFilterArgs(
                            type="EVENT", pattern="WORKFLOW_JOB_QUEUED"
                        )
                    ]
                )
            ],
            opts=child,
        )

    def _project_arn(self, args: CiRunnerArgs) -> str:
        return (
            f"arn:{args.partition}:codebuild:{args.region}:{args.account_id}:"
            f"project/{self.project_name}"
        )


def runner_policy(args: CiRunnerArgs, subnet_ids: list[str], log_group_arn: str) -> str:
    """What CodeBuild needs to run the runner in the VPC, write its log and reach GitHub
    (CodeBuild user guide: VPC support, and access to CodeConnections), and nothing else."""
    subnets = [
        f"arn:{args.partition}:ec2:{args.region}:{args.account_id}:subnet/{subnet}"
        for subnet in subnet_ids
    ]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "NetworkInterfacesInTheVpc",
                    "Effect": "Allow",
                    "Action": [
                        "ec2:CreateNetworkInterface",
                        "ec2:DeleteNetworkInterface",
                        "ec2:DescribeDhcpOptions",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeVpcs",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "AttachToTheRunnersSubnets",
                    "Effect": "Allow",
                    "Action": "ec2:CreateNetworkInterfacePermission",
                    "Resource": (
                        f"arn:{args.partition}:ec2:{args.region}:{args.account_id}:"
                        "network-interface/*"
                    ),
                    "Condition": {
                        "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                        "ArnEquals": {"ec2:Subnet": sorted(subnets)},
                    },
                },
                {
                    "Sid": "ItsOwnLog",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                },
                {
                    "Sid": "TheGitHubConnection",
                    "Effect": "Allow",
                    "Action": [
                        "codeconnections:GetConnection",
                        "codeconnections:GetConnectionToken",
                        "codeconnections:UseConnection",
                        "codestar-connections:GetConnection",
                        "codestar-connections:GetConnectionToken",
                        "codestar-connections:UseConnection",
                    ],
                    "Resource": args.connection_arn,
                },
            ],
        }
    )
