"""``platformctl``: previews, gated updates, progressive releases and promotions.

Exit codes: 0 done (preview clean, update applied, release succeeded); 1 refused or undone
(a mandatory policy, an unapproved replacement, a release rolled back, aborted, rejected or
failed); 2 a usage or environment error (the message says what to fix); 3 a release is
paused or waiting for approval (resume, approve, abort or roll it back), or an `up` waits
for its AI review to be approved (--approve-review DIGEST).

Commands for a release (abort, pause, resume, promote-now, approve, rollback): 0 when the
process driving the release took it (its outcome is printed: carried out, or ignored and
why), 3 when it is queued but not taken yet. Without a driving process the command runs
here: abort, rollback and pause give 0 when done (1 if the rollback failed); resume, approve
and promote-now drive the release on and give its outcome (0, 1 or 3).
"""

from __future__ import annotations

import os

# As in offline_preview: gRPC's notices (a fork while the packs' channels are open) are noise
# in a CI log. Must be set before grpc is imported.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import argparse
import getpass
import json
import re
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from infra.config import StackSettings
from infra.settings.runner import DEPLOY_PHASE_KEY
from offline_preview.__main__ import REPOSITORY
from platformctl import versions
from platformctl.blob_store import StopDriving
from platformctl.changes import PreviewOutcome
from platformctl.cli_ledger import holding_for_up, status, sync, wait_seconds
from platformctl.commands import NotTakenYet, send_command
from platformctl.driver import ReleaseDriver
from platformctl.gates import gate_problems
from platformctl.identity import not_an_admin
from platformctl.lease import Lease
from platformctl.ledger import record_summary
from platformctl.machine import CONTROLS
from platformctl.ports import DeployError, StackPort
from platformctl.promotion import approver
from platformctl.record import Phase, ReleaseRecord
from platformctl.report import report_lines, since_seconds, stack_keys
from platformctl.review import gate
from platformctl.review.model import Review
from platformctl.review.redact import Redactor
from platformctl.reviews import ReleaseReviews, explanation_lines, verdict_lines
from platformctl.wiring import RealWorld
from platformctl.world import SystemClock, stack_settings

EXIT_OK, EXIT_REFUSED, EXIT_ERROR, EXIT_WAITING = 0, 1, 2, 3
STRATEGIES = ("canary", "blue-green")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON document")
    common.add_argument("--project-dir", type=Path, default=REPOSITORY, help=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="platformctl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _stack_commands(commands, common)
    _release_commands(commands, common)
    return parser.parse_args(argv)


def _stack_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """preview, up and bootstrap: a whole stack through the gates."""
    preview = commands.add_parser("preview", parents=[common], help="preview with the gates")
    preview.add_argument("stack")
    preview.add_argument(
        "--offline", action="store_true", help="the offline engine: no Pulumi CLI, no credentials"
    )
    up = commands.add_parser("up", parents=[common], help="preview, gates, then update")
    up.add_argument("stack")
    bootstrap = commands.add_parser(
        "bootstrap",
        parents=[common],
        help="first deploy of a stack whose API answers only in its VPC: everything but the "
        "Kubernetes resources (then `up` from the stack's CI runner)",
    )
    bootstrap.add_argument("stack")
    for sub in (preview, up, bootstrap):
        sub.add_argument(
            "--allow-replace",
            action="append",
            default=[],
            metavar="URN",
            help="allow replacing or deleting this protected resource",
        )
    preview.add_argument(
        "--review",
        action="store_true",
        help="ask for the advisory AI review of the changes (platform:delivery.review)",
    )
    sync = commands.add_parser(
        "sync", parents=[common], help="write the stack file's release blocks from the ledger"
    )
    sync.add_argument("stack")
    for sub in (up, bootstrap, sync):
        _wait_option(sub)
    for sub in (up, bootstrap):
        sub.add_argument(
            "--approve-review",
            metavar="DIGEST",
            type=_digest,
            default=None,
            help="go on past the AI review shown for this exact change (the digest it printed)",
        )


def _wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait-for-stack", type=wait_seconds, default=0.0, metavar="SECONDS",
        help="wait this long for another machine's hold on the stack (its lease) to end; "
        "default: refuse at once, naming the holder",
    )  # fmt: skip


