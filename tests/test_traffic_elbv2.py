"""The ALB check against a real ELBv2 API: moto's server on loopback, asked over HTTP by boto3.

The fixture is what the AWS Load Balancer Controller builds for the Ingress group: one ALB,
an HTTP listener that redirects to HTTPS, and on the HTTPS listener one rule per route (the
live route's weighted forward between the slot target groups, the preview route's forward to
the candidate from allowed addresses only), with target groups tagged as the controller tags
them. The controller registers pod IPs; moto reports every registered IP healthy, so the slots
here hold EC2 instances, whose targets moto reports ``unused`` once the instance is stopped.
"""

from __future__ import annotations

import functools
import json
import logging
import socket
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from components.workload import SERVICE_PORT, slot_service_name
from platformctl.elbv2 import (
    CLUSTER_TAG,
    RESOURCE_TAG,
    ElbTrafficVerifier,
    wait_for_traffic,
)
from platformctl.ports import DeployError, TrafficCheck, TrafficExpectation

REGION = "eu-west-1"
CLUSTER = "platform-staging"
GROUP = "platform-staging"  # the Ingress group, and so the controller's stack
NAMESPACE = "apps"
SERVICE = "chat-api"
INGRESS = SERVICE
BLUE = slot_service_name(SERVICE, "blue")
GREEN = slot_service_name(SERVICE, "green")
OTHER_SERVICE = "billing"
PREVIEW_CIDR = "203.0.113.0/24"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    # The server logs every request, which would bury a failing test's own output.
    requests_log = logging.getLogger("werkzeug")
    level = requests_log.level
    requests_log.setLevel(logging.WARNING)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        requests_log.setLevel(level)


def moto_api(url: str, path: str, body: str = "") -> None:
    request = urllib.request.Request(
        f"{url}/moto-api/{path}",
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


@functools.cache
def aws(url: str, service: str, key: str = "testing", secret: str = "testing") -> Any:
    """A client, made once per endpoint and credentials: making one takes longer than a call.
    One attempt: a retry would only slow down the tests of unreachable endpoints."""
    config = Config(
        retries={"mode": "standard", "max_attempts": 1}, connect_timeout=2, read_timeout=10
    )
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=config,
    )


def controller_tags(resource: str, cluster: str = CLUSTER) -> list[dict[str, str]]:
    return [
        {"Key": CLUSTER_TAG, "Value": cluster},
        {"Key": "ingress.k8s.aws/stack", "Value": GROUP},
        {"Key": RESOURCE_TAG, "Value": resource},
        {"Key": "platform/stack", "Value": "staging"},
    ]


def live_forward(weights: dict[str, int], target_groups: dict[str, str]) -> dict[str, Any]:
    return {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": target_groups[slot], "Weight": weight}
                for slot, weight in weights.items()
            ],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }


def host(name: str) -> dict[str, Any]:
    return {"Field": "host-header", "HostHeaderConfig": {"Values": [name]}}


@dataclass
class Alb:
    elbv2: Any
    ec2: Any
    vpc: str
    live_rule: str
    target_groups: dict[str, str]  # slot Service to target group ARN
    instances: dict[str, list[str]] = field(default_factory=dict)

    def set_weights(self, weights: dict[str, int]) -> None:
        """What the controller does once it reconciles the Ingress's new annotation."""
        self.elbv2.modify_rule(
            RuleArn=self.live_rule, Actions=[live_forward(weights, self.target_groups)]
        )


