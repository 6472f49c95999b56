"""No secret leaves the process in what the AI reviewer is sent: by marker, by key, by
content, and every known secret wherever it appears, on any nesting; deterministic,
idempotent, and never raising on odd input."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pulumi.runtime.rpc import UNKNOWN, _special_output_value_sig, _special_sig_key

from platform_common.pulumi_values import as_secret
from platformctl.review.redact import REDACTED, Redactor, secret_key

# --- keys -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "masterPassword",
        "master_user_password",
        "DB_PASSWORD",
        "passwd",
        "pwd",
        "passphrase",
        "token",
        "authToken",
        "sessionToken",
        "secret",
        "clientSecret",
        "secrets",
        "apiKey",
        "api_key",
        "APIKey",
        "apikey",
        "privateKey",
        "private-key",
        "tls.key",
        "client-key-data",
        "cert-key",
        "keys",
        "Authorization",
        "authentication",
        "auth",
        "credentials",
        "credential",
        "kubeconfig",
        "kubeConfig",
        "cookie",
        "session",
        "X-Amz-Signature",
        "aws_secret_access_key",
        "password2",
        "masterpassword",
        "platform:dbPassword",
    ],
)
def test_a_key_naming_a_secret_is_recognised(name: str) -> None:
    assert secret_key(name)


@pytest.mark.parametrize(
    "name",
    ["name", "image", "replicas", "engineVersion", "region", "tags", "port", "monkey", "spec"],
)
def test_an_ordinary_key_is_not_taken_for_a_secret(name: str) -> None:
    assert not secret_key(name)


def test_anything_under_a_secret_key_is_masked_at_any_depth() -> None:
    document = {
        "spec": {"containers": [{"env": {"apiKey": "abc"}}]},
        "masterPassword": "hunter2hunter2",
        "secrets": ["one", {"two": "three"}],
        "credentials": {"user": "admin", "nested": ["x"]},
        "tokenTtl": 3600,
        "passwordLength": 16.5,
    }
    assert Redactor().value(document) == {
        "spec": {"containers": [{"env": {"apiKey": REDACTED}}]},
        "masterPassword": REDACTED,
        "secrets": REDACTED,
        "credentials": REDACTED,
        "tokenTtl": REDACTED,
        "passwordLength": REDACTED,
    }


def test_booleans_and_nulls_under_a_secret_key_stay_to_show_what_changed() -> None:
    document = {"manageMasterUserPassword": True, "masterPassword": None, "apiKey": False}
    assert Redactor().value(document) == document


def test_the_key_a_value_is_held_under_decides_too() -> None:
    redactor = Redactor()
    assert redactor.value("hunter2hunter2", key="masterPassword") == REDACTED
    assert redactor.value(["a", "b"], key="secrets") == REDACTED
    assert redactor.value(5432, key="dbToken") == REDACTED
    assert redactor.value(True, key="dbToken") is True
    assert redactor.value("16.1", key="engineVersion") == "16.1"


def test_a_kubernetes_secrets_data_values_are_masked_and_its_keys_kept() -> None:
    secret = {
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"username": "YWRtaW4=", "url": "cG9zdGdyZXM6Ly8="},
        "stringData": {"host": "db.internal"},
    }
    assert Redactor().value(secret) == {
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"username": REDACTED, "url": REDACTED},
        "stringData": {"host": REDACTED},
    }


def test_a_data_key_outside_a_secret_is_shown() -> None:
    config_map = {"kind": "ConfigMap", "data": {"LOG_LEVEL": "info"}}
    assert Redactor().value(config_map) == config_map


def test_an_environment_variable_named_as_a_secret_has_its_value_masked() -> None:
    env = [{"name": "DB_PASSWORD", "value": "hunter2hunter2"}, {"name": "LOG", "value": "info"}]
    assert Redactor().value(env) == [
        {"name": "DB_PASSWORD", "value": REDACTED},
        {"name": "LOG", "value": "info"},
    ]


# --- markers --------------------------------------------------------------------------------


def test_pulumi_secret_markers_and_unknowns_are_shown_as_pulumi_does() -> None:
    document = {
        "password": as_secret("x"),
        "config": as_secret({"nested": ["deep"]}),
        "endpoint": UNKNOWN,
        "already": "[secret]",
        "list": [as_secret(1), UNKNOWN],
    }
    shown = Redactor().value(document)
    assert shown == {
        "password": REDACTED,
        "config": REDACTED,
        "endpoint": "[unknown]",
        "already": REDACTED,
        "list": [REDACTED, "[unknown]"],
    }
    assert _special_sig_key not in json.dumps(shown)


def test_an_output_value_flagged_secret_is_masked_and_an_unknown_one_shown_unknown() -> None:
    secret_output = {_special_sig_key: _special_output_value_sig, "value": "x", "secret": True}
    unknown_output = {_special_sig_key: _special_output_value_sig, "secret": False}
    plain_output = {_special_sig_key: _special_output_value_sig, "value": "eu-west-1"}
    shown = Redactor().value([secret_output, unknown_output, plain_output])
    assert shown == [REDACTED, "[unknown]", "eu-west-1"]


def test_a_learned_secret_is_masked_where_it_also_appears_in_plain_text() -> None:
    redactor = Redactor()
    document = {
        "masterUser": as_secret({"password": "Tr0ub4dor&3xyz"}),
        "connection": "psql -h db -W Tr0ub4dor&3xyz",
        "outputs": {"note": 'the value "Tr0ub4dor&3xyz" is set'},
    }
    redactor.learn(document)
    text = json.dumps(redactor.value(document))
    assert "Tr0ub4dor" not in text
    assert "psql -h db -W [secret]" in text


def test_a_secret_shorter_than_four_characters_is_not_learned() -> None:
    redactor = Redactor()
    redactor.learn({"pin": as_secret("abc")})
    assert redactor.text("abcdef") == "abcdef"


# --- known secrets --------------------------------------------------------------------------


def test_every_occurrence_of_a_known_secret_is_masked_inside_longer_text() -> None:
    redactor = Redactor(["s3cr3tValue"])
    assert redactor.text("a=xs3cr3tValuey and s3cr3tValue.") == "a=x[secret]y and [secret]."


def test_overlapping_known_secrets_are_masked_whole() -> None:
    redactor = Redactor(["abcd1234", "1234wxyz"])
    assert redactor.text("--abcd1234wxyz--") == "--[secret]--"


def test_a_known_secret_is_masked_in_its_json_and_url_escaped_forms() -> None:
    secret = 'pa"ss/word'
    redactor = Redactor([secret])
    assert redactor.text(json.dumps({"v": secret})) == '{"v": "[secret]"}'
    assert redactor.text("https://h/?q=pa%22ss%2Fword") == "https://h/?q=[secret]"


def test_a_key_that_is_a_known_secret_is_masked_and_its_value_with_it() -> None:
    redactor = Redactor(["hunter2hunter2"])
    assert redactor.value({"hunter2hunter2": "x", "name": "y"}) == {
        REDACTED: REDACTED,
        "name": "y",
    }


def test_a_known_secret_inside_the_mark_does_not_garble_it() -> None:
    redactor = Redactor(["secret", "unknown"])
    assert redactor.text("[secret] [unknown] secret") == "[secret] [unknown] [secret]"


# --- content --------------------------------------------------------------------------------

KUBECONFIG_YAML = """\
apiVersion: v1
clusters:
- cluster:
    server: https://ABC.gr7.eu-west-1.eks.amazonaws.com
  name: prod
