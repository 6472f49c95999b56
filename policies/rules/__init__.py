"""Every rule of the project, by service; each pack serves the rules of its :class:`Pack`.

A rule lives in exactly one module and belongs to exactly one pack; both packs import from
here, so no rule is written twice.
"""

from __future__ import annotations

from policies.framework.rule import Pack, Rule
from policies.rules import (
    alb,
    backup,
    credentials,
    ec2,
    ecr,
    eks,
    elasticache,
    iam,
    kms,
    logs,
    namespaces,
    observability,
    pods,
    rds,
    s3,
    secrets,
    stack,
    vpc,
    waf,
    workloads,
)

ALL_RULES: tuple[Rule, ...] = (
    *rds.RULES,
    *elasticache.RULES,
    *eks.RULES,
    *ec2.RULES,
    *vpc.RULES,
    *waf.RULES,
    *kms.RULES,
    *logs.RULES,
    *ecr.RULES,
    *iam.RULES,
    *pods.RULES,
    *credentials.RULES,
    *workloads.RULES,
    *namespaces.RULES,
    *alb.RULES,
    *s3.RULES,
    *observability.RULES,
    *backup.RULES,
    *secrets.RULES,
    *stack.RULES,
)


def _catalogue(rules: tuple[Rule, ...]) -> dict[str, Rule]:
    catalogue: dict[str, Rule] = {}
    for rule in rules:
        if rule.name in catalogue:
            raise ValueError(f"two rules are named {rule.name!r}")
        if rule.name == "all":
            raise ValueError('"all" is reserved by the engine for every policy')
        catalogue[rule.name] = rule
    return catalogue


CATALOGUE = _catalogue(ALL_RULES)


def rules_for(pack: Pack) -> list[Rule]:
    return [rule for rule in ALL_RULES if rule.pack is pack]
