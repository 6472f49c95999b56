"""Availability zones per AWS region, for offline validation and the offline engine's mocks.

Settings are checked against this table before anything talks to AWS, so a stack that asks
for more zones than its region has fails at once. At deploy time the program checks again
against what ``aws.get_availability_zones`` returns for the account, which is the truth
(some accounts see fewer zones, for example in us-west-1).
"""

from __future__ import annotations

REGION_ZONES: dict[str, tuple[str, ...]] = {
    "us-east-1": ("a", "b", "c", "d", "e", "f"),
    "us-east-2": ("a", "b", "c"),
    "us-west-1": ("a", "c"),
    "us-west-2": ("a", "b", "c", "d"),
    "ca-central-1": ("a", "b", "d"),
    "sa-east-1": ("a", "b", "c"),
    "eu-west-1": ("a", "b", "c"),
    "eu-west-2": ("a", "b", "c"),
    "eu-west-3": ("a", "b", "c"),
    "eu-central-1": ("a", "b", "c"),
    "eu-central-2": ("a", "b", "c"),
    "eu-north-1": ("a", "b", "c"),
    "eu-south-1": ("a", "b", "c"),
    "ap-south-1": ("a", "b", "c"),
    "ap-southeast-1": ("a", "b", "c"),
    "ap-southeast-2": ("a", "b", "c"),
    "ap-northeast-1": ("a", "c", "d"),
    "ap-northeast-2": ("a", "b", "c", "d"),
    "ap-northeast-3": ("a", "b", "c"),
    "me-central-1": ("a", "b", "c"),
    "il-central-1": ("a", "b", "c"),
    "af-south-1": ("a", "b", "c"),
}


def zone_names(region: str) -> list[str]:
    return [f"{region}{suffix}" for suffix in REGION_ZONES[region]]


def zone_ids(region: str) -> list[str]:
    """Zone ids in AWS's form (``use1-az1``): letters are per account, ids are not."""
    parts = region.split("-")
    short = parts[0] + "".join(p[0] for p in parts[1:-1]) + parts[-1]
    return [f"{short}-az{i + 1}" for i in range(len(REGION_ZONES[region]))]


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