contexts:
- context: {cluster: prod, user: admin}
  name: prod
users:
- name: admin
  user:
    token: kubeTokenValue123
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (KUBECONFIG_YAML, REDACTED),
        (json.dumps({"clusters": [], "users": [{"user": {"token": "t0k"}}]}), REDACTED),
        ("client-key-data: LS0tLS1CRUdJTiBSU0E=", REDACTED),
        (
            "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"
            "\ndone",
            "key:\n[secret]\ndone",
        ),
        ("cut -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg", "cut [secret]"),
        (
            "postgres://app:p@ss:w0rd@db.internal:5432/chat?sslmode=require",
            "postgres://[secret]@db.internal:5432/chat?sslmode=require",
        ),
        ("redis://:authValue@cache:6379/0", "redis://[secret]@cache:6379/0"),
        (
            "Server=tcp:db,1433;Database=chat;User Id=app;Password=hunter2;Encrypt=true",
            "Server=tcp:db,1433;Database=chat;User Id=app;Password=[secret];Encrypt=true",
        ),
        ("Password={semi;colon pass};Server=db", "Password=[secret];Server=db"),
        (
            "host=db port=5432 user=app password=hunter2 dbname=chat",
            "host=db port=5432 user=app password=[secret] dbname=chat",
        ),
        (
            "jdbc:postgresql://db:5432/chat?user=app&password=hunter2&ssl=true",
            "jdbc:postgresql://db:5432/chat?user=app&password=[secret]&ssl=true",
        ),
        (
            "https://api.example.com/v1?token=abc123&page=2",
            "https://api.example.com/v1?token=[secret]&page=2",
        ),
        ("Authorization: Bearer abcdefghijklmnop", "Authorization: Bearer [secret]"),
        ("-H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='", "-H 'Authorization: Basic [secret]'"),
        ("sent Bearer abcdefghijklmnop to it", "sent Bearer [secret] to it"),
        ("id AKIAIOSFODNN7EXAMPLE used", "id [secret] used"),
        ("session ASIAIOSFODNN7EXAMPLE", "session [secret]"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "aws_secret_access_key = [secret]",
        ),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end", "jwt [secret] end"),
        ("ghp_0123456789abcdefghijABCDEFGHIJ012345 pushed", "[secret] pushed"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuv", "[secret]"),
        ("gho_0123456789abcdefghijABCDEFGHIJ ghs_0123456789abcdefghijABCDEF", "[secret] [secret]"),
        ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-_x9", "key [secret]"),
        ("openai sk-proj-AbCdEfGhIjKlMnOp1234", "openai [secret]"),
        ("slack xoxb-1234-5678-AbCdEfGhIj", "slack [secret]"),
        ('{"password": "two words", "user": "app"}', '{"password": "[secret]", "user": "app"}'),
        ('said \\"token\\":\\"abcdef\\" here', 'said \\"token\\":\\"[secret]\\" here'),
        ("password: |\n  line one\n  line two\nnext: 1", "password: [secret]\nnext: 1"),
        ("migrate --db-password hunter2 --verbose", "migrate --db-password [secret] --verbose"),
        ("https://hooks.slack.com/services/T0/B0/XyZ", "https://hooks.slack.com/[secret]"),
        ('{"apiKey": 5}', '{"apiKey": "[secret]"}'),
        ("x {'apiKey': [5, 6]}", "x {'apiKey': '[secret]'}"),
    ],
)
def test_credentials_are_recognised_by_their_content(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "urn:pulumi:prod::platform::kubernetes:core/v1:Secret::db-credentials",
        "aws:secretsmanager/secretVersion:SecretVersion",
        "https://api.example.com/v1/items?page=2",
        "error-rate 0.02 outside [0, 0.01]",
        "creating RDS Cluster (chat): InvalidParameterValue: MasterUserPassword is too short",
        # Type tokens, URNs, ARNs, config keys and IAM actions hold `name:Name` with no
        # space: none is a `password:x` pair.
        "aws:secretsmanager/secret:Secret",
        "urn:pulumi:prod::platform::aws:secretsmanager/secret:Secret::db",
        "urn:pulumi:prod::platform::kubernetes:core/v1:Secret::db::v1:Secret::name",
        "random:index/randomPassword:RandomPassword",
        "auth0:index/client:Client",
        "missing required configuration variable 'platform:dbPassword'",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf",
        "secretsmanager:GetSecretValue",
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Action": ["secretsmanager:GetSecretValue"], "Resource": "*"}],
            }
        ),
        # A placeholder in a usage line is no element; a flag before another takes no value.
        "Usage: login <token> [flags]",
        "docker login --password-stdin --username AWS",
        "run -p 8080 --log-level debug",
    ],
)
def test_ordinary_text_reads_the_same(text: str) -> None:
    assert Redactor().text(text) == text


