"""Cases for policies/rules/backup.py."""

from __future__ import annotations

from tests.policy_cases import passes, undecided, violates
from tests.policy_harness import UNKNOWN, Res

VAULT = "aws:backup/vault:Vault"
LOCK = "aws:backup/vaultLockConfiguration:VaultLockConfiguration"
PLAN = "aws:backup/plan:Plan"
SELECTION = "aws:backup/selection:Selection"
AURORA = "aws:rds/cluster:Cluster"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
HOME_VAULT = "arn:aws:backup:us-east-1:123456789012:backup-vault:x"
COPY_VAULT = "arn:aws:backup:us-west-2:123456789012:backup-vault:x-copy"
CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:x-db"

VAULT_0 = Res(VAULT, "vault", {"name": "x", "kmsKeyArn": KEY, "arn": HOME_VAULT})


def aurora(**tags: str) -> Res:
    return Res(AURORA, "db", {"clusterIdentifier": "x-db", "arn": CLUSTER_ARN, "tags": tags})


def selection(value: str = "standard", **props: object) -> Res:
    tags = [{"type": "STRINGEQUALS", "key": "backup", "value": value}]
    return Res(SELECTION, "selection", {"name": "x", "selectionTags": tags, **props})


def lock(**props: object) -> Res:
    return Res(
        LOCK, "lock", {"backupVaultName": "x", "minRetentionDays": 7, **props},
        {"backupVaultName": ["vault"]},
    )  # fmt: skip


def plan(*copies: object) -> Res:
    rule = {
        "ruleName": "daily",
        "targetVaultName": "x",
        "copyActions": [{"destinationVaultArn": c} for c in copies],
    }
    return Res(PLAN, "plan", {"name": "x", "rules": [rule]})


CASES = [
    violates("backup-vault-cmk", "a vault on the AWS-managed key",
             Res(VAULT, "vault", {"name": "x"}),
             message="kmsKeyArn", at="vault"),
    passes("backup-vault-cmk", "a vault on the stack's key", VAULT_0),
    undecided("backup-vault-cmk", "the key is still to be created",
              Res(VAULT, "vault", {"name": "x", "kmsKeyArn": UNKNOWN})),
    violates("stateful-resources-backed-up", "a database no plan selects", aurora(),
             message="no 'backup' tag", at="db"),
    violates("stateful-resources-backed-up", "a tag no selection selects",
             aurora(backup="standard"), selection("other"), message="no backup selection"),
    passes("stateful-resources-backed-up", "tagged with a selected plan",
           aurora(backup="standard"), selection()),
    passes("stateful-resources-backed-up", "selected by its ARN",
           aurora(), selection("other", resources=[CLUSTER_ARN])),
    undecided("stateful-resources-backed-up", "tags built from outputs still unknown",
              Res(AURORA, "db", {"clusterIdentifier": "x-db", "tags": UNKNOWN}), selection()),
    violates("backup-vault-locked", "a vault with no lock", VAULT_0, message="no vault lock",
             at="vault"),
    passes("backup-vault-locked", "a governance lock where governance is enough", VAULT_0, lock()),
    violates("backup-vault-locked", "a governance lock where compliance is required",
             VAULT_0, lock(), config={"mode": "compliance"}, message="governance mode"),
    passes("backup-vault-locked", "a compliance lock", VAULT_0, lock(changeableForDays=3),
           config={"mode": "compliance"}),
    undecided("backup-vault-locked", "the lock's mode is not known yet", VAULT_0,
              lock(changeableForDays=UNKNOWN), config={"mode": "compliance"}),
    violates("backup-copy-other-region", "a plan that copies nothing", VAULT_0, plan(),
             message="copies no recovery point to another region", at="plan"),
    violates("backup-copy-other-region", "a copy into the same region", VAULT_0,
             plan(HOME_VAULT.replace(":x", ":x-2")), message="another region"),
    passes("backup-copy-other-region", "a copy to a vault in another region", VAULT_0,
           plan(COPY_VAULT)),
    undecided("backup-copy-other-region", "the copy vault is still to be created", VAULT_0,
              plan(UNKNOWN)),
]  # fmt: skip