def build_alb(url: str, *, other_services: int = 1, other_rules: int = 1) -> Alb:
    ec2 = aws(url, "ec2")
    elbv2 = aws(url, "elbv2")
    certificate = aws(url, "acm").request_certificate(
        DomainName="chat.example.com", SubjectAlternativeNames=["*.chat.example.com"]
    )["CertificateArn"]
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=REGION + zone)[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate("abc")
    ]
    group = ec2.create_security_group(GroupName="k8s-alb", Description="ALB", VpcId=vpc)["GroupId"]
    load_balancer = elbv2.create_load_balancer(
        Name="k8s-platformstaging-0f1e2d3c4b",
        Subnets=subnets,
        SecurityGroups=[group],
        Scheme="internet-facing",
        Type="application",
        Tags=controller_tags("LoadBalancer"),
    )["LoadBalancers"][0]["LoadBalancerArn"]

    def target_group(ingress: str, service: str, name: str) -> str:
        return elbv2.create_target_group(
            Name=name,
            Protocol="HTTP",
            Port=SERVICE_PORT,
            VpcId=vpc,
            TargetType="instance",
            HealthCheckPath="/ready",
            # The controller's resource id: <namespace>/<ingress>-<service>:<service port>.
            Tags=controller_tags(f"{NAMESPACE}/{ingress}-{service}:{SERVICE_PORT}"),
        )["TargetGroups"][0]["TargetGroupArn"]

    # Other services of the group come first, so a large group pushes this service's target
    # groups past the first DescribeTags batch and its rules past the first DescribeRules page.
    others = [
        target_group(
            f"{OTHER_SERVICE}{i}", f"{OTHER_SERVICE}{i}-blue", f"k8s-apps-billing{i}-{i:010x}"
        )
        for i in range(other_services)
    ]
    target_groups = {
        BLUE: target_group(INGRESS, BLUE, "k8s-apps-chatapib-6c1d0e9f2a"),
        GREEN: target_group(INGRESS, GREEN, "k8s-apps-chatapig-93a7b5c4d8"),
    }
    alb_instances: dict[str, list[str]] = {}
    for slot, arn in target_groups.items():
        reservation = ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=2, MaxCount=2, InstanceType="t3.small",
            SubnetId=subnets[0],
        )  # fmt: skip
        alb_instances[slot] = [instance["InstanceId"] for instance in reservation["Instances"]]
        elbv2.register_targets(
            TargetGroupArn=arn,
            Targets=[{"Id": i, "Port": SERVICE_PORT} for i in alb_instances[slot]],
        )

    # ssl-redirect: the HTTP listener only sends clients to HTTPS.
    elbv2.create_listener(
        LoadBalancerArn=load_balancer,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "redirect",
                "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
            }
        ],
    )
    https = elbv2.create_listener(
        LoadBalancerArn=load_balancer,
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"},
            }
        ],
    )["Listeners"][0]["ListenerArn"]
    for priority in range(1, other_rules + 1):
        elbv2.create_rule(
            ListenerArn=https,
            Priority=priority,
            Conditions=[host(f"{OTHER_SERVICE}{priority}.example.com")],
            Actions=[{"Type": "forward", "TargetGroupArn": others[priority % len(others)]}],
        )
    live_rule = elbv2.create_rule(
        ListenerArn=https,
        Priority=other_rules + 1,
        Conditions=[host("chat.example.com"), {"Field": "path-pattern", "Values": ["/*"]}],
        Actions=[live_forward({BLUE: 100, GREEN: 0}, target_groups)],
    )["Rules"][0]["RuleArn"]
    elbv2.create_rule(
        ListenerArn=https,
        Priority=other_rules + 2,
        Conditions=[
            host("preview.chat.example.com"),
            {"Field": "source-ip", "SourceIpConfig": {"Values": [PREVIEW_CIDR]}},
        ],
        Actions=[
            {
                "Type": "forward",
                "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": target_groups[GREEN]}]},
            }
        ],
    )
    return Alb(elbv2, ec2, vpc, live_rule, target_groups, alb_instances)


@pytest.fixture
def alb(moto_url: str) -> Alb:
    moto_api(moto_url, "reset")
    return build_alb(moto_url)


def expect(
    weights: dict[str, int], healthy: str | None, ingress: str = INGRESS
) -> TrafficExpectation:
    return TrafficExpectation(
        stack="staging",
        namespace=NAMESPACE,
        ingress=ingress,
        service=SERVICE,
        weights=weights,
        healthy_slot_service=healthy,
    )


CANARY = expect({BLUE: 75, GREEN: 25}, healthy=GREEN)


class FakeClock:
    """Time passes only in ``sleep``; each sleep first runs the next of ``on_sleep``."""

    def __init__(self, on_sleep: list[Callable[[], None]] | None = None) -> None:
        self.time = 1_000.0
        self.slept: list[float] = []
        self._on_sleep = list(on_sleep or [])

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float) -> None:
        if self._on_sleep:
            self._on_sleep.pop(0)()
        self.slept.append(seconds)
        self.time += seconds


def test_weights_the_alb_applies_are_confirmed(alb: Alb) -> None:
    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(expect({BLUE: 100, GREEN: 0}, BLUE))

    assert check.in_force
    assert check.observed == {BLUE: 100, GREEN: 0}
    assert check.reason == (
        f"listener rule {alb.live_rule} forwards {BLUE} 100 / {GREEN} 0; "
        f"2 of 2 {BLUE} targets healthy"
    )