# --- content: names and values apart, flags, JSON and YAML in text ---------------------------

S = "Zq9xSecretVal7"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A Kubernetes env list as YAML text: the value of the variable a secret's name names.
        (
            f"env:\n- name: API_TOKEN\n  value: {S}\n- name: LOG\n  value: info\n",
            "env:\n- name: API_TOKEN\n  value: [secret]\n- name: LOG\n  value: info\n",
        ),
        (
            f"- name: LOG\n  value: info\n- value: '{S}'\n  name: DB_PASSWORD\n",
            "- name: LOG\n  value: info\n- value: '[secret]'\n  name: DB_PASSWORD\n",
        ),
        (
            f"- name: API_TOKEN\n  description: the API's\n  value: {S}\n",
            "- name: API_TOKEN\n  description: the API's\n  value: [secret]\n",
        ),
        (
            f"- {{name: API_TOKEN, value: {S}}}\n- {{name: LOG, value: info}}",
            "- {name: API_TOKEN, value: [secret]}\n- {name: LOG, value: info}",
        ),
        # JSON inside a longer text (not parsed whole), escaped JSON, CLI shorthand.
        (
            f'error {{"name":"LOG","value":"info"}},{{"name":"DB_PASSWORD","value":"{S}"}} x',
            'error {"name":"LOG","value":"info"},{"name":"DB_PASSWORD","value":"[secret]"} x',
        ),
        (
            f'\\"name\\":\\"DB_PASSWORD\\",\\"value\\":\\"{S}\\"',
            '\\"name\\":\\"DB_PASSWORD\\",\\"value\\":\\"[secret]\\"',
        ),
        (
            f"--parameters Name=DB_PASSWORD,Value={S} Name=LOG,Value=info",
            "--parameters Name=DB_PASSWORD,Value=[secret] Name=LOG,Value=info",
        ),
        # A flag and its value as items of a list in text: JSON, YAML flow and block, escaped.
        (f'args: ["--db-password", "{S}"]', 'args: ["--db-password", "[secret]"]'),
        (f"args: [--db-password, {S}, -v]", "args: [--db-password, [secret], -v]"),
        (
            f"args:\n- --db-password\n- {S}\n- --verbose\n",
            "args:\n- --db-password\n- [secret]\n- --verbose\n",
        ),
        (
            f'args:\n  - "--db-password"\n  - "{S}"\n',
            'args:\n  - "--db-password"\n  - "[secret]"\n',
        ),
        (f'[\\"--db-password\\",\\"{S}\\"]', '[\\"--db-password\\",\\"[secret]\\"]'),
        # A flag with `=`, GNU and Go style, and Go's with a space.
        (f"run --api-token={S} --verbose", "run --api-token=[secret] --verbose"),
        (f"run -api-token={S} -v", "run -api-token=[secret] -v"),
        (f"run -api-token {S} -v", "run -api-token [secret] -v"),
        # A list (or object) value in text goes whole, nested or not, never from its `[`;
        # after a quoted name, as a quoted string (JSON stays JSON).
        (f"tokens: [a, {S}]\nnext: 1", "tokens: [secret]\nnext: 1"),
        (f'error: {{"tokens":["a", "{S}"]}} failed', 'error: {"tokens":"[secret]"} failed'),
        (f'error: {{"tokens":[["a"],["{S}"]]}} failed', 'error: {"tokens":"[secret]"} failed'),
        (f'x "secrets": [\n  "a",\n  "{S}"\n] y', 'x "secrets": "[secret]" y'),
        (f'error: {{"tokens":["a]", "{S}"]}}', 'error: {"tokens":"[secret]"}'),
        (f'truncated {{"tokens":["a", "{S}', 'truncated {"tokens":"[secret]"'),
        # After `password:` (or ` = `) a bare value runs to the end of the line.
        (f"password: two words {S}\nnext: 1", "password: [secret]\nnext: 1"),
        (f"password = two {S}\n[next]", "password = [secret]\n[next]"),
        (f'password: "two {S}" # quoted', 'password: "[secret]" # quoted'),
        (f"{{user: app, password: two {S}}}", "{user: app, password: [secret]}"),
        ("host=db password=hunter2 dbname=chat", "host=db password=[secret] dbname=chat"),
        # XML elements.
        (
            f"<password>{S}</password><user>app</user>",
            "<password>[secret]</password><user>app</user>",
        ),
        (
            f'<db:Password type="x"><![CDATA[a<b {S}]]></db:Password>',
            '<db:Password type="x">[secret]</db:Password>',
        ),
        # A colon with no space, after a secret word.
        (f"password:{S}", "password:[secret]"),
        (f"openssl rsa -passin pass:{S} -in k", "openssl rsa -passin pass:[secret] -in k"),
        (f"db_password:{S} next", "db_password:[secret] next"),
    ],
)
def test_names_and_values_apart_flags_and_structures_in_text_are_masked(
    text: str, expected: str
) -> None:
    redactor = Redactor()
    assert redactor.text(text) == expected
    assert redactor.text(expected) == expected