def _release_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """A service's releases: start, promote, look, check pins, and steer a running one."""
    release = commands.add_parser("release", parents=[common], help="a progressive release")
    release.add_argument("stack")
    release.add_argument("service")
    release.add_argument("--image", required=True, help="tag, digest or tag@digest")
    release.add_argument("--strategy", choices=STRATEGIES)
    release.add_argument(
        "--on-failure",
        choices=("rollback", "pause"),
        help="pause instead of rolling back (non-backward-compatible "
        "migrations); default from platform:delivery.onFailure",
    )

    promote = commands.add_parser(
        "promote", parents=[common], help="release the source stack's live image to the target"
    )
    promote.add_argument("service")
    promote.add_argument("--from", dest="source", required=True)
    promote.add_argument("--to", dest="target", required=True)
    promote.add_argument("--approve", action="store_true", help="record your approval")

    status = commands.add_parser("status", parents=[common], help="releases in the ledger")
    status.add_argument("stack", nargs="?")
    status.add_argument(
        "--history", action="store_true",
        help="every revision of each current release, and why any process stopped",
    )  # fmt: skip
    for sub in (release, promote):
        _wait_option(sub)
    report = commands.add_parser(
        "report", parents=[common], help="the four DORA keys of each stack, from the ledger"
    )
    report.add_argument("stack", nargs="?")
    report.add_argument(
        "--since", type=since_seconds, default=since_seconds("30d"), metavar="PERIOD",
        help="how far back: days or hours, such as 30d (the default) or 12h",
    )  # fmt: skip

    versions = commands.add_parser(
        "versions",
        parents=[common],
        help="each pinned version against what AWS and the chart repository offer today",
    )
    versions.add_argument("stack")

    for name in CONTROLS:
        control = commands.add_parser(name, parents=[common], help=f"{name} a release")
        control.add_argument("stack")
        control.add_argument("service")
        control.add_argument("--reason", default="", help="recorded in the ledger")
        _wait_option(control)


