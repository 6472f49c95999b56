"""``platform:ciRunner``: a CodeBuild-hosted GitHub Actions runner in the stack's private
subnets, the one machine CI has inside the VPC (a private API endpoint answers only there),
and ``platform:deployPhase``, which only ``platformctl bootstrap`` sets, for one ``up``."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from infra.settings.base import Model, Number, Problem, matching, reference, within
from infra.settings.versions import catalogue

if TYPE_CHECKING:
    from infra.settings.platform_config import PlatformConfig

# foundation: every AWS resource, but nothing that needs the Kubernetes API (the controller's
# chart, the app), so a stack whose API answers only inside its VPC can be created from
# outside it. complete: everything (what every `up` but the bootstrap applies).
DeployPhase = Literal["foundation", "complete"]
DEPLOY_PHASE_KEY = "platform:deployPhase"
_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_CONNECTION_ARN = re.compile(
    r"arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/"
    r"[0-9a-f-]{36}"
)
RUNNER_IMAGE = "codebuild-runner"


class CiRunnerSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/ci_runner.py",)

    # The GitHub repository (owner/name) whose workflow jobs the runner takes.
    repository: str = Field(
        description="The GitHub repository whose workflow jobs the runner takes.",
        json_schema_extra=reference(allowed="a GitHub repository as owner/name"),
    )
    # A CodeConnections connection to GitHub, created and authorised once (see the docs).
    connection_arn: str = Field(
        description="The CodeConnections connection to GitHub through which the runner gets "
        "its jobs, created and authorised once by hand.",
        json_schema_extra=reference(
            allowed="a CodeConnections connection ARN "
            "(arn:aws:codeconnections:REGION:ACCOUNT:connection/UUID; codestar-connections too)"
        ),
    )
    compute_type: Literal[
        "BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"
    ] = Field(
        default="BUILD_GENERAL1_MEDIUM",
        description="The CodeBuild compute size the runner's jobs run on.",
    )
    # Longer than any job the runner takes (prod's promotion: 240 minutes): CodeBuild stops
    # the runner at this limit, in the middle of whatever the job was doing.
    build_timeout_minutes: Number = Field(
        default=300,
        description="Minutes after which CodeBuild stops the runner, whatever its job is doing; "
        "keep it longer than any job (prod's promotion takes up to 240).",
        json_schema_extra=reference(allowed="5 to 2160 (CodeBuild's limits)"),
    )

    @property
    def image(self) -> str:
        """The build image, pinned in versions.yaml."""
        [entry] = catalogue().listed("images", RUNNER_IMAGE)
        return entry.version

    @field_validator("repository")
    @classmethod
    def _repository(cls, name: str) -> str:
        return matching(name, _REPOSITORY, "a GitHub repository as owner/name")

    @field_validator("connection_arn")
    @classmethod
    def _connection(cls, arn: str) -> str:
        return matching(
            arn,
            _CONNECTION_ARN,
            "a CodeConnections connection ARN "
            "(arn:aws:codeconnections:REGION:ACCOUNT:connection/UUID)",
        )

    @field_validator("build_timeout_minutes")
    @classmethod
    def _timeout(cls, minutes: int) -> int:
        return within(minutes, 5, 2160, " minutes (CodeBuild's limits)")


def runner_problems(platform: PlatformConfig) -> list[Problem]:
    """Who can reach the cluster's API."""
    cluster, runner = platform.cluster, platform.ci_runner
    problems = []
    if not cluster.public_access_cidrs and not cluster.private_access_cidrs and runner is None:
        problems.append(
            Problem(
                "platform:cluster.privateAccessCidrs",
                [],
                "with publicAccessCidrs empty, no privateAccessCidrs and no platform:ciRunner "
                "nothing can reach the API, not even `pulumi up`; allowed: a platform:ciRunner "
                "(CI inside the VPC), the private ranges operators connect from (a VPN), or "
                "public ranges in publicAccessCidrs",
            )
        )
    return problems
