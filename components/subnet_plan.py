"""Subnet CIDR planning for the Network component, computed with :mod:`ipaddress`.

Pure functions, no Pulumi: settings validation uses the same planner to reject a plan
before any resource is registered, and the Network component receives the result.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

MIN_SUBNET_PREFIX = 16
MAX_SUBNET_PREFIX = 28  # AWS refuses subnets smaller than /28


class Tier(StrEnum):
    """Subnet tiers, from most to least exposed."""

    PUBLIC = "public"  # load balancers and NAT gateways; route to the internet gateway
    PRIVATE = "private"  # nodes and pods; egress through NAT
    ISOLATED = "isolated"  # databases and caches; no route out of the VPC


class SubnetPlanError(ValueError):
    """A subnet plan that cannot work; the message says why and what would."""


@dataclass(frozen=True)
class SubnetPlan:
    """One CIDR per tier per availability zone, index-aligned with the zone list."""

    vpc_cidr: ipaddress.IPv4Network
    subnets: Mapping[Tier, tuple[ipaddress.IPv4Network, ...]]

    def cidrs(self, tier: Tier) -> tuple[str, ...]:
        return tuple(str(net) for net in self.subnets[tier])

    @property
    def zone_count(self) -> int:
        return len(self.subnets[Tier.PUBLIC])

    def all_subnets(self) -> list[tuple[Tier, int, ipaddress.IPv4Network]]:
        return [(tier, index, net) for tier in Tier for index, net in enumerate(self.subnets[tier])]


def plan_subnets(
    vpc_cidr: ipaddress.IPv4Network,
    zone_count: int,
    prefix_lengths: Mapping[Tier, int],
) -> SubnetPlan:
    """Carve one subnet per tier per zone out of ``vpc_cidr``.

    Blocks are placed largest first: with power-of-two sizes in descending order each
    block starts aligned right after the previous one, so the plan is gap-free and fits
    exactly when the sizes add up to no more than the VPC.
    """
    for tier in Tier:
        prefix = prefix_lengths[tier]
        if not MIN_SUBNET_PREFIX <= prefix <= MAX_SUBNET_PREFIX:
            raise SubnetPlanError(
                f"{tier} subnets /{prefix} are outside what AWS allows "
                f"(/{MIN_SUBNET_PREFIX} to /{MAX_SUBNET_PREFIX})"
            )
        if prefix < vpc_cidr.prefixlen:
            raise SubnetPlanError(f"{tier} subnets /{prefix} are larger than the VPC {vpc_cidr}")

    requests = sorted(
        ((tier, zone) for tier in Tier for zone in range(zone_count)),
        key=lambda item: (prefix_lengths[item[0]], list(Tier).index(item[0]), item[1]),
    )
    needed = sum(2 ** (32 - prefix_lengths[tier]) for tier, _ in requests)
    if needed > vpc_cidr.num_addresses:
        sizes = ", ".join(f"{zone_count} x /{prefix_lengths[tier]} {tier}" for tier in Tier)
        smallest = 32 - (needed - 1).bit_length()
        raise SubnetPlanError(
            f"{vpc_cidr} ({vpc_cidr.num_addresses} addresses) is too small for {sizes} "
            f"({needed} addresses); allowed: a VPC of /{smallest} or larger, "
            f"or smaller subnets"
        )

    cursor = int(vpc_cidr.network_address)
    placed: dict[Tier, list[ipaddress.IPv4Network | None]] = {
        tier: [None] * zone_count for tier in Tier
    }
    for tier, zone in requests:
        prefix = prefix_lengths[tier]
        net = ipaddress.IPv4Network((cursor, prefix))
        placed[tier][zone] = net
        cursor += net.num_addresses
    return SubnetPlan(
        vpc_cidr=vpc_cidr,
        subnets={tier: tuple(n for n in nets if n is not None) for tier, nets in placed.items()},
    )


def check_explicit_plan(
    vpc_cidr: ipaddress.IPv4Network,
    zone_count: int,
    cidrs: Mapping[Tier, Sequence[ipaddress.IPv4Network]],
) -> SubnetPlan:
    """Validate a hand-written plan (for VPCs that must match an existing IP plan)."""
    for tier in Tier:
        got = len(cidrs[tier])
        if got != zone_count:
            raise SubnetPlanError(
                f"{tier} lists {got} CIDRs; allowed: exactly one per availability zone "
                f"({zone_count})"
            )
    flat = [(tier, index, net) for tier in Tier for index, net in enumerate(cidrs[tier])]
    for tier, index, net in flat:
        if not net.subnet_of(vpc_cidr):
            raise SubnetPlanError(f"{tier}[{index}] {net} is outside the VPC {vpc_cidr}")
        if not MIN_SUBNET_PREFIX <= net.prefixlen <= MAX_SUBNET_PREFIX:
            raise SubnetPlanError(
                f"{tier}[{index}] {net} is outside what AWS allows "
                f"(/{MIN_SUBNET_PREFIX} to /{MAX_SUBNET_PREFIX})"
            )
    for i, (tier_a, index_a, net_a) in enumerate(flat):
        for tier_b, index_b, net_b in flat[i + 1 :]:
            if net_a.overlaps(net_b):
                raise SubnetPlanError(
                    f"{tier_a}[{index_a}] {net_a} overlaps {tier_b}[{index_b}] {net_b}; "
                    f"allowed: disjoint CIDRs"
                )
    return SubnetPlan(vpc_cidr=vpc_cidr, subnets={tier: tuple(cidrs[tier]) for tier in Tier})
