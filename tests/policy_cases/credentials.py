"""Cases for policies/rules/credentials.py."""

from __future__ import annotations

from typing import Any

from tests.policy_cases import passes, undecided, violates
from tests.policy_cases.pods import CRON_JOB, container, init_container, workload
from tests.policy_harness import UNKNOWN, Res

RULE = "k8s-no-literal-credentials"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
PEM = "\n".join(
    ["-----BEGIN RSA PRIVATE KEY-----", "MIIEpAIBAAKCAQEAu1SU1LfV", "-----END RSA PRIVATE KEY-----"]
)
SECRET_REF = {"secretKeyRef": {"name": "web-db", "key": "password"}}


def with_env(*env: dict[str, Any], init: bool = False, **options: Any) -> Res:
    if init:
        return workload({"initContainers": [{**init_container(), "env": list(env)}]}, **options)
    return workload({"containers": [container(env=list(env))]}, **options)


def config_map(data: Any) -> Res:
    props = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-settings", "namespace": "shop"},
        "data": data,
    }
    return Res(CONFIG_MAP, "web-settings", props)


CASES = [
    violates(
        RULE,
        "a password written into a container's env",
        with_env({"name": "DB_PASSWORD", "value": "hunter2-hunter2"}),
        message="container 'web' env DB_PASSWORD is named like a credential and holds a literal",
    ),
    violates(
        RULE,
        "an API token in an init container's env (lowercase name)",
        with_env({"name": "stripe_api_key", "value": "rk_live_0123456789"}, init=True),
        message="init container 'migrate' env stripe_api_key is named like a credential",
    ),
    violates(
        RULE,
        "a credential's shape under an innocent name",
        with_env({"name": "UPSTREAM", "value": "https://bot:s3cr3t-pass@api.example.com/v1"}),
        message="env UPSTREAM holds what has a credential's shape",
    ),
    violates(
        RULE,
        "an AWS access key in a cron job",
        with_env({"name": "EXTRA", "value": "AKIAIOSFODNN7EXAMPLE"}, kind=CRON_JOB),
        message="env EXTRA holds what has a credential's shape",
    ),
    violates(
        RULE,
        "a private key in a ConfigMap",
        config_map({"LOG_LEVEL": "info", "tls.key": PEM}),
        message="data key tls.key holds what has a credential's shape",
    ),
    violates(
        RULE,
        "a token named as such in a ConfigMap",
        config_map({"GITHUB_TOKEN": "not-really-a-ghp-but-a-literal"}),
        message="data key GITHUB_TOKEN is named like a credential and holds a literal value",
    ),
    *(
        violates(
            RULE,
            behaviour,
            with_env({"name": name, "value": value}),
            message=f"env {name} is named like a credential",
        )
        for behaviour, name, value in (
            ("a token of digits is not a number setting", "API_TOKEN", "84712093847561029384"),
            ("a password that starts with a slash is not a path", "DB_PASSWORD", "/hunter2"),
            ("a secret that reads like a switch", "SESSION_SECRET", "off"),
        )
    ),
    passes(RULE, "plain settings", with_env({"name": "LOG_LEVEL", "value": "warn"})),
    passes(
        RULE,
        "an endpoint known only once its resource exists",
        with_env({"name": "DATABASE_HOST", "value": UNKNOWN}),
    ),
    passes(
        RULE,
        "the credential comes from a Secret",
        with_env({"name": "DB_PASSWORD", "valueFrom": SECRET_REF}),
    ),
    passes(
        RULE,
        "credential-named settings that are not the credential",
        with_env(
            {"name": "TOKEN_TTL_SECONDS", "value": "3600"},
            {"name": "AUTH_ENABLED", "value": "true"},
            {"name": "PASSWORD_FILE", "value": "/run/secrets/db-password"},
            {"name": "AUTH_URL", "value": "https://auth.example.com/oauth2/token"},
            {"name": "API_KEY_FROM", "value": "$(OTHER_VARIABLE)"},
            {"name": "DB_PASSWORD", "value": ""},
        ),
    ),
    passes(
        RULE,
        "a ConfigMap naming where the secret is (the App's own)",
        config_map(
            {
                "DATABASE_SECRET_ARN": (
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-0a1b"
                ),
                "CACHE_AUTH_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:c",
                "DATABASE_HOST": "db.cluster-0a1b.us-east-1.rds.amazonaws.com",
            }
        ),
    ),
    undecided(
        RULE,
        "an env value not known until another resource exists",
        with_env({"name": "DB_PASSWORD", "value": UNKNOWN}),
    ),
    undecided(RULE, "ConfigMap data unknown", config_map(UNKNOWN)),
]
