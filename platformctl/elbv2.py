"""Confirms through the ELBv2 API that the ALB routes what the driver just asked for.

The AWS Load Balancer Controller applies an Ingress's new weights some seconds after
``pulumi up`` returns, so a bake started at once would measure the old split. Like Argo
Rollouts' ``--aws-verify-target-group``, the driver waits until the live route's listener rule
forwards with the new weights and the slot now taking traffic has a healthy target.

The controller's target groups are found by the tags it gives them: ``elbv2.k8s.aws/cluster``
(the cluster's name) and ``ingress.k8s.aws/resource``
(``<namespace>/<ingress>-<service>:<port>``). Names are hashes and cannot be predicted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from components.workload import SERVICE_PORT
from platformctl.ports import (
    Clock,
    DeployError,
    TrafficCheck,
    TrafficExpectation,
    TrafficVerifier,
)

CLUSTER_TAG = "elbv2.k8s.aws/cluster"
RESOURCE_TAG = "ingress.k8s.aws/resource"
# DescribeTags accepts at most 20 resource ARNs per call.
TAGS_PER_CALL = 20
# What one look reads; named when AWS refuses one of them.
READ_PERMISSIONS = tuple(
    f"elasticloadbalancing:{action}"
    for action in (
        "DescribeTargetGroups",
        "DescribeTags",
        "DescribeListeners",
        "DescribeRules",
        "DescribeTargetHealth",
    )
)
# Authorization refusals: waiting does not grant a permission, so the release stops.
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_MESSAGE_LIMIT = 200


class Elbv2Client(Protocol):
    """The part of boto3's ``elbv2`` client the verifier uses."""

    def get_paginator(self, operation_name: str) -> Any: ...

    def describe_tags(self, **request: Any) -> Mapping[str, Any]: ...

    def describe_target_health(self, **request: Any) -> Mapping[str, Any]: ...


def target_group_resource_id(
    namespace: str, ingress: str, service: str, port: int | str = SERVICE_PORT
) -> str:
    """The ``ingress.k8s.aws/resource`` tag the controller gives a Service's target group."""
    return f"{namespace}/{ingress}-{service}:{port}"


@dataclass(frozen=True)
class _Forward:
    """One forward action of a listener rule that reaches the service's slots."""

    rule_arn: str
    # Slot Service (or, for a target group of no slot, its name) to weight.
    weights: dict[str, int]
    slot_arns: dict[str, list[str]] = field(default_factory=dict)