def test_a_rule_still_at_the_old_weights_is_not_in_force(alb: Alb) -> None:
    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(CANARY)

    assert not check.in_force
    assert check.observed == {BLUE: 100, GREEN: 0}
    assert check.reason == (
        f"listener rule {alb.live_rule} forwards {BLUE} 100 / {GREEN} 0, "
        f"not the expected {BLUE} 75 / {GREEN} 25"
    )


def test_waiting_confirms_the_weights_once_the_controller_catches_up(alb: Alb) -> None:
    clock = FakeClock(on_sleep=[lambda: alb.set_weights({BLUE: 75, GREEN: 25})])

    check, attempts = wait_for_traffic(ElbTrafficVerifier(alb.elbv2, CLUSTER), CANARY, 60, 5, clock)

    assert check.in_force, check.reason
    assert attempts == 2
    assert clock.slept == [5]
    assert check.observed == {BLUE: 75, GREEN: 25}
    assert check.reason.endswith(f"forwards {BLUE} 75 / {GREEN} 25; 2 of 2 {GREEN} targets healthy")


def test_waiting_gives_up_at_the_timeout_with_the_last_reason(alb: Alb) -> None:
    clock = FakeClock()

    check, attempts = wait_for_traffic(ElbTrafficVerifier(alb.elbv2, CLUSTER), CANARY, 12, 5, clock)

    assert not check.in_force
    assert "not the expected" in check.reason
    # Looks at 0, 5, 10 and, the last one, at the deadline.
    assert (attempts, clock.slept) == (4, [5, 5, 2])


def test_the_shares_count_not_the_numbers(alb: Alb) -> None:
    alb.set_weights({BLUE: 3, GREEN: 1})

    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(CANARY)

    assert check.in_force, check.reason
    assert check.observed == {BLUE: 3, GREEN: 1}


def test_a_slot_at_weight_zero_may_be_left_out_of_the_rule(alb: Alb) -> None:
    alb.set_weights({GREEN: 100})

    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(expect({BLUE: 0, GREEN: 100}, GREEN))

    assert check.in_force, check.reason
    assert check.observed == {BLUE: 0, GREEN: 100}


def test_the_preview_route_is_not_taken_for_the_live_route(alb: Alb) -> None:
    # Until the controller writes the live rule, only the preview route reaches the slots; it
    # sends its visitors to the candidate alone, which is not a completed switch.
    alb.elbv2.delete_rule(RuleArn=alb.live_rule)

    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(expect({BLUE: 0, GREEN: 100}, GREEN))

    assert not check.in_force
    assert check.reason == (
        f"no listener rule of load balancer k8s-platformstaging-0f1e2d3c4b forwards to {BLUE} and "
        f"{GREEN} outside the preview route yet"
    )


def test_a_slot_whose_targets_are_all_down_is_not_in_force(alb: Alb) -> None:
    alb.set_weights({BLUE: 75, GREEN: 25})
    alb.ec2.stop_instances(InstanceIds=alb.instances[GREEN])

    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(CANARY)

    assert not check.in_force
    assert check.observed == {BLUE: 75, GREEN: 25}
    assert check.reason.endswith(f"; 0 of 2 {GREEN} targets healthy (2 unused)")


def test_one_healthy_target_is_enough(alb: Alb) -> None:
    alb.set_weights({BLUE: 75, GREEN: 25})
    alb.ec2.stop_instances(InstanceIds=alb.instances[GREEN][:1])

    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(CANARY)

    assert check.in_force, check.reason
    assert check.reason.endswith(f"; 1 of 2 {GREEN} targets healthy (1 unused)")


def test_a_slot_with_no_registered_targets_is_not_in_force(alb: Alb) -> None:
    alb.set_weights({BLUE: 75, GREEN: 25})
    alb.elbv2.deregister_targets(
        TargetGroupArn=alb.target_groups[GREEN],
        Targets=[{"Id": i, "Port": SERVICE_PORT} for i in alb.instances[GREEN]],
    )

    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(CANARY)

    assert not check.in_force
    assert check.reason.endswith(f"; no {GREEN} targets are registered")


def test_a_target_group_the_controller_has_not_created_is_not_in_force(alb: Alb) -> None:
    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(
        expect({BLUE: 75, GREEN: 25}, GREEN, ingress="chat-api-v2")
    )

    assert not check.in_force
    assert check.observed == {}
    assert check.reason == (
        f"no target group tagged {CLUSTER_TAG}={CLUSTER} and "
        f"{RESOURCE_TAG}=apps/chat-api-v2-{BLUE}:80 or {RESOURCE_TAG}=apps/chat-api-v2-{GREEN}:80"
        " yet: the load balancer controller has not created them"
    )


