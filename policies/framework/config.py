"""The pack's own check of its configuration, run when the engine calls ``Configure``.

The Pulumi CLI validates ``--policy-pack-config`` against each policy's declared schema, but
that schema cannot forbid unknown keys, and a config reaching a pack some other way (Pulumi
Cloud, the Automation API, a hand-written engine) is not validated at all. The pack checks
again, more strictly: every policy named must be one of this project's rules, every key one of
the rule's parameters, every value valid for it. One line per problem, naming the policy, the
key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from policies.framework.rule import Rule

FORMATS = FormatChecker()


@FORMATS.checks("cidr", raises=ValueError)
def _is_cidr(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "type" reports non-strings
    ipaddress.ip_network(value, strict=True)
    return True


def config_problems(
    catalogue: Mapping[str, Rule], served: set[str], config: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Problems with ``config`` (policy name -> its properties) for a pack serving ``served``.

    Policies of this project's other pack are accepted here and checked by that pack, so one
    config file per stack serves both packs.
    """
    problems: list[str] = []
    for name in sorted(config):
        if name == "all":
            continue  # the engine spreads "all" over every policy and passes it on as well
        rule = catalogue.get(name)
        if rule is None:
            problems.append(_unknown_policy(name, catalogue))
        elif name in served:
            problems += _property_problems(rule, config[name])
    return problems


def _unknown_policy(name: str, catalogue: Mapping[str, Rule]) -> str:
    close = difflib.get_close_matches(name, list(catalogue), n=2, cutoff=0.75)
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return (
        f"{json.dumps(name)}: no such policy{hint}; allowed: the name of a rule of "
        f'policies/rules ({len(catalogue)} rules; see docs/policies/coverage.md), or "all"'
    )


def _property_problems(rule: Rule, properties: Mapping[str, Any]) -> list[str]:
    params = {p.name: p for p in rule.params}
    problems = []
    for key in sorted(set(properties) - set(params)):
        allowed = ", ".join(sorted(params)) or "no parameters (only enforcementLevel)"
        problems.append(f"{rule.name}.{key}: no such parameter; allowed: {allowed}")
    schema = {"type": "object", "properties": {k: dict(p.schema) for k, p in params.items()}}
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    for error in sorted(validator.iter_errors(dict(properties)), key=lambda e: list(e.path)):
        if not error.path:
            continue  # unknown keys are reported above
        key = str(error.path[0])
        value = json.dumps(properties.get(key))
        reason = error.message
        if error.validator == "format":
            reason = f"{json.dumps(error.instance)} is not a {error.validator_value}"
        problems.append(
            f"{rule.name}.{key} = {value}: {reason}; allowed: {params[key].description}"
        )
    return problems
