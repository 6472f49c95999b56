"""``python -m offline_preview STACK``: an offline ``pulumi preview`` of a Pulumi Python project,
gated by CrossGuard policy packs driven over the Analyzer protocol.

Exit codes: 0 the preview succeeded with no mandatory policy violation; 1 a mandatory policy
violation blocks it; 2 the project, the stack's settings, the program, a policy pack or its
config failed (the message says what to fix); argparse also exits 2 for bad arguments.
"""

from __future__ import annotations

import os

# gRPC logs a harmless notice when the program's callback server stops; keep stderr for
# messages that matter. Must be set before grpc is imported.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import argparse
import asyncio
import json
import signal
import sys
import traceback
from pathlib import Path

from offline_preview.analyzer_process import PolicyPackError
from offline_preview.engine import PreviewResult, ProgramError, run_preview
from offline_preview.policy_config import PolicyConfigError
from offline_preview.policy_report import PolicyReport
from offline_preview.policy_run import PolicyPacks, PolicyPackSource
from offline_preview.project import ProjectError, load_project, load_stack_config
from offline_preview.render import render, render_policies

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_PACKS = (REPOSITORY / "policies" / "security", REPOSITORY / "policies" / "quality")
POLICY_CONFIG_DIRECTORY = REPOSITORY / "policies" / "config"

EXIT_OK = 0
EXIT_BLOCKED = 1
EXIT_ERROR = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m offline_preview",
        description="Preview a Pulumi Python stack offline: the real program against "
        "Pulumi's mock runtime, no CLI, no cloud account.",
    )
    parser.add_argument("stack", help="stack name: reads Pulumi.<stack>.yaml")
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=REPOSITORY,
        help="Pulumi project directory (default: this repository)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--unknowns",
        action="store_true",
        help="leave computed attributes unknown, as a first real `pulumi preview` does",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="on a program error, print its traceback too"
    )
    parser.add_argument(
        "--policy-pack",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="run this policy pack (repeatable); default: this repository's security and "
        "quality packs, with policies/config/STACK.json when it exists",
    )
    parser.add_argument(
        "--policy-pack-config",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="JSON config for the policy pack at the same position (repeatable, as "
        "`pulumi preview` takes it)",
    )
    parser.add_argument(
        "--no-policies", action="store_true", help="preview only; run no policy pack"
    )
    args = parser.parse_args(argv)
    if args.no_policies and (args.policy_pack or args.policy_pack_config):
        parser.error("--no-policies cannot be combined with --policy-pack/--policy-pack-config")
    if args.policy_pack_config and len(args.policy_pack_config) != len(args.policy_pack):
        parser.error(
            f"--policy-pack-config given {len(args.policy_pack_config)} time(s) for "
            f"{len(args.policy_pack)} --policy-pack; allowed: none, or one per --policy-pack, "
            "in the same order"
        )
    return args


def policy_sources(args: argparse.Namespace) -> list[PolicyPackSource]:
    if args.no_policies:
        return []
    if args.policy_pack:
        configs = args.policy_pack_config or [None] * len(args.policy_pack)
        return [PolicyPackSource(d, c) for d, c in zip(args.policy_pack, configs, strict=True)]
    stack_config = POLICY_CONFIG_DIRECTORY / f"{args.stack}.json"
    config = stack_config if stack_config.is_file() else None
    return [PolicyPackSource(d, config) for d in DEFAULT_PACKS]


def preview_with_policies(
    args: argparse.Namespace,
) -> tuple[PreviewResult, PolicyReport | None]:
    sources = policy_sources(args)
    if not sources:
        return run_preview(args.project_dir, args.stack, unknowns=args.unknowns), None
    project = load_project(args.project_dir)
    stack_config = load_stack_config(project, args.stack)
    with PolicyPacks(
        sources,
        project=project.name,
        stack=args.stack,
        config=stack_config.values,
        secret_keys=stack_config.secret_keys,
    ) as packs:
        result = run_preview(args.project_dir, args.stack, unknowns=args.unknowns)
        return result, packs.evaluate(result)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a CI job cancelled or timed out): unwind like Ctrl-C, so the policy packs
    this preview started are stopped on the way out."""


# The signal that asked this process to stop. Once it is recorded, whatever failure the
# unwinding produces is reported as the stop it is.
_stopped_by: list[int] = []


def _stop(signum: int, frame: object) -> None:
    if _stopped_by:
        return  # already unwinding: a second signal must not cut the packs' cleanup short
    _stopped_by.append(signum)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        raise _Terminated if signum == signal.SIGTERM else KeyboardInterrupt from None
    # Inside the program's event loop an exception raised here can land in an SDK task that
    # swallows it, and the loop then waits forever: stop the loop instead, and the preview
    # unwinds from there.
    loop.call_soon_threadsafe(loop.stop)


def main(argv: list[str] | None = None) -> int:
    # Behave like other CLI tools when piped into `head`: stop quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    args = parse_args(argv)
    try:
        result, report = preview_with_policies(args)
    except BaseException as exc:
        return _failed(args, exc)
    if args.json:
        print(json.dumps(to_json(result, report), indent=2))
    else:
        print(render(result))
        if report is not None:
            print(render_policies(report))
    return EXIT_BLOCKED if report is not None and report.blocked else EXIT_OK


def _failed(args: argparse.Namespace, exc: BaseException) -> int:
    if _stopped_by or isinstance(exc, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        return 128 + (_stopped_by[0] if _stopped_by else signal.SIGINT)
    if isinstance(exc, ProjectError | ProgramError | PolicyPackError | PolicyConfigError):
        return _error(args, str(exc), exc.details if isinstance(exc, ProgramError) else "")
    if not isinstance(exc, Exception):
        raise exc
    # A defect of this tool, not a mistake of the user: still one line and exit 2.
    details = "".join(traceback.format_exception(exc))
    return _error(args, f"internal error: {type(exc).__name__}: {exc}", details)


def _error(args: argparse.Namespace, message: str, details: str) -> int:
    if args.json:
        print(json.dumps({"stack": args.stack, "error": message}, indent=2))
    print(f"error: {message}", file=sys.stderr)
    if args.verbose and details:
        print(details, file=sys.stderr)
    elif details and message.startswith("internal error"):
        print("(run with --verbose for the traceback)", file=sys.stderr)
    return EXIT_ERROR


def to_json(result: PreviewResult, report: PolicyReport | None) -> dict:
    document = result.to_json()
    if report is not None:
        document["diagnostics"] = [
            *document["diagnostics"],
            *(v.to_json() for v in report.violations),
        ]
        document["policyPacks"] = [p.to_json() for p in report.packs]
        document["summary"]["policyViolations"] = {
            "mandatory": len(report.at_level("mandatory")),
            "advisory": len(report.at_level("advisory")),
            "notEvaluated": len(report.not_evaluated),
        }
    return document


if __name__ == "__main__":
    sys.exit(main())
