"""Whether the identity running platformctl can reach the cluster's API. The cluster admits only
the roles in platform:cluster.adminRoleArns (there is no creator entry), so an `up` or a release
by anyone else would apply its AWS changes and then fail at the first Kubernetes resource: it
is refused before anything is applied."""

from __future__ import annotations

from collections.abc import Sequence


def role_of(caller_arn: str) -> tuple[str, str] | None:
    """(account, role name) of an assumed-role session; None for a user or root."""
    # arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION
    parts = caller_arn.split(":", 5)
    if len(parts) != 6 or not parts[5].startswith("assumed-role/"):
        return None
    return parts[4], parts[5].split("/")[1]


def not_an_admin(caller_arn: str, admin_role_arns: Sequence[str], stack: str) -> str | None:
    """Why the caller cannot reach the stack's cluster, or None when it is an admin. A role
    is known by account and name, whatever its path (an SSO role's path is not in its
    session ARN)."""
    caller = role_of(caller_arn)
    admins = {(arn.split(":")[4], arn.rsplit("/", 1)[-1]) for arn in admin_role_arns}
    if caller in admins:
        return None
    who = f"role {caller[1]} of account {caller[0]}" if caller else caller_arn
    return (
        f"you run this as {who}, which stack {stack}'s cluster does not admit: only the roles "
        "in platform:cluster.adminRoleArns reach its API, so the Kubernetes part of the update "
        "would fail after its AWS part was applied; allowed: run it as one of "
        + ", ".join(sorted(admin_role_arns))
        + " (or add your role there, through an up by an admin)"
    )