def test_a_json_text_is_redacted_as_the_value_it_holds() -> None:
    """An ECS task's containerDefinitions: a JSON string, with env name/value pairs."""
    definitions = [
        {
            "name": "app",
            "image": "repo/app:1.5.0",
            "environment": [
                {"name": "DB_PASSWORD", "value": S},
                {"name": "LOG_LEVEL", "value": "info"},
            ],
            "command": ["serve", "--api-token", S + "b", "--verbose"],
            "secrets": [{"name": "KEY", "valueFrom": "arn:aws:ssm:eu-west-1:1:parameter/k"}],
        }
    ]
    compact = json.dumps(definitions, separators=(",", ":"))
    shown = Redactor().value({"containerDefinitions": compact})["containerDefinitions"]
    assert S not in shown
    assert shown == json.dumps(
        [
            {
                "name": "app",
                "image": "repo/app:1.5.0",
                "environment": [
                    {"name": "DB_PASSWORD", "value": REDACTED},
                    {"name": "LOG_LEVEL", "value": "info"},
                ],
                "command": ["serve", "--api-token", REDACTED, "--verbose"],
                "secrets": REDACTED,
            }
        ],
        separators=(",", ":"),
    )
    # Spaced and indented JSON keep their layout; JSON with nothing secret is left as it is.
    assert Redactor().text(json.dumps({"tokens": [S]})) == '{"tokens": "[secret]"}'
    assert Redactor().text(f'{{"tokens":["{S}"]}}') == '{"tokens":"[secret]"}'
    pretty = json.dumps({"password": S, "port": 5432}, indent=2)
    assert Redactor().text(pretty) == '{\n  "password": "[secret]",\n  "port": 5432\n}'
    plain = json.dumps({"b": [1, 2.50], "a": "x"}, indent=4) + "\n"
    assert Redactor().text(plain) == plain


