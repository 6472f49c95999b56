"""``StackPort`` over the Pulumi Automation API: the real engine, through the Pulumi CLI.

Every CLI failure the user can fix becomes a ``DeployError`` saying what happened and what
to do: no CLI, no AWS credentials, a locked stack, a missing passphrase, a stack that does
not exist. Engine events become one progress line each and the ``ResourceChange``s and
``PolicyFinding``s of the outcome. Secret values never leave this module: config, outputs
and history show ``[secret]`` in their place.

How config is written back (``set_config``): leaf by leaf with ``pulumi config set-all
--path``, so the stack file keeps its structured YAML (``platform:app: {services: [...]}``,
never a JSON string), and only the leaves that differ from the stack's current config.
Under ``--path`` the CLI types a nested leaf from its text: ``true``/``false`` become
booleans, integers (no leading zero) become numbers, everything else stays a string; a
top-level entry (``platform:logRetentionDays``) is always a string. So:

* booleans and integers round-trip exactly;
* a float with a fraction (``0.99``) is stored as the string ``"0.99"``: the settings
  models read numeric text as a number, and ``read_config`` returns what is stored;
* a string the CLI would retype (``"1234567"``, ``"true"``) cannot be written this way and
  is refused before anything is written (an image tag of digits only is the likely case);
* ``None`` and a key left out remove the leaf; an empty list or map that does not exist
  yet cannot be created this way (absent is not empty: a service without ``secrets``
  gets the default sources) and is refused too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto
from pulumi.automation import errors as auto_errors
from pulumi.automation import events as auto_events

from offline_preview.__main__ import REPOSITORY, policy_sources
from offline_preview.project import ProjectError, load_project
from platformctl.changes import (
    PolicyFinding,
    PreviewOutcome,
    PropertyChange,
    ResourceChange,
    UpOutcome,
)
from platformctl.ports import DeployError, Progress

NAMESPACE = "platform"
SECRET = "[secret]"
STATE_DIRECTORY = ".pulumi-state"
INSTALL_URL = "https://www.pulumi.com/docs/install/"
INSTALL_HINT = (
    f"install it from {INSTALL_URL} and make sure `pulumi version` works in this shell; "
    "`platformctl preview --offline` needs no CLI"
)
# The longest excerpt of the CLI's own words in an error message.
EXCERPT_CHARS = 600

# What the AWS provider says when the SDK's credential chain finds nothing usable.
_CREDENTIAL_PROBLEMS = (
    "No valid credential sources found",
    "NoCredentialProviders",
    "failed to refresh cached credentials",
    "ExpiredToken",
    "InvalidClientTokenId",
)
# Go's strconv.Atoi, which `pulumi config set --path` uses to decide a leaf is a number.
_GO_INTEGER = re.compile(r"[+-]?[0-9]+")
_INT64 = range(-(2**63), 2**63)

# The engine's step kinds, as the five operations of a ResourceChange.
_OPERATIONS = {
    "same": "same",
    "read": "same",
    "refresh": "same",
    "read-replacement": "same",
    "remove-pending-replace": "same",
    "create": "create",
    "import": "create",
    "update": "update",
    "replace": "replace",
    "create-replacement": "replace",
    "delete-replaced": "replace",
    "import-replacement": "replace",
    "discard-replaced": "replace",
    "delete": "delete",
    "discard": "delete",
}
# The steps of a replacement that are not the replacement itself: recorded, not printed.
_REPLACEMENT_PARTS = {
    "create-replacement",
    "delete-replaced",
    "import-replacement",
    "discard-replaced",
}
_SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-"}
# A URL inside the CLI's words; what ends a sentence around it is not part of it.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"`<>]+")
_AFTER_URL = ".,;:!)]}"


def shown_backend_url(url: str) -> str:
    """A backend URL as an error message may show it: without ``user:password@``, query
    string or fragment (``s3://bucket/state?region=eu-west-1&awssdk=v2`` is shown as
    ``s3://bucket/state``; ``https://user:token@host/x`` as ``https://host/x``).

    Everything up to the last ``@`` goes, even one that is not where a URL parser would end
    the credentials: a token holding a raw ``/`` or ``?`` still misparses, and a path with
    an ``@`` in it is merely shown short."""
    scheme, found, rest = url.partition("://")
    if not found:
        scheme, rest = "", url
    rest = rest.rpartition("@")[2]
    rest = re.split(r"[?#]", rest, maxsplit=1)[0]
    return f"{scheme}://{rest}" if found else rest


def backend_url(project_dir: Path, environ: Mapping[str, str]) -> str:
    """``PULUMI_BACKEND_URL`` when set; otherwise the project's own file backend, created."""
    configured = environ.get("PULUMI_BACKEND_URL", "").strip()
    if configured:
        return configured
    state = Path(project_dir).resolve() / STATE_DIRECTORY
    try:
        state.mkdir(exist_ok=True)
    except OSError as exc:
        raise DeployError(
            f"cannot create the state directory {state}: {exc.strerror}; allowed: a writable "
            "project directory, or PULUMI_BACKEND_URL naming another backend (s3://..., "
            "https://api.pulumi.com)"
        ) from None
    return f"file://{state}"


def repository_policy_packs(stack: str) -> tuple[tuple[Path, ...], Path | None]:
    """This repository's packs and the stack's config file, as ``python -m offline_preview``
    chooses them (``policies/config/<stack>.json`` when it exists)."""
    defaults = argparse.Namespace(
        no_policies=False, policy_pack=[], policy_pack_config=[], stack=stack
    )
    sources = policy_sources(defaults)
    configs = {source.config for source in sources}
    # One config file serves every pack; policy_sources never mixes them.
    assert len(configs) == 1
    return tuple(source.directory for source in sources), configs.pop()


class AutomationStack:
    """One stack of the Pulumi project in ``project_dir``, driven through the Pulumi CLI.

    ``env`` adds variables to every CLI command (and is where ``PULUMI_BACKEND_URL`` is
    looked up first); the CLI otherwise inherits this process's environment. The CLI is
    first run by the first method that needs it, not by the constructor.
    """

    def __init__(
        self,
        project_dir: Path,
        stack: str,
        *,
        policy_packs: Sequence[Path],
        policy_pack_config: Path | None,
        backend_url: str | None = None,
        env: Mapping[str, str] | None = None,
        config_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.project_dir = Path(project_dir).resolve()
        self.name = stack
        _require_stack_file(self.project_dir, stack)
        for pack in policy_packs:
            if not Path(pack).is_dir():
                raise DeployError(
                    f"policy pack {pack} is not a directory; allowed: a directory holding "
                    "PulumiPolicy.yaml"
                )
        if policy_pack_config is not None and not Path(policy_pack_config).is_file():
            raise DeployError(
                f"policy pack config {policy_pack_config} does not exist; allowed: a JSON file "
                "such as policies/config/<stack>.json, or none"
            )
        self.policy_packs = tuple(str(Path(p).resolve()) for p in policy_packs)
        # The CLI wants one --policy-pack-config per --policy-pack, or none at all.
        self.policy_pack_configs = (
            [str(Path(policy_pack_config).resolve())] * len(self.policy_packs)
            if policy_pack_config is not None and self.policy_packs
            else None
        )
        self._env = dict(env or {})
        self._backend_url = backend_url
        self._stack: auto.Stack | None = None
        # Config for previews and updates only (``--config-file``): the stack file is not
        # touched, so nothing of it outlives the operation, however the process ends.
        self.config_overrides = dict(config_overrides or {})

    @property
    def backend_url(self) -> str:
        """Resolved (and a file backend's directory created) when first needed."""
        if self._backend_url is None:
            self._backend_url = backend_url(self.project_dir, {**os.environ, **self._env})
        return self._backend_url

    @classmethod
    def for_repository(cls, stack: str, *, env: Mapping[str, str] | None = None) -> AutomationStack:
        """A stack of this repository, gated by its policy packs and the stack's config."""
        packs, config = repository_policy_packs(stack)
        return cls(REPOSITORY, stack, policy_packs=packs, policy_pack_config=config, env=env)

    # Config

    def read_config(self) -> dict[str, Any]:
        stack = self._workspace_stack()
        with self._translated("read the config of"):
            config = stack.get_all_config()
        # Every key, not only platform:'s: the settings also need aws:region.
        return {
            key: SECRET if value.secret else decode_config_value(value.value)
            for key, value in config.items()
        }

    def set_config(self, values: Mapping[str, Any]) -> None:
        current = self.read_config()
        platform = {}
        for key, value in values.items():
            if not key.startswith(NAMESPACE + ":") or key == NAMESPACE + ":":
                if _same(current.get(key), value):
                    continue  # handed back unchanged, as read_config returned it
                raise DeployError(
                    f"config key {key!r} is not a platform setting; the release driver "
                    "writes only platform: keys"
                )
            if current.get(key) == SECRET and value != SECRET:
                raise DeployError(
                    f"{key} is a secret; the release driver does not write secrets; allowed: "
                    f"`pulumi config set --secret {key} ... --stack {self.name}`"
                )
            platform[key] = value
        plan = plan_config_writes(current, platform)
        stack = self._workspace_stack()
        if plan.removals:
            with self._translated("remove config from"):
                stack.remove_all_config(list(plan.removals), path=True)
        if plan.writes:
            with self._translated("write the config of"):
                stack.set_all_config(
                    {path: auto.ConfigValue(text) for path, text in plan.writes}, path=True
                )

    # Operations

    def preview(self, progress: Progress) -> PreviewOutcome:
        stack = self._workspace_stack()
        events = EngineEventTranslator(progress)
        try:
            with self._config_file() as config_file:
                stack.preview(
                    policy_packs=list(self.policy_packs),
                    policy_pack_configs=self.policy_pack_configs,
                    on_event=events.on_event,
                    color="never",
                    config_file=config_file,
                )
        except auto_errors.CommandError as exc:
            if events.blocking:
                # A mandatory violation fails the CLI's preview; the outcome says so, and the
                # driver decides what a blocked preview means.
                return events.preview_outcome()
            raise self._translate(exc, "preview", events.errors) from None
        except Exception as exc:
            raise self._translate(exc, "preview", events.errors) from None
        if events.failure is not None:
            raise DeployError(
                f"the preview of stack {self.name} finished, but its events could not be "
                f"read ({events.failure}); the outcome would be incomplete, so it is not used"
            )
        return events.preview_outcome()

    def up(self, progress: Progress, message: str) -> UpOutcome:
        stack = self._workspace_stack()
        events = EngineEventTranslator(progress)
        try:
            with self._config_file() as config_file:
                result = stack.up(
                    message=message,
                    policy_packs=list(self.policy_packs),
                    policy_pack_configs=self.policy_pack_configs,
                    on_event=events.on_event,
                    color="never",
                    config_file=config_file,
                )
        except auto_errors.CommandError as exc:
            if events.blocking:
                raise DeployError(
                    f"`pulumi up` of stack {self.name} was blocked by "
                    f"{len(events.blocking)} mandatory policy violation(s): "
                    + "; ".join(_finding_text(f) for f in events.blocking[:3])
                ) from None
            raise self._translate(exc, "update", events.errors) from None
        except Exception as exc:
            raise self._translate(exc, "update", events.errors) from None
        if events.failure is not None:
            # The update itself succeeded; only its display is incomplete.
            progress(f"  (some engine events could not be shown: {events.failure})")
        return UpOutcome(changes=events.changes(), outputs=_masked_outputs(result.outputs))

    def outputs(self) -> Mapping[str, Any]:
        stack = self._workspace_stack()
        with self._translated("read the outputs of"):
            return _masked_outputs(stack.outputs())

    def history(self, limit: int) -> Sequence[Mapping[str, Any]]:
        if limit < 1:
            raise DeployError(f"history limit {limit}: allowed: 1 or more entries")
        stack = self._workspace_stack()
        with self._translated("read the history of"):
            summaries = stack.history(page_size=limit, show_secrets=False)
        return [
            {
                "version": s.version,
                "kind": s.kind,
                "result": s.result,
                "message": s.message,
                "startTime": s.start_time.isoformat() + "Z",
                "endTime": s.end_time.isoformat() + "Z" if s.end_time else None,
                "resourceChanges": dict(s.resource_changes or {}),
            }
            for s in summaries[:limit]
        ]

    def cancel(self) -> None:
        stack = self._workspace_stack()
        with self._translated("cancel the update of"):
            stack.cancel()

    # The CLI

    @contextlib.contextmanager
    def _config_file(self) -> Iterator[str | None]:
        """A copy of the stack file with the overrides, for one CLI command (None: the stack
        file itself). It keeps the file's secrets provider and encrypted values as they are."""
        if not self.config_overrides:
            yield None
            return
        stack_file = load_project(self.project_dir).stack_file(self.name)
        document = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
        document.setdefault("config", {}).update(self.config_overrides)
        with tempfile.TemporaryDirectory(prefix="platformctl-") as directory:
            path = Path(directory) / stack_file.name
            path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
            yield str(path)

    def _workspace_stack(self) -> auto.Stack:
        if self._stack is None:
            try:
                self._stack = auto.create_or_select_stack(
                    stack_name=self.name,
                    work_dir=str(self.project_dir),
                    opts=auto.LocalWorkspaceOptions(env_vars=self._cli_env()),
                )
            except Exception as exc:
                raise self._translate(exc, "select") from None
        return self._stack

    def _cli_env(self) -> dict[str, str]:
        # Only what differs from this process's environment, which the CLI inherits anyway:
        # the workspace's repr shows these, and credentials must not be in it.
        extra = {k: v for k, v in self._env.items() if os.environ.get(k) != v}
        return {
            **extra,
            "PULUMI_BACKEND_URL": self.backend_url,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }

    @contextlib.contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        """Any failure inside becomes a DeployError that names ``action``."""
        try:
            yield
        except DeployError:
            raise
        except Exception as exc:
            raise self._translate(exc, action) from None

    def _translate(
        self, exc: BaseException, action: str, diagnostics: Sequence[str] = ()
    ) -> DeployError:
        return translate_error(
            exc,
            stack=self.name,
            action=action,
            backend=self.backend_url,
            project_dir=self.project_dir,
            diagnostics=diagnostics,
        )


def _require_stack_file(project_dir: Path, stack: str) -> None:
    """A stack is only ever selected, or created in the backend, for a stack file this
    project has: a typo must not create a new, empty stack."""
    try:
        project = load_project(project_dir)
    except ProjectError as exc:
        raise DeployError(str(exc)) from None
    if not project.stack_file(stack).is_file():
        known = ", ".join(project.stacks()) or "none"
        raise DeployError(
            f"stack {stack!r} has no stack file {project.stack_file(stack).name} in "
            f"{project_dir}; allowed: {known}"
        )


# Errors


def translate_error(
    exc: BaseException,
    *,
    stack: str,
    action: str,
    backend: str,
    project_dir: Path,
    diagnostics: Sequence[str] = (),
) -> DeployError:
    """The DeployError for a failure of the Automation API or the CLI it ran. The backend
    URL, and any URL the CLI's words hold, is shown without credentials or query string."""
    error = _translate_error(
        exc,
        stack=stack,
        action=action,
        backend=backend,
        project_dir=project_dir,
        diagnostics=diagnostics,
    )
    message = str(error)
    shown = _without_url_secrets(message, backend)
    return error if shown == message else DeployError(shown)


def _without_url_secrets(text: str, backend: str) -> str:
    if backend:
        text = text.replace(backend, shown_backend_url(backend))

    def shown(found: re.Match[str]) -> str:
        url = found[0].rstrip(_AFTER_URL)
        return shown_backend_url(url) + found[0][len(url) :]

    return _URL_IN_TEXT.sub(shown, text)


def _translate_error(
    exc: BaseException,
    *,
    stack: str,
    action: str,
    backend: str,
    project_dir: Path,
    diagnostics: Sequence[str],
) -> DeployError:
    if isinstance(exc, DeployError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return DeployError(f"the Pulumi CLI (`pulumi`) is not on PATH; {INSTALL_HINT}")
    if isinstance(exc, PermissionError):
        return DeployError(
            f"the Pulumi CLI on PATH cannot be run ({exc.strerror}: {exc.filename}); {INSTALL_HINT}"
        )
    if isinstance(exc, auto_errors.InvalidVersionError):
        return DeployError(f"the Pulumi CLI cannot be used: {exc}; {INSTALL_HINT}")
    if isinstance(exc, auto_errors.ConcurrentUpdateError):
        return DeployError(
            f"stack {stack} is locked: another update is running (or one was killed before "
            "it released its lock). Wait for it to finish; if nothing is running, release the "
            f"lock with `pulumi cancel --yes --stack {stack}` (run in {project_dir}, with "
            f"PULUMI_BACKEND_URL={backend}) and retry"
        )
    if isinstance(exc, auto_errors.StackNotFoundError):
        return DeployError(
            f"stack {stack} does not exist in the backend {backend}; allowed: create it with "
            f"`pulumi stack init {stack}` (run in {project_dir}), or set PULUMI_BACKEND_URL "
            "to the backend that holds it"
        )
    if isinstance(exc, auto_errors.CommandError):
        stdout, stderr = command_output(exc)
        said = stdout + "\n" + stderr + "\n" + "\n".join(diagnostics)
        if "PULUMI_CONFIG_PASSPHRASE" in said:
            if "incorrect passphrase" in said:
                return DeployError(
                    f"the passphrase for stack {stack}'s secrets is wrong; allowed: the "
                    "passphrase the stack was created with, in PULUMI_CONFIG_PASSPHRASE (or a "
                    "file named by PULUMI_CONFIG_PASSPHRASE_FILE)"
                )
            return DeployError(
                f"stack {stack} encrypts its secrets with a passphrase (file backend "
                f"{backend}) and none is set; allowed: export PULUMI_CONFIG_PASSPHRASE (or "
                "PULUMI_CONFIG_PASSPHRASE_FILE naming a file that holds it), the passphrase "
                "the stack was created with"
            )
        if any(problem in said for problem in _CREDENTIAL_PROBLEMS):
            return DeployError(
                f"AWS credentials for stack {stack} are missing or expired (the AWS provider "
                f"said: {_excerpt(_matching_lines(said, _CREDENTIAL_PROBLEMS))}); allowed: "
                "credentials the AWS SDK finds: AWS_PROFILE after `aws sso login`, "
                "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a role in CI "
                "(aws-actions/configure-aws-credentials); `platformctl preview --offline` "
                "needs none"
            )
        lines = _error_lines(stdout, stderr, diagnostics)
        return DeployError(f"pulumi could not {action} stack {stack}: {_excerpt(lines)}", lines)
    if isinstance(exc, RuntimeError) and "summary event" in str(exc):
        return DeployError(
            f"pulumi ended the {action} of stack {stack} without a summary; the engine "
            "stopped early (see `pulumi stack history` and the CLI's logs)"
        )
    return DeployError(f"could not {action} stack {stack}: {type(exc).__name__}: {exc}")


def command_output(exc: auto_errors.CommandError) -> tuple[str, str]:
    """The stdout and stderr of a failed command. CommandError keeps only its text, which
    CommandResult formats as ``\\n code: N\\n stdout: ...\\n stderr: ...``."""
    text = str(exc)
    before, found, stderr = text.rpartition("\n stderr: ")
    if not found:
        return "", text
    _, found, stdout = before.partition("\n stdout: ")
    return (stdout if found else ""), stderr


def _error_lines(stdout: str, stderr: str, diagnostics: Sequence[str]) -> list[str]:
    if diagnostics:
        return list(dict.fromkeys(diagnostics))
    for text in (stderr, stdout):
        errors = [line.strip() for line in text.splitlines() if line.strip().startswith("error:")]
        if errors:
            return list(dict.fromkeys(errors))
    for text in (stderr, stdout):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            return lines[-3:]
    return ["the CLI failed without saying why"]


def _matching_lines(text: str, needles: Sequence[str]) -> list[str]:
    return [line.strip() for line in text.splitlines() if any(n in line for n in needles)][:1]


def _excerpt(lines: Sequence[str]) -> str:
    text = " | ".join(lines)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


# Config values


def decode_config_value(text: Any) -> Any:
    """A config value as the program sees it: objects and YAML-typed scalars arrive as JSON
    text (``{"services": ...}``, ``false``, ``7``), plain strings as themselves."""
    if not isinstance(text, str):
        return text
    if text[:1] in ("{", "[") or text in ("true", "false", "null") or _looks_numeric(text):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


def _looks_numeric(text: str) -> bool:
    return re.fullmatch(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", text) is not None


@dataclass(frozen=True)
class ConfigWritePlan:
    """``removals`` (paths, in an order that keeps list indices valid) run first, then
    ``writes`` (path, text) in one ``config set-all --path``."""

    writes: tuple[tuple[str, str], ...] = ()
    removals: tuple[str, ...] = ()


def plan_config_writes(current: Mapping[str, Any], desired: Mapping[str, Any]) -> ConfigWritePlan:
    """The leaf writes and removals that turn ``current`` into ``desired`` for the keys of
    ``desired`` (other keys are left alone). Raises DeployError, before anything is
    written, for a value ``--path`` cannot store as given."""
    writes: list[tuple[str, str]] = []
    removals: list[str] = []
    for key, value in desired.items():
        if value == SECRET and current.get(key) == SECRET:
            continue
        _plan(key, current.get(key), value, writes, removals, top_level=True)
    return ConfigWritePlan(tuple(writes), tuple(removals))


def _plan(
    path: str,
    old: Any,
    new: Any,
    writes: list[tuple[str, str]],
    removals: list[str],
    *,
    top_level: bool = False,
) -> None:
    if new is None:
        if old is not None:
            removals.append(path)
        return
    if isinstance(new, Mapping):
        if not isinstance(old, Mapping):
            if not new:
                raise _cannot_create_empty(path, "map")
            if old is not None:
                # A map cannot be written through a scalar or a list: clear it first.
                removals.append(path)
            old = {}
        for key in old:
            if key not in new:
                removals.append(_child(path, key))
        for key, value in new.items():
            _plan(_child(path, key), old.get(key), value, writes, removals)
        return
    if isinstance(new, list | tuple):
        if not isinstance(old, list):
            if not new:
                raise _cannot_create_empty(path, "list")
            if old is not None:
                removals.append(path)
            old = []
        # From the end, so the indices of the elements that stay do not move.
        removals.extend(f"{path}[{i}]" for i in range(len(old) - 1, len(new) - 1, -1))
        for i, value in enumerate(new):
            if value is None:
                raise DeployError(
                    f"{path}[{i}] = null: a list element cannot be empty; allowed: a value"
                )
            _plan(f"{path}[{i}]", old[i] if i < len(old) else None, value, writes, removals)
        return
    text, stored = _leaf(path, new, top_level)
    # Unchanged leaves are not written: a hand-written 0.99 stays a YAML number.
    if not (_same(old, new) or _same(old, stored)):
        writes.append((path, text))


def _cannot_create_empty(path: str, kind: str) -> DeployError:
    # Absent and empty differ (a service without `secrets` gets the default sources).
    return DeployError(
        f"{path} = an empty {kind}: `pulumi config set --path` cannot create one; allowed: "
        f"add `{path.partition(':')[2]}` to the stack file by hand, then release again"
    )


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind: 1, 1.0 and True are not all alike in a stack file."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _child(path: str, key: Any) -> str:
    name = str(key)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
        return f"{path}.{name}"
    if '"' in name:
        raise DeployError(
            f"{path}: key {name!r} cannot be written as a config path; allowed: keys "
            "without double quotes"
        )
    # The CLI's property paths quote keys holding dots, slashes or leading digits.
    return f'{path}["{name}"]'


def _leaf(path: str, value: Any, top_level: bool) -> tuple[str, Any]:
    """The text to write and the value the stack will then hold, as read_config reads it."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise DeployError(f"{path} = {value}: allowed: a finite number")
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, str):
        text = value
        if not top_level and _cli_retypes(text):
            kind = "boolean" if text in ("true", "false") else "number"
            raise DeployError(
                f"{path} = {text!r}: `pulumi config set --path` would store this text as a "
                f"{kind}, and the setting needs text; allowed: a value that is not a bare "
                "integer or true/false (for an image, a digest or a tag with a letter)"
            )
    else:
        raise DeployError(
            f"{path} = {value!r}: allowed: text, a number, true/false, a list or a map"
        )
    # A top-level entry is always stored as text, which read_config decodes.
    return text, decode_config_value(text) if top_level else _stored(text)


def _cli_retypes(text: str) -> bool:
    if text in ("true", "false"):
        return True
    if len(text) > 1 and text[0] == "0":
        return False
    return _GO_INTEGER.fullmatch(text) is not None and int(text) in _INT64


def _stored(text: str) -> Any:
    """What ``config set --path`` makes of ``text`` (pulumi's adjustObjectValue)."""
    if text in ("true", "false"):
        return text == "true"
    if _cli_retypes(text):
        return int(text)
    return text


def _masked_outputs(outputs: Mapping[str, Any]) -> dict[str, Any]:
    return {key: SECRET if output.secret else output.value for key, output in outputs.items()}


# Engine events


@dataclass
class EngineEventTranslator:
    """Turns engine events into progress lines, ResourceChanges and PolicyFindings.

    Events arrive on the Automation API's reader thread, so state is guarded by a lock;
    a failure in here is kept (``failure``) instead of killing that thread.
    """

    progress: Progress
    findings: list[PolicyFinding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failure: str | None = None
    _changes: dict[str, ResourceChange] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def blocking(self) -> list[PolicyFinding]:
        return [f for f in self.findings if f.enforcement_level == "mandatory"]

    def changes(self) -> tuple[ResourceChange, ...]:
        with self._lock:
            return tuple(self._changes.values())

    def preview_outcome(self) -> PreviewOutcome:
        return PreviewOutcome(changes=self.changes(), findings=tuple(self.findings))

    def on_event(self, event: auto_events.EngineEvent) -> None:
        try:
            with self._lock:
                for line in self._translate(event):
                    self.progress(line)
        except Exception as exc:
            if self.failure is None:
                self.failure = f"{type(exc).__name__}: {exc}"

    def _translate(self, event: auto_events.EngineEvent) -> Iterator[str]:
        if event.resource_pre_event is not None:
            yield from self._step(event.resource_pre_event.metadata)
        elif event.policy_event is not None:
            yield from self._policy(event.policy_event)
        elif event.diagnostic_event is not None:
            yield from self._diagnostic(event.diagnostic_event)
        elif event.res_op_failed_event is not None:
            metadata = event.res_op_failed_event.metadata
            operation = _OPERATIONS.get(metadata.op.value, metadata.op.value)
            yield f"  ✗ {operation} failed: {metadata.type} {_urn_name(metadata.urn)}"
        elif event.summary_event is not None:
            counts = event.summary_event.resource_changes or {}
            shown = ", ".join(f"{op} {n}" for op, n in sorted(counts.items()) if n)
            yield f"  summary: {shown or 'no resources'}"

    def _step(self, metadata: auto_events.StepEventMetadata) -> Iterator[str]:
        raw = metadata.op.value
        operation = _OPERATIONS.get(raw, "same")
        protected = bool(
            (metadata.old is not None and metadata.old.protect)
            or (metadata.new is not None and metadata.new.protect)
        )
        change = ResourceChange(
            urn=metadata.urn,
            type=metadata.type,
            operation=operation,
            protected=protected,
            changed_inputs=_changed_inputs(metadata),
            properties=_property_changes(metadata, operation),
        )
        earlier = self._changes.get(metadata.urn)
        if earlier is not None:
            change = replace(
                earlier,
                operation="replace" if "replace" in (earlier.operation, operation) else operation,
                protected=earlier.protected or protected,
                changed_inputs=tuple(sorted({*earlier.changed_inputs, *change.changed_inputs})),
                properties=earlier.properties or change.properties,
            )
        self._changes[metadata.urn] = change
        if operation == "same" or raw in _REPLACEMENT_PARTS:
            return
        line = f"  {_SYMBOLS[operation]} {operation} {metadata.type} {_urn_name(metadata.urn)}"
        if change.changed_inputs and operation in ("update", "replace"):
            line += f" [{', '.join(change.changed_inputs)}]"
        if change.protected and operation in ("replace", "delete"):
            line += " (protected)"
        yield line

    def _policy(self, event: auto_events.PolicyEvent) -> Iterator[str]:
        finding = PolicyFinding(
            policy_pack=event.policy_pack_name,
            policy_name=event.policy_name,
            enforcement_level=event.enforcement_level,
            urn=event.resource_urn or "",
            message=_one_line(event.message),
        )
        self.findings.append(finding)
        symbol = "✗" if finding.enforcement_level == "mandatory" else "!"
        yield f"  {symbol} {_finding_text(finding)}"

    def _diagnostic(self, event: auto_events.DiagnosticEvent) -> Iterator[str]:
        if event.severity not in ("error", "warning") or event.ephemeral:
            return
        text = _diagnostic_text(event.message)
        if not text:
            return
        where = f"{_urn_name(event.urn)}: " if event.urn else ""
        if event.severity == "error":
            self.errors.append(f"error: {where}{text}")
        yield f"  {event.severity}: {where}{text}"


def _changed_inputs(metadata: auto_events.StepEventMetadata) -> tuple[str, ...]:
    keys = set(metadata.diffs or ()) | set(metadata.keys or ())
    if not keys and metadata.detailed_diff:
        keys = {re.split(r"[.\[]", path, maxsplit=1)[0] for path in metadata.detailed_diff}
    return tuple(sorted(k for k in keys if k))


def _property_changes(
    metadata: auto_events.StepEventMetadata, operation: str
) -> tuple[PropertyChange, ...]:
    """Old and new values of the inputs that change, as the engine reports them (the CLI
    shows secrets as "[secret]" unless asked not to; the review redacts them either way)."""
    old = (metadata.old.inputs if metadata.old is not None else None) or {}
    new = (metadata.new.inputs if metadata.new is not None else None) or {}
    if operation == "create":
        names: Iterable[str] = new.keys()
    elif operation == "delete":
        names = old.keys()
    elif operation in ("update", "replace"):
        names = _changed_inputs(metadata)
    else:
        return ()
    return tuple(PropertyChange(n, old.get(n), new.get(n)) for n in sorted(names))


def _finding_text(finding: PolicyFinding) -> str:
    where = finding.urn or "the stack"
    return (
        f"{finding.enforcement_level} {finding.policy_pack}/{finding.policy_name} on {where}: "
        f"{finding.message}"
    )


def _urn_name(urn: str | None) -> str:
    return (urn or "").rpartition("::")[2] or (urn or "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _diagnostic_text(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return ""
    if any(line.startswith("Traceback (most recent call last)") for line in lines):
        # A program exception: its last line says what failed; the frames are for `pulumi`.
        return lines[-1]
    return _one_line(" ".join(lines))
