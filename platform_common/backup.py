"""What AWS Backup covers, shared by the program (the tags transform tags these types) and
the policy packs (every resource of these types must be selected by a backup plan).

The stack's other stateful types are not AWS Backup's to protect: the cache is a cache (it
keeps its own snapshots), the cluster's state is in git and Pulumi, and keys, secrets,
registries, log groups and the VPC are rebuilt or retained by their own settings.
"""

from __future__ import annotations

# The tag whose value names the plan that backs a resource up.
BACKUP_TAG = "backup"
# Aurora clusters (their instances hold no data of their own) and RDS instances.
BACKED_UP_TYPES = frozenset({"aws:rds/cluster:Cluster", "aws:rds/instance:Instance"})
