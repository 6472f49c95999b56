"""Composes the platform's components from the stack's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from components.keys import EncryptionKeys, EncryptionKeysArgs, KeyPurpose
from components.network import FlowLogArgs, Network, NetworkArgs
from infra.aws_regions import partition
from infra.config import Problem, SettingsError, StackSettings


@dataclass(frozen=True)
class Platform:
    keys: EncryptionKeys
    network: Network


def build_platform(settings: StackSettings) -> Platform:
    account_id = aws.get_caller_identity().account_id
    zones = availability_zones(settings)
    platform = settings.platform
    aws_partition = partition(settings.region)

    keys = EncryptionKeys(
        "keys",
        EncryptionKeysArgs(
            name_prefix=settings.name_prefix,
            account_id=account_id,
            region=settings.region,
            partition=aws_partition,
            purposes=[KeyPurpose.LOGS],
            deletion_window_days=platform.kms_key_deletion_window_days,
            protect=platform.protect_resources,
        ),
    )
    network_settings = platform.network
    network = Network(
        "network",
        NetworkArgs(
            name_prefix=settings.name_prefix,
            region=settings.region,
            partition=aws_partition,
            account_id=account_id,
            availability_zones=zones,
            subnet_plan=settings.subnet_plan,
            nat_gateways=network_settings.nat_gateways,
            flow_logs=FlowLogArgs(
                traffic_type=network_settings.flow_log_traffic_type,
                retention_days=platform.log_retention_days,
                kms_key_arn=keys.arn(KeyPurpose.LOGS),
            ),
            s3_gateway_endpoint=network_settings.s3_gateway_endpoint,
            interface_endpoints=network_settings.interface_endpoints,
            protect=platform.protect_resources,
        ),
    )
    return Platform(keys=keys, network=network)


def availability_zones(settings: StackSettings) -> list[str]:
    """The first N zones the account can use in the region (no opt-in Local Zones)."""
    wanted = settings.platform.network.availability_zone_count
    offered = aws.get_availability_zones(
        state="available",
        filters=[
            aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])
        ],
    ).names
    if len(offered) < wanted:
        raise SettingsError(
            settings.stack,
            f"Pulumi.{settings.stack}.yaml",
            [
                Problem(
                    "platform:network.availabilityZoneCount",
                    wanted,
                    f"this account sees {len(offered)} zones in {settings.region} "
                    f"({', '.join(offered)}); allowed: 2 to {len(offered)}",
                )
            ],
        )
    return sorted(offered)[:wanted]


def stack_outputs(platform: Platform) -> dict[str, Any]:
    network = platform.network
    return {
        "vpcId": network.vpc_id,
        "vpcCidr": network.vpc_cidr,
        "availabilityZones": network.availability_zones,
        "publicSubnetIds": network.public_subnet_ids,
        "privateSubnetIds": network.private_subnet_ids,
        "isolatedSubnetIds": network.isolated_subnet_ids,
        "flowLogGroupName": network.flow_log_group_name,
        "logsKeyArn": platform.keys.arn(KeyPurpose.LOGS),
    }