def test_the_text_rules_still_see_across_the_items_of_a_json_text() -> None:
    pem = ["-----BEGIN RSA PRIVATE KEY-----", f"MIIE{S}", "-----END RSA PRIVATE KEY-----"]
    assert Redactor().text(json.dumps({"lines": pem})) == '{"lines": ["[secret]"]}'


def test_a_json_text_the_parser_would_misread_falls_back_to_the_text_rules() -> None:
    # A duplicate key: the parser keeps the last value only, the first would go unseen.
    duplicated = f'{{"password": "{S}", "password": "[secret]"}}'
    assert Redactor().text(duplicated) == '{"password": "[secret]", "password": "[secret]"}'
    assert Redactor().text(f'[not json "password": "{S}"]') == '[not json "password": "[secret]"]'


def test_a_known_secret_escaped_otherwise_in_a_json_text_is_masked_once_parsed() -> None:
    redactor = Redactor(["abcd1234wxyz"])
    assert (
        redactor.text('{"note": "key \\u0061bcd1234wxyz here"}') == '{"note": "key [secret] here"}'
    )


def test_a_lone_surrogate_escape_in_a_json_text_stays_escaped() -> None:
    shown = Redactor().text('{"password": "x", "note": "\\ud800"}')
    assert shown == '{"password": "[secret]", "note": "\\ud800"}'
    shown.encode()


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["--db-password", S, "--verbose"], ["--db-password", REDACTED, "--verbose"]),
        (("-api-token", S), ["-api-token", REDACTED]),
        (["migrate", "--dsn", 5432], ["migrate", "--dsn", REDACTED]),
        (["--db-password=" + S], ["--db-password=[secret]"]),
        (["--password-stdin", "--username", "AWS"], ["--password-stdin", "--username", "AWS"]),
        (["-p", "8080", "--token-ttl"], ["-p", "8080", "--token-ttl"]),
        (["--db-host", "db.internal"], ["--db-host", "db.internal"]),
    ],
)
def test_a_secret_flags_value_in_a_list_is_masked(items: Any, expected: list[Any]) -> None:
    assert Redactor().value({"args": items}) == {"args": expected}


