import ipaddress
import itertools

import pytest

from components.subnet_plan import (
    SubnetPlanError,
    Tier,
    check_explicit_plan,
    plan_subnets,
)

PREFIXES = {Tier.PUBLIC: 24, Tier.PRIVATE: 20, Tier.ISOLATED: 24}


@pytest.mark.parametrize("zones", [2, 3, 6])
def test_plan_gives_each_tier_one_disjoint_subnet_per_zone_inside_the_vpc(zones):
    vpc = ipaddress.ip_network("10.0.0.0/16")
    plan = plan_subnets(vpc, zones, PREFIXES)
    subnets = plan.all_subnets()
    assert len(subnets) == 3 * zones
    for tier, _, net in subnets:
        assert net.subnet_of(vpc)
        assert net.prefixlen == PREFIXES[tier]
    for (_, _, a), (_, _, b) in itertools.combinations(subnets, 2):
        assert not a.overlaps(b), f"{a} overlaps {b}"


def test_plan_places_largest_blocks_first_without_gaps():
    plan = plan_subnets(ipaddress.ip_network("10.0.0.0/16"), 2, PREFIXES)
    assert plan.cidrs(Tier.PRIVATE) == ("10.0.0.0/20", "10.0.16.0/20")
    assert plan.cidrs(Tier.PUBLIC) == ("10.0.32.0/24", "10.0.33.0/24")
    assert plan.cidrs(Tier.ISOLATED) == ("10.0.34.0/24", "10.0.35.0/24")


def test_plan_that_exactly_fills_the_vpc_is_accepted():
    prefixes = {Tier.PUBLIC: 26, Tier.PRIVATE: 25, Tier.ISOLATED: 26}
    plan = plan_subnets(ipaddress.ip_network("10.0.0.0/23"), 2, prefixes)
    assert sum(net.num_addresses for _, _, net in plan.all_subnets()) == 512


def test_vpc_too_small_for_the_subnets_is_rejected_with_the_size_that_would_fit():
    with pytest.raises(SubnetPlanError) as error:
        plan_subnets(ipaddress.ip_network("10.0.0.0/20"), 3, PREFIXES)
    message = str(error.value)
    assert "too small" in message
    assert "/18 or larger" in message  # 3 x /20 + 6 x /24 = 13,824 addresses


def test_subnet_prefix_outside_aws_limits_is_rejected():
    with pytest.raises(SubnetPlanError, match="/16 to /28"):
        plan_subnets(ipaddress.ip_network("10.0.0.0/16"), 2, {**PREFIXES, Tier.PUBLIC: 29})


def test_explicit_plan_with_overlapping_cidrs_is_rejected():
    vpc = ipaddress.ip_network("10.0.0.0/16")
    cidrs = {
        Tier.PUBLIC: [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("10.0.1.0/24")],
        Tier.PRIVATE: [ipaddress.ip_network("10.0.0.0/20"), ipaddress.ip_network("10.0.16.0/20")],
        Tier.ISOLATED: [ipaddress.ip_network("10.0.40.0/24"), ipaddress.ip_network("10.0.41.0/24")],
    }
    with pytest.raises(SubnetPlanError, match=r"public\[0\] 10.0.0.0/24 overlaps private\[0\]"):
        check_explicit_plan(vpc, 2, cidrs)


def test_explicit_plan_outside_the_vpc_or_with_the_wrong_count_is_rejected():
    vpc = ipaddress.ip_network("10.0.0.0/16")
    outside = {
        Tier.PUBLIC: [ipaddress.ip_network("10.1.0.0/24"), ipaddress.ip_network("10.0.1.0/24")],
        Tier.PRIVATE: [ipaddress.ip_network("10.0.16.0/20"), ipaddress.ip_network("10.0.32.0/20")],
        Tier.ISOLATED: [ipaddress.ip_network("10.0.2.0/24"), ipaddress.ip_network("10.0.3.0/24")],
    }
    with pytest.raises(SubnetPlanError, match="outside the VPC"):
        check_explicit_plan(vpc, 2, outside)
    with pytest.raises(SubnetPlanError, match="exactly one per availability zone"):
        check_explicit_plan(vpc, 3, outside)


def test_valid_explicit_plan_is_kept_as_written():
    vpc = ipaddress.ip_network("10.0.0.0/16")
    cidrs = {
        Tier.PUBLIC: [ipaddress.ip_network("10.0.100.0/24"), ipaddress.ip_network("10.0.101.0/24")],
        Tier.PRIVATE: [ipaddress.ip_network("10.0.0.0/20"), ipaddress.ip_network("10.0.16.0/20")],
        Tier.ISOLATED: [
            ipaddress.ip_network("10.0.200.0/24"),
            ipaddress.ip_network("10.0.201.0/24"),
        ],
    }
    plan = check_explicit_plan(vpc, 2, cidrs)
    assert plan.cidrs(Tier.PUBLIC) == ("10.0.100.0/24", "10.0.101.0/24")
