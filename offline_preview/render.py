"""Human output for an offline preview, laid out like ``pulumi preview``."""

from __future__ import annotations

import json
from typing import Any

from offline_preview.engine import CapturedResource, PreviewResult
from offline_preview.mocks import FAKE_ACCOUNT_ID
from offline_preview.policy_report import PolicyReport
from platform_common.pulumi_values import present

_SYMBOLS = {"create": "+", "read": ">", "update": "~", "replace": "+-", "delete": "-", "same": " "}


def short_type(type_token: str) -> str:
    """``aws:ec2/vpc:Vpc`` -> ``aws:ec2:Vpc``, as the Pulumi CLI displays types."""
    parts = type_token.split(":")
    if len(parts) == 3:
        return f"{parts[0]}:{parts[1].split('/')[0]}:{parts[2]}"
    return type_token


def render(result: PreviewResult) -> str:
    mode = (
        "computed attributes left unknown"
        if result.unknowns
        else f"mocked AWS account {FAKE_ACCOUNT_ID}"
    )
    lines = [
        f"Previewing update ({result.stack}) offline: {mode}, region {result.region}",
        "",
    ]
    rows = list(_tree_rows(result))
    type_width = max(len("Type"), *(len(prefix) + len(t) for _, prefix, t, _, _ in rows))
    name_width = max(len("Name"), *(len(name) for _, _, _, name, _ in rows))
    lines.append(f"     {'Type':<{type_width}}  {'Name':<{name_width}}  Plan")
    for symbol, prefix, type_text, name, operation in rows:
        lines.append(
            f" {symbol:<3} {(prefix + type_text):<{type_width}}  {name:<{name_width}}  {operation}"
        )
    outputs = present(result.outputs)
    if outputs:
        lines += ["", "Outputs:"]
        width = max(len(k) for k in outputs)
        for key in sorted(outputs):
            lines.append(f"    {key + ':':<{width + 1}} {json.dumps(outputs[key])}")
    if result.diagnostics:
        lines += ["", "Diagnostics:"]
        for diagnostic in result.diagnostics:
            where = f" {diagnostic['urn']}" if diagnostic.get("urn") else ""
            lines.append(f"    {diagnostic['severity']}:{where} {diagnostic['message']}")
    summary = result.summary()
    lines += ["", "Resources:"]
    for operation, count in sorted(summary["operations"].items()):
        lines.append(f"    {_SYMBOLS.get(operation, '?')} {count} to {operation}")
    lines += ["", "Resources by type:"]
    width = max(len(short_type(t)) for t in summary["byType"])
    for type_token, count in summary["byType"].items():
        lines.append(f"    {short_type(type_token):<{width}}  {count:>3}")
    return "\n".join(lines)


def _tree_rows(result: PreviewResult) -> Any:
    roots = [r for r in result.resources if r.parent is None]
    for root in roots:
        yield from _walk(result, root, "", True, is_root=True)


def _walk(
    result: PreviewResult, node: CapturedResource, indent: str, last: bool, is_root: bool = False
) -> Any:
    branch = "" if is_root else indent + ("└─ " if last else "├─ ")
    yield (
        _SYMBOLS.get(node.operation, "?"),
        branch,
        short_type(node.type),
        node.name,
        node.operation,
    )
    children = result.children(node.urn)
    child_indent = "" if is_root else indent + ("   " if last else "│  ")
    for i, child in enumerate(children):
        yield from _walk(result, child, child_indent, i == len(children) - 1)


def render_policies(report: PolicyReport) -> str:
    """Policy violations grouped by enforcement level, each with the resource, the policy,
    the message and what to do about it; then the policies that could not run yet."""
    packs = ", ".join(f"{p.name}@v{p.version}" for p in report.packs)
    total = sum(p.policies for p in report.packs)
    lines = ["", f"Policies: {packs} ({total} policies)"]
    if not any(report.at_level(level) for level, _ in _LEVELS):
        lines.append("    no violations")
    for level, heading in _LEVELS:
        violations = report.at_level(level)
        if not violations:
            continue
        lines += ["", f"{heading} ({len(violations)}):"]
        for v in violations:
            lines.append(f"  - {v.policy_name} [{v.policy_pack}, {v.severity}]")
            lines.append(f"    {v.urn or '(the stack)'}")
            lines += [f"    {line}" for line in v.message.splitlines()]
            if v.remediation:
                lines.append(f"    remediation: {v.remediation}")
    pending = report.not_evaluated
    if pending:
        lines += ["", f"Not evaluated: values unknown until the update ({len(pending)}):"]
        for v in pending:
            reason = v.message.split("during preview: ", 1)[-1]
            lines.append(f"  - {v.policy_name}: {v.urn or '(the stack)'}: {reason}")
    mandatory = len(report.at_level("mandatory"))
    if mandatory:
        lines += ["", f"error: {mandatory} mandatory policy violation(s) block this preview"]
    return "\n".join(lines)


# Remediate-level violations are reported as mandatory (policy_run), as the engine does.
_LEVELS = (
    ("mandatory", "Mandatory violations (block the preview)"),
    ("advisory", "Advisory violations"),
)
