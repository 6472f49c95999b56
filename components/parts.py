"""Small building blocks several components share (plain functions, not components)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

# Where log groups that AWS services deliver to belong (CloudWatch Logs "vended" logs): the
# account's log delivery resource policy covers this prefix with one entry.
VENDED_LOGS_PREFIX = "/aws/vendedlogs"


@dataclass(frozen=True)
class LogArchive:
    """Where a component's logs are kept: how long, and under which KMS key."""

    retention_days: int
    kms_key_arn: pulumi.Input[str]


def log_group(
    resource_name: str,
    *,
    name: str,
    archive: LogArchive,
    protect: bool,
    parent: pulumi.Resource,
) -> aws.cloudwatch.LogGroup:
    """A named, retained, KMS-encrypted log group.

    Services that create their own group on first write (RDS log exports, EKS) make one
    that never expires and is not encrypted, so components create it first, by name.
    """
    return aws.cloudwatch.LogGroup(
        resource_name,
        name=name,
        retention_in_days=archive.retention_days,
        kms_key_id=archive.kms_key_arn,
        deletion_protection_enabled=protect,
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )


def security_group_for_clients(
    resource_name: str,
    *,
    name: str,
    description: str,
    vpc_id: pulumi.Input[str],
    port: int,
    client_security_group_ids: Sequence[pulumi.Input[str]],
    parent: pulumi.Resource,
) -> aws.ec2.SecurityGroup:
    """A security group admitting ``port`` over TCP from the given security groups only.

    It has no CIDR rule and no egress rule: a data store answers connections, it never
    opens them. Clients are named by security group so that only workloads that carry the
    group reach the port, whatever their address.
    """
    if not client_security_group_ids:
        raise ValueError(f"{resource_name}: at least one client security group is required")
    # Auto-named, so that a replacement can be created before the old group goes.
    group = aws.ec2.SecurityGroup(
        resource_name,
        description=description,
        vpc_id=vpc_id,
        tags={"Name": name},
        opts=pulumi.ResourceOptions(parent=parent),
    )
    for index, client in enumerate(client_security_group_ids):
        aws.vpc.SecurityGroupIngressRule(
            f"{resource_name}-from-client-{index}",
            security_group_id=group.id,
            description=f"TCP {port} from a client security group",
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            referenced_security_group_id=client,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return group


def final_snapshot_name(
    resource_name: str, *, prefix: str, parent: pulumi.Resource
) -> pulumi.Output[str]:
    """``<prefix>-final-<8 hex>``: unique per store, so deleting and recreating one never
    collides with the last snapshot of the previous one."""
    suffix = random.RandomId(
        resource_name, byte_length=4, opts=pulumi.ResourceOptions(parent=parent)
    )
    return suffix.hex.apply(lambda hex_suffix: f"{prefix}-final-{hex_suffix}")


def service_trust_policy(service: str, condition: dict[str, Any] | None = None) -> str:
    """An assume-role policy for one AWS service principal, with an optional condition."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def role_with_policies(
    resource_name: str,
    *,
    description: str,
    assume_role_policy: pulumi.Input[str],
    managed_policy_arns: Sequence[str] = (),
    inline_policy: pulumi.Input[str] | None = None,
    parent: pulumi.Resource,
) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    """A role with AWS managed policies attached and at most one inline policy.

    Returns the role and its grants: what uses the role should wait for the grants, or it
    starts before it may act (and is deleted after it may no longer clean up).
    """
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        resource_name,
        description=description,
        assume_role_policy=assume_role_policy,
        opts=child,
    )
    grants: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(
            f"{resource_name}-{policy_arn.rsplit('/', 1)[-1]}",
            role=role.name,
            policy_arn=policy_arn,
            opts=child,
        )
        for policy_arn in managed_policy_arns
    ]
    if inline_policy is not None:
        grants.append(
            aws.iam.RolePolicy(resource_name, role=role.id, policy=inline_policy, opts=child)
        )
    return role, grants


@dataclass(frozen=True)
class OidcIssuer:
    """A cluster's OIDC identity provider, which IRSA roles trust."""

    provider_arn: pulumi.Input[str]
    issuer_url: pulumi.Input[str]  # https://oidc.eks.<region>.amazonaws.com/id/<ID>


def irsa_trust_policy(
    issuer: OidcIssuer, *, namespace: str, service_account: str
) -> pulumi.Output[str]:
    """Trust for exactly one Kubernetes service account (and only for STS tokens): any other
    pod in the cluster, or the same name in another namespace, cannot assume the role."""

    def policy(provider_arn: str, issuer_url: str) -> str:
        host = issuer_url.removeprefix("https://")
        statement = {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                    f"{host}:aud": "sts.amazonaws.com",
                }
            },
        }
        return json.dumps({"Version": "2012-10-17", "Statement": [statement]})

    return pulumi.Output.all(issuer.provider_arn, issuer.issuer_url).apply(
        lambda values: policy(values[0], values[1])
    )


def irsa_role(
    resource_name: str,
    *,
    issuer: OidcIssuer,
    namespace: str,
    service_account: str,
    description: str,
    managed_policy_arns: Sequence[str] = (),
    inline_policy: pulumi.Input[str] | None = None,
    parent: pulumi.Resource,
) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    """A role that only ``namespace/service_account`` of the cluster may assume (IRSA)."""
    return role_with_policies(
        resource_name,
        description=description,
        assume_role_policy=irsa_trust_policy(
            issuer, namespace=namespace, service_account=service_account
        ),
        managed_policy_arns=managed_policy_arns,
        inline_policy=inline_policy,
        parent=parent,
    )