def _digest(text: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{12,64}", text):
        raise argparse.ArgumentTypeError(
            f"{text!r}: allowed: the digest a review printed (12 to 64 hex characters)"
        )
    return text


def actor(environ: Mapping[str, str]) -> str:
    for variable in ("PLATFORM_ACTOR", "GITHUB_ACTOR"):
        if environ.get(variable):
            return environ[variable]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Output:
    def __init__(self, as_json: bool):
        self.as_json = as_json

    def line(self, text: str) -> None:
        # With --json, stdout holds only the document; progress goes to stderr.
        print(text, file=sys.stderr if self.as_json else sys.stdout, flush=True)

    def document(self, doc: dict[str, Any]) -> None:
        if self.as_json:
            print(json.dumps(doc, indent=2, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = parse_args(argv)
    out = Output(args.json)
    return execute(args, out, RealWorld(args.project_dir, dict(os.environ), out.line))


def execute(args: argparse.Namespace, out: Output, real: RealWorld) -> int:
    """Runs one command; user and environment mistakes become one line and exit 2."""
    try:
        return run(args, out, real)
    except DeployError as error:
        out.document({"error": str(error)})
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(
            "error: interrupted; the ledger holds where the release stopped "
            "(platformctl status, then resume, rollback or abort)",
            file=sys.stderr,
        )
        return 130
    except Exception as error:  # a defect of this tool: one line, and the details on request
        print(f"error: internal error: {type(error).__name__}: {error}", file=sys.stderr)
        if os.environ.get("PLATFORMCTL_DEBUG"):
            traceback.print_exc()
        else:
            print("(set PLATFORMCTL_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_ERROR


def run(args: argparse.Namespace, out: Output, real: RealWorld) -> int:
    real.lease_wait_seconds = getattr(args, "wait_for_stack", 0.0)
    if args.command in ("preview", "up"):
        return _preview_or_up(args, out, real)
    if args.command == "bootstrap":
        return _bootstrap(args, out, real)
    if args.command == "status":
        return status(args.stack, args.history, real.ledger(), out)
    if args.command == "sync":
        stack = real.stack(args.stack)
        return sync(stack, real.ledger(), actor(real.environ), args.wait_for_stack, out)
    if args.command == "report":
        return _dora_report(args, out, real)
    if args.command == "versions":
        return _versions(args, out, real)
    if args.command == "release":
        _refuse_unless_admin(real, real.stack_file_settings(args.stack))
        driver = ReleaseDriver(real.world(args.stack, actor(real.environ)), args.service)
        record = driver.start(args.image, strategy=args.strategy, on_failure=args.on_failure)
        return _finish(record, out)
    if args.command == "promote":
        _refuse_unless_admin(real, real.stack_file_settings(args.target))
        record = real.promote(
            args.service, args.source, args.target, args.approve, actor(real.environ)
        )
        return _finish(record, out)
    return _control(args, out, real)


def _versions(args: argparse.Namespace, out: Output, real: RealWorld) -> int:
    """Exit 1 when a pin is no longer offered, 2 when a source could not be asked."""
    settings = real.stack_file_settings(args.stack)
    kubernetes = settings.platform.cluster.kubernetes_version
    reports = versions.check(
        versions.stack_pins(settings), real.version_source(settings.region), kubernetes
    )
    for line in versions.render(args.stack, settings.region, kubernetes, reports):
        out.line(line)
    gone, unasked = versions.not_offered(reports), versions.unanswered(reports)
    out.document(
        {
            "stack": args.stack,
            "region": settings.region,
            "kubernetesVersion": kubernetes,
            "pins": [r.to_json() for r in reports],
            "notOffered": [r.pin.key for r in gone],
            "unanswered": [r.pin.key for r in unasked],
        }
    )
    if gone:
        keys = ", ".join(f"{r.pin.key} {r.pin.version}" for r in gone)
        print(f"error: no longer offered: {keys}; move the pin (infra/settings/versions.yaml)",
              file=sys.stderr)  # fmt: skip
        return EXIT_REFUSED
    if unasked:
        reasons = sorted({r.error for r in unasked})
        print(f"error: could not check {len(unasked)} pin(s): " + "; ".join(reasons),
              file=sys.stderr)  # fmt: skip
        return EXIT_ERROR
    return EXIT_OK


def _control(args: argparse.Namespace, out: Output, real: RealWorld) -> int:
    """A command for a release: handed to the process driving it when there is one (which
    needs only the ledger: no CLI, no stack), otherwise carried out here."""
    by = actor(real.environ) + (f" ({args.reason})" if args.reason else "")
    ledger = real.ledger()
    current = ledger.read(args.stack, args.service)
    if current is None:
        raise DeployError(
            f"no release of {args.service} on {args.stack} in the ledger ({ledger.location})"
        )
    try:
        handed = send_command(
            ledger, args.stack, args.service, args.command, by, SystemClock(), current.id,
            args.reason,
        )  # fmt: skip
    except NotTakenYet as waiting:
        out.line(f"warning: {waiting}")
        out.document({"release": record_summary(current), "queued": True, "taken": False})
        return EXIT_WAITING
    if handed is not None:
        out.line(f"{args.command} for release {current.id}: {handed.outcome}")
        out.document(
            {"release": record_summary(handed.record), "queued": True, "outcome": handed.outcome}
        )
        return EXIT_OK
    driver = ReleaseDriver(real.world(args.stack, actor(real.environ)), args.service)
    if args.command == "resume":
        return _finish(driver.resume(), out)
    record = driver.carry_out(args.command, by, current.id).record
    code = _finish(record, out)
    # Undoing or pausing did what was asked unless the rollback itself failed.
    if args.command in ("abort", "rollback", "pause") and record.phase is not Phase.FAILED:
        return EXIT_OK
    return code


def _preview_or_up(args: argparse.Namespace, out: Output, real: RealWorld) -> int:
    offline = getattr(args, "offline", False)
    stack: StackPort = real.offline_stack(args.stack) if offline else real.stack(args.stack)
    # Settings first: a bad stack file is one clear error before any engine runs.
    settings = stack_settings(real.project(), stack)
    if settings.platform.deploy_phase != "complete":
        raise DeployError(
            f"Pulumi.{args.stack}.yaml sets {DEPLOY_PHASE_KEY}: {settings.platform.deploy_phase}, "
            "which platformctl bootstrap alone sets, for one up (an up in that phase removes "
            "the Kubernetes resources of a complete stack); allowed: remove the key"
        )
    if args.command != "up":
        return _gated(args, out, real, stack, settings, apply=False)
    _refuse_unless_admin(real, settings)
    by = actor(real.environ)
    with holding_for_up(real.ledger(), stack, by, "up", args.wait_for_stack) as lease:
        return _gated(args, out, real, stack, settings, apply=True, lease=lease)


def _refuse_unless_admin(real: RealWorld, settings: StackSettings) -> None:
    """Before anything is applied: the caller must be one of the cluster's admins."""
    cluster = settings.platform.cluster
    problem = not_an_admin(
        real.caller_arn(settings.region), cluster.admin_role_arns, settings.stack
    )
    if problem:
        raise DeployError(problem)


def _bootstrap(args: argparse.Namespace, out: Output, real: RealWorld) -> int:
    """The first phase of a stack whose API answers only inside its VPC: one gated up of
    everything that needs no Kubernetes API, the CI runner included; then `up` runs there."""
    foundation = {DEPLOY_PHASE_KEY: "foundation"}
    stack = real.stack(args.stack, config_overrides=foundation)
    settings = stack_settings(real.project(), stack, {**stack.read_config(), **foundation})
    if stack.outputs().get("deployPhase") == "complete":
        raise DeployError(
            f"stack {args.stack} is already complete: its bootstrap is done, and another would "
            f"remove its Kubernetes resources; allowed: platformctl up {args.stack} (from a "
            "machine that reaches its API: the stack's CI runner)"
        )
    by = actor(real.environ)
    with holding_for_up(real.ledger(), stack, by, "bootstrap", args.wait_for_stack) as lease:
        code = _gated(args, out, real, stack, settings, apply=True, only_creates=True, lease=lease)
    if code == EXIT_OK:
        runner = settings.platform.ci_runner
        where = (
            f"gh workflow run up.yml -f stack={args.stack} (it runs on the stack's runner, "
            f"codebuild-{settings.name_prefix}-runner)"
            if runner
            else f"platformctl up {args.stack} from a machine that reaches the cluster's API"
        )
        out.line(
            f"bootstrap of {args.stack} done: the network, data stores, cluster and CI runner "
            f"exist. Next, to apply the Kubernetes resources: {where}."
        )
    return code


def _gated(
    args: argparse.Namespace,
    out: Output,
    real: RealWorld,
    stack: StackPort,
    settings: StackSettings,
    *,
    apply: bool,
    only_creates: bool = False,
    lease: Lease | None = None,
) -> int:
    """Preview, the gates and the review, then (``apply``) the update. ``only_creates``
    refuses a preview that would replace or delete anything (the bootstrap's: on a stack past
    its foundation, its phase would remove the Kubernetes resources)."""
    review_settings = settings.platform.delivery.review
    reviews = ReleaseReviews(
        settings=review_settings,
        reviewer_for=lambda: real.reviewer(review_settings),
        stack=args.stack,
        environment=settings.platform.environment,
        known_secrets=real.known_secrets(),
    )
    reviewing = apply or getattr(args, "review", False)
    if reviewing:
        reviews.check_model()  # a bad PLATFORM_REVIEW_MODEL is a usage error, before the engine
    outcome = stack.preview(out.line)
    problems = gate_problems(outcome, set(args.allow_replace))
    if only_creates:
        problems += [
            f"{c.operation} {c.urn}: a bootstrap never removes anything; this stack is past "
            f"its foundation, so run platformctl up {args.stack} instead"
            for c in outcome.changes
            if c.operation in ("replace", "delete")
        ]
    document = _preview_document(args.stack, outcome, problems)
    _report(out, outcome, problems)
    if problems:
        out.document(document)
        return EXIT_REFUSED
    waiting = False
    if reviewing:
        waiting = _review(args, out, reviews, outcome, document, real)
    if not apply or waiting:
        out.document(document)
        return EXIT_WAITING if waiting else EXIT_OK
    message = f"platformctl {args.command}" + (
        f" ({document['approval']})" if "approval" in document else ""
    )
    try:
        # Applied only under the stack's lease, confirmed now (kept alive while held).
        assert lease is not None, "every applying command holds the stack's lease"
        lease.confirm()
        result = stack.up(out.line, message)
    except StopDriving:
        raise
    except DeployError as error:
        # The engine's words may quote a secret the preview held: masked like the review's.
        said = Redactor(reviews.known_secrets).text(str(error))
        explained = reviews.explain("up", error.details or (str(error),))
        if explained is not None:
            for line in explanation_lines(explained):
                out.line(line)
        out.document({"error": said, "explanation": explained and explained.to_json()})
        print(f"error: {said}", file=sys.stderr)
        return EXIT_ERROR
    document["applied"] = {"changes": _counts(result.changes)}
    out.line(f"applied: {_counts(result.changes)}")
    out.document(document)
    return EXIT_OK


def _review(
    args: argparse.Namespace,
    out: Output,
    reviews: ReleaseReviews,
    outcome: PreviewOutcome,
    document: dict[str, Any],
    real: RealWorld,
) -> bool:
    """The advisory review of a preview (``--review``) or of an update; True when the update
    must wait for a human. A review that needs an approval is kept in the ledger, and
    ``up --approve-review DIGEST`` approves exactly that shown review, without asking again."""
    change = reviews.pre_release_document(outcome, None)
    if change is None:
        if args.command == "preview":
            out.line("AI review: turned off (platform:delivery.review.enabled)")
        if getattr(args, "approve_review", None):
            raise DeployError(
                f"--approve-review {args.approve_review}: stack {args.stack} has no AI review "
                "to approve (platform:delivery.review.enabled is off); allowed: leave it out"
            )
        return False
    ledger = real.ledger()
    approving = getattr(args, "approve_review", None) or ""
    if approving:
        if not change.sha256.startswith(approving):
            raise DeployError(
                f"--approve-review {approving}: this change's document is "
                f"{change.sha256[:16]}, so the change differs from the one reviewed; allowed: "
                "the digest printed for this change (run platformctl up again to review it)"
            )
        shown = ledger.shown_review(args.stack, change.sha256)
        if shown is None:
            raise DeployError(
                f"--approve-review {approving}: no review of this change was shown, in the "
                f"ledger at {ledger.location}; allowed: the digest a review printed "
                f"(run platformctl up {args.stack} first)"
            )
        review = Review.from_json(shown)
    else:
        review = reviews.ask(change)
    decision = gate.decide(reviews.environment, review)
    # "reason" stays the review's own (why it is unavailable); the gate's is beside it.
    entry = {**review.to_json(), "decision": decision.friction.value, "gate": decision.reason}
    document["review"] = entry
    out.line(decision.reason)
    for line in verdict_lines(review):
        out.line(line)
    if not decision.needs_approval:
        return False
    if approving:
        by = approver(True, actor(real.environ), real.environ)
        document["approval"] = f"AI review {change.sha256[:16]} approved by {by}"
        return False
    ledger.keep_review(args.stack, entry)
    digest = change.sha256[:16]
    out.line(
        f"waiting for approval of review {digest}: to go on with exactly this change, run "
        f"platformctl {args.command} {args.stack} --approve-review {digest}"
    )
    return args.command in ("up", "bootstrap")


def _counts(changes: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.operation] = counts.get(change.operation, 0) + 1
    return counts


def _preview_document(stack: str, outcome: PreviewOutcome, problems: list[str]) -> dict[str, Any]:
    return {
        "stack": stack,
        "changes": outcome.counts(),
        "resources": [
            {"urn": c.urn, "type": c.type, "operation": c.operation,
             "changedInputs": list(c.changed_inputs), "protected": c.protected}
            for c in outcome.changes if c.operation != "same"
        ],
        "policyViolations": [
            {"policyPack": f.policy_pack, "policyName": f.policy_name,
             "enforcementLevel": f.enforcement_level, "urn": f.urn, "message": f.message,
             "remediation": f.remediation}
            for f in outcome.findings
        ],
        "blocked": bool(problems),
        "problems": problems,
    }  # fmt: skip


def _report(out: Output, outcome: PreviewOutcome, problems: list[str]) -> None:
    out.line(
        "changes: " + (", ".join(f"{n} to {op}" for op, n in outcome.counts().items()) or "none")
    )
    advisory = [f for f in outcome.findings if f.enforcement_level != "mandatory"]
    for finding in advisory:
        out.line(
            f"advisory: {finding.policy_pack}/{finding.policy_name} on {finding.urn}: "
            f"{finding.message}"
        )
    for problem in problems:
        out.line("blocked: " + problem.replace("\n", "\n    "))


def _dora_report(args: argparse.Namespace, out: Output, real: RealWorld) -> int:
    ledger = real.ledger()
    stacks = [args.stack] if args.stack else ledger.stacks()
    if not stacks:
        out.line("no releases in the ledger")
    reports = []
    for stack in stacks:
        keys = stack_keys(ledger, stack, args.since, real.image_pushes())
        for line in report_lines(keys):
            out.line(line)
        reports.append(keys.to_json())
    out.document({"reports": reports})
    return EXIT_OK


def _finish(record: ReleaseRecord, out: Output) -> int:
    summary = record_summary(record)
    out.line(
        f"release {record.id}: {record.phase.value}"
        + (
            f" (traffic restored in {record.restore_seconds:.2f}s)"
            if record.restore_seconds is not None
            else ""
        )
    )
    out.document({"release": summary, "events": record.events, "reviews": record.reviews})
    if record.phase is Phase.SUCCEEDED:
        return EXIT_OK
    if record.phase in (
        Phase.PAUSED, Phase.AWAITING_CONFIRMATION, Phase.AWAITING_APPROVAL, Phase.PROGRESSING
    ):  # fmt: skip
        return EXIT_WAITING
    return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
