"""The standard tags, applied to every taggable AWS resource from this one place.

A stack transform (run by the engine for every resource, including components' children)
merges the standard tags into the resource's own. Standard tags win over a resource's
own tag of the same key: ownership and cost allocation must not be overridden by hand.
Every type AWS Backup protects also gets ``backup: <plan>``, which the stack's backup
selection selects: a stateful resource added later is backed up without naming it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi

from infra.config import StackSettings
from infra.settings.platform_config import STANDARD_TAG_KEYS
from platform_common.aws_types import takes_tag_map
from platform_common.backup import BACKED_UP_TYPES, BACKUP_TAG

MANAGED_BY = "pulumi"


def standard_tags(settings: StackSettings) -> dict[str, str]:
    platform = settings.platform
    tags = {
        **platform.tags,
        "project": settings.project,
        "stack": settings.stack,
        "environment": platform.environment,
        "owner": platform.owner,
        "cost-center": platform.cost_center,
        "managed-by": MANAGED_BY,
    }
    assert set(STANDARD_TAG_KEYS) <= set(tags), "platform_config.STANDARD_TAG_KEYS is out of date"
    return tags


def tag_transform(
    tags: Mapping[str, str], backup_plan: str | None = None
) -> pulumi.ResourceTransform:
    backed_up = {**tags, BACKUP_TAG: backup_plan} if backup_plan else dict(tags)

    def add_standard_tags(
        args: pulumi.ResourceTransformArgs,
    ) -> pulumi.ResourceTransformResult | None:
        if not args.custom or not takes_tag_map(args.type_):
            return None
        own = args.props.get("tags")
        if own is not None and not isinstance(own, Mapping):
            # Tags built from other resources' outputs can be unknown during a preview;
            # replacing them would drop the resource's own tags, so leave them as they are.
            return None
        standard = backed_up if args.type_ in BACKED_UP_TYPES else tags
        props = {**args.props, "tags": {**(own or {}), **standard}}
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return add_standard_tags


def register_standard_tags(settings: StackSettings) -> dict[str, str]:
    tags = standard_tags(settings)
    pulumi.runtime.register_resource_transform(tag_transform(tags, settings.platform.backup.plan))
    return tags
