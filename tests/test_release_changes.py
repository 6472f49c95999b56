"""A release is a config change plus `pulumi up`: each step, computed as the difference
between two offline previews, touches only the service's Ingress (and, when the old slot is
scaled down, that slot's Deployment, autoscaler and disruption budget)."""

from __future__ import annotations

from offline_preview.diff import diff_previews
from tests.conftest import preview, stack_setting
from tests.test_app import with_release

INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
STATEFUL = ("aws:eks/", "aws:rds/", "aws:elasticache/", "aws:ec2/", "aws:kms/")


def release_step(stack: str, before: dict, after: dict):
    old = preview(stack, platform__app=with_release(stack, 0, **before))
    new = preview(stack, platform__app=with_release(stack, 0, **after))
    return diff_previews(old, new)


def test_a_canary_step_changes_only_the_services_ingress():
    diff = release_step("staging", {"candidateWeight": 10}, {"candidateWeight": 25})
    assert not diff.created and not diff.deleted
    [change] = diff.updated
    assert (change.type, change.name) == (INGRESS, "chat-api-ingress")
    assert change.changed_inputs == ("metadata",)


def test_a_blue_green_switch_changes_only_the_services_ingress():
    diff = release_step(
        "staging",
        {"live": "blue", "strategy": "blue-green"},
        {"live": "green", "strategy": "blue-green"},
    )
    assert not diff.created and not diff.deleted
    assert [(c.type, c.name) for c in diff.updated] == [(INGRESS, "chat-api-ingress")]


def test_scaling_down_the_old_slot_touches_only_that_slots_workload():
    switched = {"live": "green", "green": {"image": "1.5.0"}}
    diff = release_step(
        "staging",
        {**switched, "blue": {"image": "1.4.2"}},
        {**switched, "blue": {"image": "1.4.2", "scaledDown": True}},
    )
    assert [c.name for c in diff.updated] == ["chat-api-blue"]
    assert diff.updated[0].changed_inputs == ("spec",)
    deleted_names = sorted(urn.rsplit("::", 1)[-1] for urn in diff.deleted)
    assert deleted_names == ["chat-api-blue-hpa", "chat-api-blue-pdb"]
    assert not diff.created


def test_no_release_step_reaches_the_cluster_database_cache_or_network():
    candidate = {"green": {"image": "1.5.0@sha256:" + "d" * 64, "replicas": 3}}
    steps = [
        release_step("prod", {}, candidate),
        release_step("staging", {"candidateWeight": 5}, {"candidateWeight": 50}),
        release_step("staging", {"live": "blue"}, {"live": "green"}),
    ]
    for diff in steps:
        assert diff.touched
        assert not [urn for urn in diff.touched if any(f"::{t}" in urn for t in STATEFUL)]
        assert all("platform:components:App$" in urn for urn in diff.touched)


def test_deploying_a_candidate_creates_its_workload_without_moving_traffic():
    diff = release_step(
        "prod",
        {},
        {"green": {"image": "1.5.0@sha256:" + "d" * 64, "replicas": 3}},
    )
    created = sorted(urn.rsplit("::", 1)[-1] for urn in diff.created)
    assert created == ["chat-api-green", "chat-api-green-hpa", "chat-api-green-pdb"]
    # The Ingress is untouched: weight 0 keeps every request on blue.
    assert not diff.updated and not diff.deleted


def test_turning_the_albs_deletion_protection_off_changes_only_the_anchor_ingress():
    # The first of the two ups that remove or rename the ALB group (docs/first-deploy.md).
    app = dict(stack_setting("prod", "platform:app"), loadBalancerDeletionProtection=False)
    diff = diff_previews(preview("prod"), preview("prod", platform__app=app))
    assert not diff.created and not diff.deleted
    [change] = diff.updated
    assert (change.type, change.name, change.changed_inputs) == (
        INGRESS, "edge-ingress", ("metadata",),
    )  # fmt: skip


def test_removing_a_service_deletes_its_objects_and_no_protected_ingress():
    app = stack_setting("prod", "platform:app")
    app["services"] = [s for s in app["services"] if s["name"] != "chat-web"]
    diff = diff_previews(preview("prod"), preview("prod", platform__app=app))
    deleted = [urn.rsplit("::", 1)[-1] for urn in diff.deleted]
    assert "chat-web-ingress" in deleted and "edge-ingress" not in deleted
    before = {r.urn: r for r in preview("prod").of_type(INGRESS)}
    for urn in diff.deleted:
        if urn in before:
            attributes = before[urn].inputs["metadata"]["annotations"][
                "alb.ingress.kubernetes.io/load-balancer-attributes"
            ]
            # The controller would refuse to delete it, and the up would hang.
            assert "deletion_protection" not in attributes
