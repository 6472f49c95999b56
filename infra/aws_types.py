"""What pulumi-aws resource types accept, read from the installed SDK's classes.

Used by the tagging transform (which types take ``tags``) and by the offline engine's mocks
(which types the provider auto-names), so the answer always matches the installed provider.
"""

from __future__ import annotations

import importlib
import inspect
from functools import cache


@cache
def resource_parameters(type_token: str) -> dict[str, str]:
    """Constructor parameters of a pulumi-aws resource type -> their annotation text.

    Empty for tokens that are not pulumi-aws resources (components, other providers).
    """
    package, _, rest = type_token.partition(":")
    if package != "aws" or not rest:
        return {}
    module_path, _, class_name = rest.partition(":")
    module_name = module_path.split("/")[0]
    python_module = "pulumi_aws" if module_name == "index" else f"pulumi_aws.{module_name}"
    try:
        cls = getattr(importlib.import_module(python_module), class_name)
        signature = inspect.signature(cls._internal_init)
    except (ImportError, AttributeError, ValueError, TypeError):
        return {}
    return {
        name: str(param.annotation)
        for name, param in signature.parameters.items()
        if name not in ("__self__", "resource_name", "opts", "__props__")
    }


def takes_tag_map(type_token: str) -> bool:
    """True when the type has a ``tags`` map (autoscaling groups take a list instead)."""
    annotation = resource_parameters(type_token).get("tags")
    return annotation is not None and "Mapping" in annotation


def is_auto_named(type_token: str) -> bool:
    return "name" in resource_parameters(type_token)