class ElbTrafficVerifier(TrafficVerifier):
    def __init__(
        self, client: Elbv2Client, cluster: str, *, service_port: int | str = SERVICE_PORT
    ) -> None:
        self._client = client
        self._cluster = cluster
        self._port = service_port

    def verify(self, expectation: TrafficExpectation) -> TrafficCheck:
        """Not in force, with the reason, while anything is missing, different or unreachable.
        Raises ``DeployError`` only when AWS refuses a permission."""
        try:
            return self._look(expectation)
        except ClientError as failure:
            return self._refused(failure)
        except BotoCoreError as failure:
            return TrafficCheck(
                False,
                f"could not ask the ELBv2 API{self._endpoint()}: {type(failure).__name__}: "
                f"{str(failure)[:_MESSAGE_LIMIT]}",
            )

    def cloudwatch_dimensions(
        self, namespace: str, ingress: str, slot_service: str
    ) -> dict[str, str] | None:
        """``LoadBalancer`` and ``TargetGroup`` as CloudWatch's AWS/ApplicationELB metrics
        name them, for a slot's target group; None while it has none (or AWS cannot say)."""
        resource_id = target_group_resource_id(namespace, ingress, slot_service, self._port)
        try:
            groups = self._target_groups({resource_id: slot_service})
        except (ClientError, BotoCoreError):
            return None
        for _, group in groups:
            for load_balancer in group.get("LoadBalancerArns", []):
                return {
                    "LoadBalancer": load_balancer.split(":loadbalancer/", 1)[-1],
                    "TargetGroup": group["TargetGroupArn"].rsplit(":", 1)[-1],
                }
        return None

    def _look(self, expectation: TrafficExpectation) -> TrafficCheck:
        healthy_slot = expectation.healthy_slot_service
        slots = list(expectation.weights)
        if healthy_slot is not None and healthy_slot not in slots:
            slots.append(healthy_slot)
        resource_ids = {
            target_group_resource_id(
                expectation.namespace, expectation.ingress, slot, self._port
            ): slot
            for slot in slots
        }
        target_groups = self._target_groups(resource_ids)
        slot_by_arn = {group["TargetGroupArn"]: slot for slot, group in target_groups}

        # A slot at weight 0 receives nothing, so its target group may not exist yet.
        needed = [s for s in slots if expectation.weights.get(s, 0) > 0 or s == healthy_slot]
        missing = [
            resource_id
            for resource_id, slot in resource_ids.items()
            if slot in needed and slot not in slot_by_arn.values()
        ]
        if missing:
            return TrafficCheck(
                False,
                f"no target group tagged {CLUSTER_TAG}={self._cluster} and "
                + " or ".join(f"{RESOURCE_TAG}={resource_id}" for resource_id in missing)
                + " yet: the load balancer controller has not created "
                + ("them" if len(missing) > 1 else "it"),
            )

        load_balancers = sorted(
            {arn for _, group in target_groups for arn in group.get("LoadBalancerArns", [])}
        )
        if not load_balancers:
            return TrafficCheck(
                False,
                f"the target groups of {_names(slot_by_arn.values())} are not attached to a "
                "load balancer yet",
            )
        forwards = [
            forward
            for load_balancer in load_balancers
            for forward in self._live_forwards(load_balancer, slots, slot_by_arn)
        ]
        if not forwards:
            return TrafficCheck(
                False,
                "no listener rule of load balancer "
                f"{_names(_arn_name(arn) for arn in load_balancers)} "
                f"forwards to {_names(slot_by_arn.values())} outside the preview route yet",
            )

        expected = _split(slots, expectation.weights)
        for forward in forwards:
            if not _same_shares(forward.weights, expected):
                return TrafficCheck(
                    False,
                    f"listener rule {forward.rule_arn} forwards "
                    f"{_describe(forward.weights)}, not the expected {_describe(expected)}",
                    forward.weights,
                )
        rules = ", ".join(forward.rule_arn for forward in forwards)
        routing = (
            f"listener rule{'s' if len(forwards) > 1 else ''} {rules} "
            f"forward{'' if len(forwards) > 1 else 's'} {_describe(forwards[0].weights)}"
        )
        if healthy_slot is None:
            return TrafficCheck(True, routing, forwards[0].weights)

        # The target groups the rules send to, which during a replacement may be several.
        health_arns = [arn for f in forwards for arn in f.slot_arns.get(healthy_slot, [])] or [
            arn for arn, slot in slot_by_arn.items() if slot == healthy_slot
        ]
        states = self._target_states(health_arns)
        return TrafficCheck(
            states["healthy"] > 0,
            f"{routing}; {_describe_health(healthy_slot, states)}",
            forwards[0].weights,
        )

    def _target_groups(self, resource_ids: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
        """(slot, target group) for each target group of this cluster tagged as a slot's."""
        pages = self._client.get_paginator("describe_target_groups").paginate()
        by_arn = {g["TargetGroupArn"]: g for page in pages for g in page["TargetGroups"]}
        arns = list(by_arn)
        found: list[tuple[str, dict[str, Any]]] = []
        for start in range(0, len(arns), TAGS_PER_CALL):
            answer = self._client.describe_tags(ResourceArns=arns[start : start + TAGS_PER_CALL])
            for description in answer.get("TagDescriptions", []):
                tags = {tag["Key"]: tag.get("Value", "") for tag in description.get("Tags", [])}
                slot = resource_ids.get(tags.get(RESOURCE_TAG, ""))
                if slot is not None and tags.get(CLUSTER_TAG) == self._cluster:
                    found.append((slot, by_arn[description["ResourceArn"]]))
        return found

    def _live_forwards(
        self, load_balancer: str, slots: Sequence[str], slot_by_arn: Mapping[str, str]
    ) -> Iterator[_Forward]:
        listeners = self._client.get_paginator("describe_listeners")
        rules = self._client.get_paginator("describe_rules")
        for listener_page in listeners.paginate(LoadBalancerArn=load_balancer):
            for listener in listener_page["Listeners"]:
                for rule_page in rules.paginate(ListenerArn=listener["ListenerArn"]):
                    for rule in rule_page["Rules"]:
                        # ingress_annotations gives the preview route, and only it, a source-ip
                        # condition. It forwards to the candidate alone, which must not pass
                        # for a live split that sends the candidate everything.
                        if any(c.get("Field") == "source-ip" for c in rule.get("Conditions", [])):
                            continue
                        for action in rule.get("Actions", []):
                            forward = _forward(rule["RuleArn"], action, slots, slot_by_arn)
                            if forward is not None:
                                yield forward

    def _target_states(self, target_group_arns: Sequence[str]) -> Counter[str]:
        states: Counter[str] = Counter(healthy=0)
        for arn in target_group_arns:
            answer = self._client.describe_target_health(TargetGroupArn=arn)
            for target in answer.get("TargetHealthDescriptions", []):
                states[target.get("TargetHealth", {}).get("State", "unknown")] += 1
        return states

    def _refused(self, failure: ClientError) -> TrafficCheck:
        error = failure.response.get("Error", {})
        code = str(error.get("Code", "unknown"))
        message = str(error.get("Message", ""))[:_MESSAGE_LIMIT]
        permission = f"elasticloadbalancing:{failure.operation_name}"
        if code in ACCESS_DENIED_CODES:
            raise DeployError(
                f"AWS denied {permission} to the release driver ({code}: {message}). Confirming "
                "that the load balancer applies the new weights needs read access; allowed: a "
                "role with " + ", ".join(READ_PERMISSIONS) + ", or verifyTargetGroup: false "
                "in platform:delivery to release without the check"
            ) from None
        return TrafficCheck(
            False, f"the ELBv2 API{self._endpoint()} answered {permission} with {code}: {message}"
        )

    def _endpoint(self) -> str:
        endpoint = getattr(getattr(self._client, "meta", None), "endpoint_url", None)
        return f" at {endpoint}" if endpoint else ""


class TrafficWait(NamedTuple):
    check: TrafficCheck
    attempts: int


def wait_for_traffic(
    verifier: TrafficVerifier,
    expectation: TrafficExpectation,
    timeout_seconds: float,
    interval_seconds: float,
    clock: Clock,
) -> TrafficWait:
    """Looks until the weights are in force or ``timeout_seconds`` have passed (one last look
    at the deadline); returns the last check and how many looks it took."""
    if timeout_seconds < 0 or interval_seconds <= 0:
        raise DeployError(
            f"waiting for the load balancer: timeout {timeout_seconds}s, interval "
            f"{interval_seconds}s; allowed: a timeout of 0 or more and an interval above 0"
        )
    deadline = clock.now() + timeout_seconds
    attempts = 0
    while True:
        attempts += 1
        check = verifier.verify(expectation)
        remaining = deadline - clock.now()
        if check.in_force or remaining <= 0:
            return TrafficWait(check, attempts)
        clock.sleep(min(interval_seconds, remaining))


def _forward(
    rule_arn: str, action: Mapping[str, Any], slots: Sequence[str], slot_by_arn: Mapping[str, str]
) -> _Forward | None:
    if action.get("Type") != "forward":
        return None
    groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
        {"TargetGroupArn": action.get("TargetGroupArn", ""), "Weight": 1}
    ]
    if not any(group["TargetGroupArn"] in slot_by_arn for group in groups):
        return None
    # A slot the rule does not list receives nothing: weight 0.
    weights = _split(slots, {})
    slot_arns: dict[str, list[str]] = {}
    for group in groups:
        arn = group["TargetGroupArn"]
        key = slot_by_arn.get(arn) or _arn_name(arn)
        # A missing weight counts as 1, what the ALB reports for a lone target group.
        weights[key] = weights.get(key, 0) + int(group.get("Weight", 1))
        if arn in slot_by_arn:
            slot_arns.setdefault(key, []).append(arn)
    return _Forward(rule_arn, weights, slot_arns)