def test_target_groups_no_rule_uses_yet_are_not_in_force(alb: Alb) -> None:
    # The controller creates a new Ingress's target groups before its listener rules.
    for slot in ("blue", "green"):
        service = slot_service_name("reports", slot)
        alb.elbv2.create_target_group(
            Name=f"k8s-apps-reports{slot[0]}-{slot:0>10}",
            Protocol="HTTP",
            Port=SERVICE_PORT,
            VpcId=alb.vpc,
            TargetType="instance",
            Tags=controller_tags(f"{NAMESPACE}/reports-{service}:{SERVICE_PORT}"),
        )
    reports = {slot_service_name("reports", "blue"): 100, slot_service_name("reports", "green"): 0}

    check = ElbTrafficVerifier(alb.elbv2, CLUSTER).verify(
        expect(reports, slot_service_name("reports", "blue"), ingress="reports")
    )

    assert not check.in_force
    assert check.reason == (
        "the target groups of reports-blue and reports-green are not attached to a load "
        "balancer yet"
    )


def test_target_groups_of_another_cluster_are_not_this_clusters(alb: Alb) -> None:
    check = ElbTrafficVerifier(alb.elbv2, "platform-prod").verify(CANARY)

    assert not check.in_force
    assert check.reason.startswith(f"no target group tagged {CLUSTER_TAG}=platform-prod and ")


def test_the_rule_is_found_among_many_services(moto_url: str) -> None:
    moto_api(moto_url, "reset")
    # Past the first DescribeTags batch (20) and the first DescribeRules page (moto's 50).
    busy = build_alb(moto_url, other_services=25, other_rules=60)
    busy.set_weights({BLUE: 75, GREEN: 25})

    check = ElbTrafficVerifier(busy.elbv2, CLUSTER).verify(CANARY)

    assert check.in_force, check.reason
    assert busy.live_rule in check.reason


def test_an_unreachable_endpoint_is_not_in_force_and_named() -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    check = ElbTrafficVerifier(aws(closed, "elbv2"), CLUSTER).verify(CANARY)

    assert not check.in_force
    assert check.reason.startswith(f"could not ask the ELBv2 API at {closed}: ")
    assert "EndpointConnectionError" in check.reason


def test_throttling_is_not_in_force_and_named() -> None:
    client = aws("http://127.0.0.1:9", "elbv2")
    stubber = Stubber(client)
    stubber.add_client_error(
        "describe_target_groups", service_error_code="Throttling", service_message="Rate exceeded"
    )

    with stubber:
        check = ElbTrafficVerifier(client, CLUSTER).verify(CANARY)

    assert not check.in_force
    assert check.reason == (
        "the ELBv2 API at http://127.0.0.1:9 answered elasticloadbalancing:DescribeTargetGroups "
        "with Throttling: Rate exceeded"
    )


def test_a_denied_permission_stops_the_release_naming_it(moto_url: str, alb: Alb) -> None:
    iam = aws(moto_url, "iam")
    iam.create_user(UserName="release-driver")
    iam.put_user_policy(
        UserName="release-driver",
        PolicyName="read-load-balancers",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "elasticloadbalancing:Describe*",
                        "Resource": "*",
                    },
                    {
                        "Effect": "Deny",
                        "Action": "elasticloadbalancing:DescribeRules",
                        "Resource": "*",
                    },
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="release-driver")["AccessKey"]
    driver = aws(moto_url, "elbv2", key["AccessKeyId"], key["SecretAccessKey"])
    moto_api(moto_url, "reset-auth", "0")  # every later request is signed and authorized
    try:
        with pytest.raises(DeployError) as denied:
            ElbTrafficVerifier(driver, CLUSTER).verify(CANARY)
    finally:
        moto_api(moto_url, "reset-auth", "inf")

    message = str(denied.value)
    assert message.startswith("AWS denied elasticloadbalancing:DescribeRules to the release driver")
    assert "allowed: a role with elasticloadbalancing:DescribeTargetGroups" in message
    assert denied.value.__suppress_context__


class NeverAsked:
    def verify(self, expectation: TrafficExpectation) -> TrafficCheck:
        raise AssertionError("the load balancer was asked")


def test_a_wait_without_an_interval_is_refused_before_asking() -> None:
    with pytest.raises(DeployError) as refused:
        wait_for_traffic(NeverAsked(), CANARY, 60, 0, FakeClock())

    assert str(refused.value) == (
        "waiting for the load balancer: timeout 60s, interval 0s; allowed: a timeout of 0 or "
        "more and an interval above 0"
    )
