"""A CodeBuild-hosted GitHub Actions runner in the stack's private subnets: CI's way to a
cluster API that answers only inside the VPC.

GitHub's WORKFLOW_JOB_QUEUED webhook starts one build per job whose ``runs-on`` names the
project (``codebuild-<project>-${{ github.run_id }}-${{ github.run_attempt }}``); the build
registers as an ephemeral runner, runs the job and ends. The project reaches GitHub through
a CodeConnections connection and runs as a role the account's identity set-up owns (it
deploys the whole stack, so it is not this stack's to grant)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.parts import LogArchive, log_group

# The runner's jobs call GitHub, the AWS APIs, the state backend and the package indexes,
# and the cluster's private endpoint: all HTTPS.
HTTPS = 443


@dataclass(frozen=True)
class CiRunnerArgs:
    name_prefix: str
    repository: str  # owner/name on GitHub
    connection_arn: str  # CodeConnections connection to GitHub
    service_role_arn: str  # what the jobs run as; one of the cluster's admins
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
        child = pulumi.ResourceOptions(parent=self)
        self.project_name = f"{args.name_prefix}-runner"
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
        # CodeBuild creates /aws/codebuild/<project> on first write, unencrypted and kept
        # forever; the project writes to this one instead.
        build_logs = log_group(
            f"{name}-logs",
            name=f"/aws/codebuild/{self.project_name}",
            archive=args.logs,
            protect=args.protect,
            parent=self,
        )
        project = aws.codebuild.Project(
            f"{name}-project",
            name=self.project_name,
            description=f"GitHub Actions runner for {args.repository} inside {args.name_prefix}",
            service_role=args.service_role_arn,
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[build_logs]),
        )
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