def test_a_key_holding_a_credential_is_masked_and_its_value_with_it() -> None:
    shown = Redactor().value({"postgres://app:pw1234@db/x": "v", "name": "y"})
    assert shown == {"postgres://[secret]@db/x": REDACTED, "name": "y"}


def test_a_kubeconfig_held_under_an_innocent_key_is_masked_whole() -> None:
    shown = Redactor().value({"outputs": {"cluster": KUBECONFIG_YAML}})
    assert shown == {"outputs": {"cluster": REDACTED}}


# --- robustness -----------------------------------------------------------------------------


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_odd_values_never_raise_and_come_back_as_json() -> None:
    nested: Any = "password=hunter3"
    for _ in range(200):
        nested = [nested]
    cyclic: dict[str, Any] = {}
    cyclic["self"] = cyclic
    odd = {
        "bytes": b"password=hunter2",
        "nan": float("nan"),
        "inf": float("-inf"),
        "tuple": (1, "x"),
        "set": {"b", "a"},
        "none": None,
        "object": _Unprintable(),
        3: "int key",
        None: "none key",
        "nested": nested,
        "cyclic": cyclic,
    }
    shown = Redactor().value(odd)
    text = json.dumps(shown, allow_nan=False)
    assert "hunter2" not in text
    assert "hunter3" not in text
    assert shown["bytes"] == "password=[secret]"
    assert shown["set"] == ["a", "b"]
    assert shown["nan"] == "nan"
    assert Redactor().text(b"token: abc") == "token: [secret]"  # type: ignore[arg-type]


def test_redaction_is_deterministic_and_idempotent() -> None:
    document = {
        "a": [as_secret("valueOne1234"), "valueOne1234 again", "password=x y"],
        "url": "postgres://u:p@h/db",
        "hunter2hunter2": {"k": "v"},
    }
    first, second = Redactor(["hunter2hunter2"]), Redactor(["hunter2hunter2"])
    first.learn(document)
    second.learn(document)
    once = first.value(document)
    assert json.dumps(once) == json.dumps(second.value(document))
    assert first.value(once) == once


# --- property: no seeded secret survives --------------------------------------------------

