"""What fails an analysis round besides the metrics: a watched CloudWatch alarm in ALARM, or
an SLO alert firing for the service. Each is one more measurement of the round, so alarms,
alerts and the canary's metrics share one judgement (machine.count and machine.judge)."""

from __future__ import annotations

from dataclasses import dataclass

from infra.config import StackSettings
from platformctl.alarms import unknown_alarms_problem
from platformctl.judge import Unmeasured
from platformctl.ports import (
    AlarmSource,
    AlertSource,
    AnalysisTarget,
    DeployError,
    Measurement,
    Verdict,
)

ALARMS = "alarms"
SLO_ALERTS = "slo-alerts"


@dataclass(frozen=True)
class ReleaseGuards:
    alarms: AlarmSource | None = None
    watched: tuple[str, ...] = ()
    alerts: AlertSource | None = None
    # Where to look for the alarms that exist, to name them when a watched one does not.
    alarm_prefix: str = ""

    def check(self) -> None:
        """Refuses, before anything is applied, a watched alarm that does not exist."""
        if not self.watched or self.alarms is None:
            return
        states = self.alarms.states(self.watched)
        problem = unknown_alarms_problem(self.watched, states, self.alarms.names(self.alarm_prefix))
        if problem:
            raise DeployError(problem)

    def measure(self, target: AnalysisTarget) -> list[Measurement]:
        found = [self._alarms(), self._alerts(target)]
        return [m for m in found if m is not None]

    def _alarms(self) -> Measurement | None:
        if not self.watched or self.alarms is None:
            return None
        try:
            states = self.alarms.states(self.watched)
        except DeployError as error:
            return Measurement(ALARMS, Verdict.INCONCLUSIVE, str(error), error=True)
        firing = [name for name in self.watched if states.get(name) == "ALARM"]
        if firing:
            return Measurement(ALARMS, Verdict.FAIL, f"in ALARM: {', '.join(firing)}")
        gone = [name for name in self.watched if name not in states]
        if gone:
            return Measurement(ALARMS, Verdict.INCONCLUSIVE, f"no longer exist: {', '.join(gone)}")
        return Measurement(ALARMS, Verdict.PASS, f"{len(self.watched)} alarm(s) not in ALARM")

    def _alerts(self, target: AnalysisTarget) -> Measurement | None:
        if self.alerts is None:
            return None
        try:
            firing = self.alerts.firing_alerts(target.stack, target.service)
        except Unmeasured as unmeasured:
            return Measurement(
                SLO_ALERTS, Verdict.INCONCLUSIVE, unmeasured.reason, error=unmeasured.error
            )
        if firing:
            return Measurement(SLO_ALERTS, Verdict.FAIL, "firing: " + "; ".join(firing))
        return Measurement(SLO_ALERTS, Verdict.PASS, f"no SLO alert firing for {target.service}")


def no_guards(settings: StackSettings) -> ReleaseGuards:
    return ReleaseGuards()
