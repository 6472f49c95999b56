"""``python -m infra.preview STACK``: an offline ``pulumi preview`` of a Pulumi Python project.

Exit codes: 0 the preview succeeded; 2 the project, the stack's settings or the program
failed (the message says what to fix); argparse also exits 2 for bad arguments.
"""

from __future__ import annotations

import os

# gRPC logs a harmless notice when the program's callback server stops; keep stderr for
# messages that matter. Must be set before grpc is imported.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import argparse
import json
import signal
import sys
from pathlib import Path

from infra.preview.engine import ProgramError, run_preview
from infra.preview.project import ProjectError
from infra.preview.render import render

REPOSITORY = Path(__file__).resolve().parents[2]

EXIT_OK = 0
EXIT_ERROR = 2


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m infra.preview",
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    # Behave like other CLI tools when piped into `head`: stop quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = parse_args(argv)
    try:
        result = run_preview(args.project_dir, args.stack, unknowns=args.unknowns)
    except (ProjectError, ProgramError) as exc:
        if args.json:
            print(json.dumps({"stack": args.stack, "error": str(exc)}, indent=2))
        print(f"error: {exc}", file=sys.stderr)
        if args.verbose and isinstance(exc, ProgramError) and exc.details:
            print(exc.details, file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(render(result))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