# Letters and at least one digit, twelve or more: no number, word or key of a document (or
# of the request around it) can contain one by chance, so any occurrence is a leak.
secrets_ = st.text(string.ascii_letters + string.digits, min_size=12, max_size=32).filter(
    lambda s: any(c.isdigit() for c in s) and any(c.isalpha() for c in s)
)
INNOCENT_KEYS = (
    "name", "region", "size", "tags", "spec", "image", "replicas", "labels", "port",
    "engine", "version", "items", "metadata", "enabled", "count", "description", "zone",
)  # fmt: skip
INNOCENT_WORDS = ("alpha", "beta", "prod", "eu-west-1", "t3.medium", "nginx", "blue", "green")
SECRET_KEYS = (
    "password", "dbPassword", "api_key", "apiKey", "client-secret", "authToken",
    "Authorization", "privateKey", "credentials", "kubeconfig", "cookie", "sessionToken",
    "signature", "secrets", "passphrase", "pwd", "master_user_password", "tls.key", "cert-key",
)  # fmt: skip
# Where a secret arrives as a credential in text; SECRET is replaced by the secret.
CONNECTIONS = (
    "postgres://app:SECRET@db.internal:5432/chat",
    "mysql://SECRET@db/x",
    "Server=db;User Id=app;Password=SECRET;Encrypt=true",
    "host=db user=app password=SECRET dbname=chat",
    "jdbc:postgresql://db:5432/chat?user=app&password=SECRET&ssl=true",
    "https://api.example.com/v1?api_key=SECRET&page=2",
    "curl -H 'Authorization: Bearer SECRET' https://x",
    '{"password": "SECRET"}',
    "DB_PASSWORD=SECRET",
)
KUBECONFIGS = (
    KUBECONFIG_YAML.replace("kubeTokenValue123", "SECRET"),
    "apiVersion: v1\nusers:\n- name: a\n  user:\n    client-key-data: SECRET\n",
    json.dumps({"clusters": [{"name": "c"}], "users": [{"user": {"token": "SECRET"}}]}),
)
PEMS = (
    "-----BEGIN RSA PRIVATE KEY-----\nSECRET\n-----END RSA PRIVATE KEY-----",
    "before\n-----BEGIN PRIVATE KEY-----\nMIIESECRETQAB\n-----END PRIVATE KEY-----\n",
    "-----BEGIN CERTIFICATE-----SECRET",
)
# A secret beside the name that says it is one, in text: JSON (whole, or inside a longer
# text), YAML, flags with their values, XML, a colon with no space.
SHAPED = (
    json.dumps(
        [{"name": "app", "environment": [{"name": "DB_PASSWORD", "value": "SECRET"}]}],
        separators=(",", ":"),
    ),
    json.dumps({"env": [{"value": "SECRET", "name": "API_TOKEN"}]}, indent=2),
    "env:\n- name: API_TOKEN\n  value: SECRET\n- name: LOG\n  value: info\n",
    "- value: SECRET\n  name: DB_PASSWORD\n",
    "- {name: DB_PASSWORD, value: SECRET}",
    'error {"name":"DB_PASSWORD","value":"SECRET"} in',
    "Name=DB_PASSWORD,Value=SECRET",
    'args: ["--db-password", "SECRET"]',
    "args:\n- --db-password\n- SECRET\n",
    "run --api-token=SECRET --verbose",
    "run -api-token=SECRET",
    json.dumps({"tokens": ["SECRET"]}, separators=(",", ":")),
    'error: {"tokens":["alpha", "SECRET"]} rejected',
    "password: alpha SECRET",
    "<password>SECRET</password>",
    "password:SECRET",
)
# Everything a document is built from besides the secrets.
SKELETON = json.dumps(
    [INNOCENT_KEYS, INNOCENT_WORDS, SECRET_KEYS, CONNECTIONS, KUBECONFIGS, PEMS, SHAPED]
)

