"""The Pulumi program: load the stack's settings, build the platform, export its outputs."""

import pulumi

from infra.config import load_settings
from infra.platform import build_platform, stack_outputs
from infra.tagging import register_standard_tags

settings = load_settings()
register_standard_tags(settings)
platform = build_platform(settings)
for name, value in stack_outputs(platform).items():
    pulumi.export(name, value)
