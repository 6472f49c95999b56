"""What pulumi-aws resource types accept, read from the installed SDK's classes.

Used by the tagging transform (which types take ``tags``) and by the offline engine's mocks
(which types the provider auto-names), so the answer always matches the installed provider.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
from functools import cache
from pathlib import Path


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


@cache
def takes_tag_map(type_token: str) -> bool:
    """True when the type has a ``tags`` map (autoscaling groups take a list instead).

    Read from the class's source file when it can be found: importing a pulumi-aws module
    takes up to a second, and a policy pack asks this for every AWS type of a stack.
    """
    source = _module_source(type_token)
    if source is not None:
        return _TAGS_MAP.search(source) is not None
    return _tag_map_annotation(type_token)


def _tag_map_annotation(type_token: str) -> bool:
    annotation = resource_parameters(type_token).get("tags")
    return annotation is not None and "Mapping" in annotation


# The resource's Args and constructor declare ``tags: pulumi.Input[Optional[Mapping[...``.
_TAGS_MAP = re.compile(r"^\s+tags: pulumi\.Input\[Optional\[Mapping\[", re.MULTILINE)


def _module_source(type_token: str) -> str | None:
    package, _, rest = type_token.partition(":")
    module_path, _, _ = rest.partition(":")
    if package != "aws" or "/" not in module_path:
        return None
    module, _, resource = module_path.partition("/")
    spec = importlib.util.find_spec("pulumi_aws")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(spec.submodule_search_locations[0])
    if module != "index":
        directory /= module
    path = directory / (re.sub(r"(?<!^)(?=[A-Z])", "_", resource).lower() + ".py")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def is_auto_named(type_token: str) -> bool:
    return "name" in resource_parameters(type_token)