innocent_leaves = st.one_of(
    st.sampled_from(INNOCENT_WORDS),
    st.lists(st.sampled_from(INNOCENT_WORDS), max_size=4).map(" ".join),
    st.integers(-1000, 100_000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
)
word = st.sampled_from(INNOCENT_WORDS)


def _shapes(secret: str) -> st.SearchStrategy[Any]:
    """A secret as a value: bare, in a list, in an object, inside some text."""
    return st.sampled_from(
        [secret, [secret], {"inner": secret}, f"alpha {secret} beta", [{"x": [secret]}]]
    )


def _placed(templates: tuple[str, ...]) -> Any:
    return lambda secret: st.sampled_from(templates).map(lambda t: t.replace("SECRET", secret))


def _flag_lists(secret: str) -> list[Any]:
    """A secret as a secret-named flag's value in a list (a container's ``args``)."""
    return [
        ["--db-password", secret],
        ["run", "--api-token", secret, "--verbose"],
        {"args": ["-api-token", secret]},
        (f"--api-token={secret}",),
    ]


def _flagged(secret: str) -> st.SearchStrategy[Any]:
    return st.sampled_from(_flag_lists(secret))


@st.composite
def seeded_documents(draw: st.DrawFn) -> tuple[Any, list[str], list[str]]:
    """A random document with secrets placed in every way one can arrive; returns it, the
    secrets, and the known secrets to give the redactor."""
    groups = [draw(st.lists(secrets_, min_size=1, max_size=3)) for _ in range(8)]
    keyed, marked, connections, kubeconfigs, pems, known, shaped, flagged = groups
    seeded = st.one_of(
        st.sampled_from(SECRET_KEYS).flatmap(
            lambda key: st.sampled_from(keyed).flatmap(_shapes).map(lambda v: {key: v})
        ),
        st.sampled_from(marked).flatmap(_shapes).map(as_secret),
        # The same text as a marked secret, in plain form under an innocent key.
        st.tuples(word, st.sampled_from(marked), word).map(" ".join),
        st.sampled_from(marked),
        st.sampled_from(connections).flatmap(_placed(CONNECTIONS)),
        st.sampled_from(kubeconfigs).flatmap(_placed(KUBECONFIGS)),
        st.sampled_from(pems).flatmap(_placed(PEMS)),
        st.sampled_from(shaped).flatmap(_placed(SHAPED)),
        st.sampled_from(flagged).flatmap(_flagged),
        st.tuples(st.sampled_from(["", "x", "id-", "prefix:"]), st.sampled_from(known), word).map(
            "".join
        ),
    )
    tree = st.recursive(
        st.one_of(innocent_leaves, seeded),
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.sampled_from(INNOCENT_KEYS), children, max_size=4),
        ),
        max_leaves=25,
    )
    document = {
        "resources": draw(tree),
        # Every marked secret is held in a marker somewhere, whatever the tree drew.
        "outputs": [as_secret(secret) for secret in marked],
        "more": draw(st.lists(seeded, min_size=1, max_size=6)),
    }
    return document, [s for group in groups for s in group], known


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seeded_documents())
def test_no_seeded_secret_survives_redaction(seeded: tuple[Any, list[str], list[str]]) -> None:
    document, secrets, known = seeded
    assume(not any(secret in SKELETON for secret in secrets))
    redactor = Redactor(known)
    redactor.learn(document)
    shown = redactor.value(document)
    text = json.dumps(shown, ensure_ascii=False)
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, text
    assert redactor.value(shown) == shown  # idempotent


@pytest.mark.parametrize(
    "seeded",
    [*CONNECTIONS, *KUBECONFIGS, *PEMS, *SHAPED, *_flag_lists("SECRET")],
    ids=lambda seeded: json.dumps(seeded)[:40],
)
def test_every_seeded_shape_is_masked_in_text_and_in_a_value(seeded: Any) -> None:
    """Each shape the property tests draw from, deterministically: drawn at random among
    many, a rare one might not come up in a given run."""
    secret = "Zq9xSecretVal7"
    placed = json.loads(json.dumps(seeded).replace("SECRET", secret))
    redactor = Redactor()
    for shown in (redactor.value(placed), redactor.value({"spec": [placed]})):
        assert secret not in json.dumps(shown, ensure_ascii=False)
        assert redactor.value(shown) == shown


json_values = st.recursive(
    st.one_of(
        st.text(max_size=40),
        st.binary(max_size=20),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values, st.lists(st.text(min_size=1, max_size=12), max_size=3))
def test_any_value_redacts_without_raising_to_valid_json(value: Any, known: list[str]) -> None:
    redactor = Redactor(known)
    redactor.learn(value)
    shown = redactor.value(value)
    json.dumps(shown, allow_nan=False)
    assert json.dumps(redactor.value(value)) == json.dumps(shown)
