"""CloudWatch alarms as a release watches them (CodeDeploy's alarm configuration): which
ones (``analysis.alarms``, ``stack`` for every alarm the stack made), whether they exist
before anything is applied, and their state during every analysis round."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.settings.delivery import STACK_ALARMS
from platformctl.ports import DeployError

# The stack output listing every alarm the stack made (infra/platform.py).
ALARM_NAMES_OUTPUT = "alarmNames"
# DescribeAlarms takes at most 100 names per call.
_BATCH = 100
_SHOWN = 20


def watched_alarms(configured: Sequence[str], outputs: Mapping[str, Any]) -> tuple[str, ...]:
    """The alarm names a release watches: the configured ones, ``stack`` standing for every
    alarm the stack made (its ``alarmNames`` output)."""
    names: list[str] = []
    for name in configured:
        if name == STACK_ALARMS:
            stack_alarms = outputs.get(ALARM_NAMES_OUTPUT)
            if not isinstance(stack_alarms, list):
                raise DeployError(
                    "platform:delivery.analysis.alarms names `stack`, but the stack has no "
                    f"{ALARM_NAMES_OUTPUT} output yet: run `platformctl up` first"
                )
            names += [str(n) for n in stack_alarms]
        else:
            names.append(name)
    return tuple(dict.fromkeys(names))


def unknown_alarms_problem(
    watched: Sequence[str], states: Mapping[str, str], existing: Sequence[str]
) -> str | None:
    """Why the release may not start when a watched alarm does not exist, naming the ones
    that do."""
    missing = [name for name in watched if name not in states]
    if not missing:
        return None
    shown = ", ".join(existing[:_SHOWN]) + (" ..." if len(existing) > _SHOWN else "")
    return (
        f"platform:delivery.analysis.alarms names {', '.join(missing)}, which no alarm is "
        f"called; alarms that exist: {shown or 'none'}"
    )


class CloudWatchAlarms:
    def __init__(self, client: Any) -> None:
        self._client = client

    def states(self, names: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(names), _BATCH):
            batch = list(names[start : start + _BATCH])
            answer = self._call(lambda b=batch: self._client.describe_alarms(AlarmNames=b))
            for kind in ("MetricAlarms", "CompositeAlarms"):
                for alarm in answer.get(kind, []):
                    found[alarm["AlarmName"]] = alarm["StateValue"]
        return found

    def names(self, prefix: str) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            answer = self._call(
                lambda e=extra: self._client.describe_alarms(AlarmNamePrefix=prefix, **e)
            )
            names += [a["AlarmName"] for a in answer.get("MetricAlarms", [])]
            token = answer.get("NextToken")
            if not token:
                return sorted(names)

    @staticmethod
    def _call(request: Any) -> Any:
        try:
            return request()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "error")
            if code in ("AccessDenied", "AccessDeniedException"):
                raise DeployError(
                    "cloudwatch:DescribeAlarms was refused: the caller needs it to watch the "
                    "release's alarms"
                ) from None
            raise DeployError(f"cloudwatch:DescribeAlarms failed ({code})") from None
        except BotoCoreError as error:
            raise DeployError(f"cloudwatch:DescribeAlarms failed: {error}") from None