def _split(slots: Sequence[str], weights: Mapping[str, int]) -> dict[str, int]:
    return {slot: weights.get(slot, 0) for slot in slots}


def _same_shares(observed: Mapping[str, int], expected: Mapping[str, int]) -> bool:
    """ALB weights are relative: 3 / 1 sends what 75 / 25 sends."""
    observed_total = sum(observed.values())
    expected_total = sum(expected.values())
    if observed_total == 0 or expected_total == 0:
        return observed_total == expected_total
    return all(
        observed.get(key, 0) * expected_total == expected.get(key, 0) * observed_total
        for key in set(observed) | set(expected)
    )


def _describe(weights: Mapping[str, int]) -> str:
    return " / ".join(f"{name} {weight}" for name, weight in weights.items())


def _describe_health(slot: str, states: Counter[str]) -> str:
    total = sum(states.values())
    if total == 0:
        return f"no {slot} targets are registered"
    others = ", ".join(
        f"{count} {state}" for state, count in sorted(states.items()) if state != "healthy"
    )
    return f"{states['healthy']} of {total} {slot} targets healthy" + (
        f" ({others})" if others else ""
    )


def _names(names: Iterable[str]) -> str:
    return " and ".join(sorted(set(names)))


def _arn_name(arn: str) -> str:
    """``k8s-apps-chatapib-6c1d0e9f2a`` of ``...:targetgroup/k8s-apps-chatapib-6c1d0e9f2a/id``,
    and of a load balancer's ``...:loadbalancer/app/<name>/id`` its name."""
    return arn.rsplit("/", 2)[-2] if arn.count("/") >= 2 else arn
