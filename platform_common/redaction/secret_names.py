"""Which names say their value is a secret: a key, a flag, an element or a ``name`` beside a
``value``.

One question, asked by both nets that go by name: the redactor's (a value under a secret
key, the item after a secret flag in a list) and the text rules' (``password=…``, a
secret-named flag, ``<token>…</token>``). It belongs to neither, so it has a module of its
own that both import and that imports neither.
"""

from __future__ import annotations

import functools
import itertools
import re

# Whole words of a key (after splitting camelCase, snake_case, kebab-case, dots, digits).
_SECRET_WORDS = frozenset(
    {
        "password", "passwords", "passwd", "pwd", "pass", "passphrase",
        "token", "tokens", "secret", "secrets", "key", "keys", "apikey", "apikeys",
        "privatekey", "authorization", "credential", "credentials", "creds",
        "kubeconfig", "cookie", "cookies", "session", "sessions", "signature", "sig",
        "connectionstring", "dsn", "jwt", "hmac", "salt", "otp", "pem", "keystore",
        "webhook", "webhooks",
    }
)  # fmt: skip
# Unambiguous even inside a run of lowercase letters (``masterpassword``, ``oauthtoken``).
_SECRET_PARTS = (
    "password", "passwd", "passphrase", "secret", "token", "credential", "kubeconfig",
    "apikey", "privatekey", "auth", "cookie", "signature",
)  # fmt: skip
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


@functools.lru_cache(maxsize=4096)
def secret_key(name: str) -> bool:
    """Whether a key's name says its value is a secret: ``dbPassword``, ``api_key``,
    ``client-key-data``, ``tls.key``, ``AUTH_TOKEN``, ``kubeConfig``."""
    words = [word.lower() for word in _WORD.findall(name)]
    pairs = [a + b for a, b in itertools.pairwise(words)]
    if any(w in _SECRET_WORDS or w.startswith("auth") for w in [*words, *pairs]):
        return True
    squashed = "".join(words)
    return any(part in squashed for part in _SECRET_PARTS)
