"""AWS Backup: every resource AWS Backup can protect is selected by a plan, the vault is on a
customer-managed key and locked, and recovery points are copied to another region."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from platform_common.backup import BACKED_UP_TYPES, BACKUP_TAG
from policies.framework import params
from policies.framework.checks import Check, Present, property_rule
from policies.framework.resources import Resource, StackView
from policies.framework.rule import Compliance, Pack, stack_rule
from policies.framework.values import is_unknown, unknown
from policies.rules.stack import STATEFUL_TYPES

VAULT = "aws:backup/vault:Vault"
VAULT_LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
# The stateful types the security pack protects that AWS Backup can back up.
BACKED_UP_STATEFUL = tuple(t for t in STATEFUL_TYPES if t in BACKED_UP_TYPES)

vault_cmk = property_rule(
    name="backup-vault-cmk",
    description="Backup vaults encrypt recovery points with a customer-managed KMS key.",
    remediation="Set kmsKeyArn to the stack's backup key (components/backup.py; a vault cannot "
    "change keys later).",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    resource_types=(VAULT,),
    compliance=Compliance(checkov=("CKV_AWS_166",)),
    checks=(Check("kmsKeyArn", Present("a customer-managed KMS key ARN")),),
)


def _tag_value(resource: Resource) -> Any:
    for key in ("tags", "tagsAll"):
        tags = resource.get(key, None)
        if is_unknown(tags):
            raise unknown(tags, key)
        if isinstance(tags, Mapping) and BACKUP_TAG in tags:
            return tags[BACKUP_TAG]
    return None


def _selected(stack: StackView) -> tuple[set[str], set[str]]:
    """The tag values and the ARNs the stack's backup selections select."""

    def compute() -> tuple[set[str], set[str]]:
        plans, arns = set(), set()
        for selection in stack.of_type(SELECTION):
            for tag in selection.get("selectionTags", None) or []:
                if tag.get("key") == BACKUP_TAG and tag.get("type") == "STRINGEQUALS":
                    plans.add(tag.get("value"))
            arns |= {a for a in selection.get("resources", None) or [] if isinstance(a, str)}
        return plans, arns

    return stack.memo("backup-selected", compute)


def _backed_up(resource: Resource, stack: StackView, _: Mapping[str, Any]) -> Iterator[str]:
    plans, arns = _selected(stack)
    if resource.get("arn", None) in arns:
        return
    value = _tag_value(resource)
    if value is None:
        yield (
            f"{resource.label} has no {BACKUP_TAG!r} tag, so no backup plan selects it: "
            "a region loss or a mistake past its own retention would lose its data"
        )
    elif value not in plans:
        yield (
            f"{resource.label} is tagged {BACKUP_TAG}={value}, but no backup selection of the "
            f"stack selects that tag"
        )


stateful_backed_up = stack_rule(
    over=BACKED_UP_STATEFUL,
    name="stateful-resources-backed-up",
    description="Every stateful resource AWS Backup can protect is selected by a backup plan "
    "of the stack.",
    remediation="Keep platform:backup (components/backup.py): the standard tags transform tags "
    "every such resource backup: <plan>, and the plan's selection selects that tag.",
    severity=Severity.HIGH,
    pack=Pack.SECURITY,
    compliance=Compliance(checkov=("CKV2_AWS_8",)),
    resource_types=(*BACKED_UP_STATEFUL, SELECTION),
    judge=_backed_up,
)


def _locked(vault: Resource, stack: StackView, settings: Mapping[str, Any]) -> Iterator[str]:
    locks = list(stack.referring_to(vault, "backupVaultName", VAULT_LOCK))
    if not locks:
        yield f"{vault.label} has no vault lock: anyone allowed can delete its recovery points"
        return
    grace = [lock.get("changeableForDays", None) for lock in locks]
    if any(is_unknown(days) for days in grace):
        raise unknown(grace, "changeableForDays")
    if settings["mode"] == "compliance" and all(days is None for days in grace):
        yield (
            f"{vault.label} is locked in governance mode; this stack requires compliance mode "
            "(changeableForDays set), which no one can remove once it is in force"
        )


vault_locked = stack_rule(
    over=(VAULT,),
    name="backup-vault-locked",
    description="Backup vaults are locked, so recovery points cannot be deleted before their "
    "minimum retention.",
    remediation="Set platform:backup.vaultLock (mode compliance in prod).",
    severity=Severity.MEDIUM,
    pack=Pack.SECURITY,
    # A lock is a cost decision in dev (its points cannot be cleaned up early): prod's
    # config makes it mandatory, in compliance mode.
    enforcement=EnforcementLevel.ADVISORY,
    resource_types=(VAULT, VAULT_LOCK),
    params=(
        params.choice(
            "mode",
            "governance accepts either mode; compliance requires a lock no one can remove",
            ("governance", "compliance"),
            default="governance",
        ),
    ),
    judge=_locked,
)


def _region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 else ""


def _copied(plan: Resource, stack: StackView, _: Mapping[str, Any]) -> Iterator[str]:
    vaults = {v.get("name", None): v for v in stack.of_type(VAULT)}
    for rule in plan.get("rules", None) or []:
        target = vaults.get(rule.get("targetVaultName"))
        home = target.get("arn", None) if target is not None else None
        destinations = [c.get("destinationVaultArn") for c in rule.get("copyActions") or []]
        if any(is_unknown(d) for d in destinations) or is_unknown(home):
            raise unknown(destinations, "rules.copyActions.destinationVaultArn")
        home_region = _region(home) if isinstance(home, str) else ""
        if not any(
            isinstance(d, str) and _region(d) not in ("", home_region) for d in destinations
        ):
            yield (
                f"{plan.label}'s rule {rule.get('ruleName')!r} copies no recovery point to "
                "another region: a region loss would take every copy with it"
            )


copied_elsewhere = stack_rule(
    over=(PLAN,),
    name="backup-copy-other-region",
    description="Every rule of a backup plan copies its recovery points to a vault in another "
    "region.",
    remediation="Set platform:backup.copyRegion to a second region (a vault there, on a key of "
    "that region).",
    severity=Severity.MEDIUM,
    pack=Pack.QUALITY,
    resource_types=(PLAN, VAULT),
    judge=_copied,
)

RULES = (vault_cmk, stateful_backed_up, vault_locked, copied_elsewhere)
