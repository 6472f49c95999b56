"""The stack file's `release` blocks and the ledger's: the ledger is the truth, the file in
git a mirror of it. Before every `up` the file is written from the ledger, so a machine with
an older checkout can never revert another service's release; `platformctl up` refuses a
file that disagrees, and `platformctl sync` rewrites it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platformctl.ledger import Ledger
from platformctl.ports import StackPort

Blocks = dict[str, dict[str, Any]]


def file_blocks(config: Mapping[str, Any]) -> Blocks:
    services = (config.get("platform:app") or {}).get("services") or []
    return {s["name"]: dict(s["release"]) for s in services if s.get("release")}


def disagreements(config: Mapping[str, Any], ledger_blocks: Blocks) -> list[str]:
    """The services whose block in the file is not the ledger's."""
    found = file_blocks(config)
    return sorted(
        n for n, block in found.items() if n in ledger_blocks and ledger_blocks[n] != block
    )


def with_blocks(config: Mapping[str, Any], blocks: Blocks) -> dict[str, Any]:
    app = dict(config["platform:app"])
    app["services"] = [
        {**s, "release": blocks[s["name"]]} if s["name"] in blocks else s for s in app["services"]
    ]
    return {**config, "platform:app": app}


def adopt(ledger: Ledger, stack: str, config: Mapping[str, Any], fence: int) -> Blocks:
    """The ledger's blocks, with those of services it does not know yet (a new service, or
    the stack's first release) taken from the file and written to the ledger."""
    blocks = ledger.release_blocks(stack)
    new = {n: b for n, b in file_blocks(config).items() if n not in blocks}
    if new:
        blocks = {**blocks, **new}
        ledger.write_release_blocks(stack, blocks, fence)
    return blocks


def sync_stack_file(ledger: Ledger, stack: StackPort, fence: int) -> tuple[Blocks, list[str]]:
    """Writes the file from the ledger; returns the blocks and the services it changed."""
    config = stack.read_config()
    blocks = adopt(ledger, stack.name, config, fence)
    changed = disagreements(config, blocks)
    if changed:
        stack.set_config({"platform:app": with_blocks(config, blocks)["platform:app"]})
    return blocks, changed
