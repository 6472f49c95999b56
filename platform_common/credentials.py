"""The names that say their value is a credential. Settings refuse them as a service's plain
``env`` (infra/settings/app.py); the policy packs refuse a literal value under them in any
Kubernetes object (policies/rules/credentials.py). One list, so the two never disagree."""

from __future__ import annotations

import re

_CREDENTIAL_WORDS = re.compile(
    r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL|AUTH", re.IGNORECASE
)


def credential_name(name: str) -> bool:
    """``DB_PASSWORD``, ``apiKey``, ``AUTH_HEADER``, ``client_secret``: yes; ``LOG_LEVEL``: no."""
    return bool(_CREDENTIAL_WORDS.search(name))
