"""Bad cluster and release settings are refused before anything is registered, each with the
key, the value and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from offline_preview.engine import ProgramError, run_preview
from tests.conftest import REPOSITORY, stack_setting
from tests.test_config import BASE, problems_for, settings_with


def app_with(stack: str = "staging", **release: Any) -> dict[str, Any]:
    app = copy.deepcopy(BASE["platform:app"])
    app["services"][0]["release"].update(release)
    return app


def cluster_with(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BASE["platform:cluster"]), **changes}


def only_problem(config: dict[str, Any], stack: str = "staging") -> str:
    [problem] = problems_for(config, stack)
    return problem


@pytest.mark.parametrize("weight", [-1, 101])
def test_a_weight_outside_0_to_100_is_refused(weight):
    problem = only_problem(settings_with(platform__app=app_with(candidateWeight=weight)))
    assert problem.startswith(f"platform:app.services[0].release.candidateWeight = {weight}:")
    assert "allowed: 0 to 100" in problem


def test_traffic_to_a_slot_without_an_image_is_refused():
    problem = only_problem(settings_with(platform__app=app_with(candidateWeight=10)))
    assert problem.startswith("platform:app.services[0].release.candidateWeight = 10:")
    assert "candidate slot (green) has no image" in problem
    assert "platform:app.services[0].release.green.image" in problem


def test_traffic_to_a_scaled_down_candidate_is_refused():
    app = app_with(candidateWeight=5, green={"image": "1.5.0", "scaledDown": True})
    problem = only_problem(settings_with(platform__app=app))
    assert "candidate slot (green) is scaled down" in problem


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_latest_is_refused_outside_dev(stack):
    app = app_with(blue={"image": "latest", "replicas": 2})
    problems = problems_for(
        settings_with(platform__app=app, platform__environment=stack), stack=stack
    )
    [problem] = [p for p in problems if "release.blue.image" in p]
    assert problem.startswith('platform:app.services[0].release.blue.image = "latest":')
    assert "allowed: a version tag or a digest" in problem


def test_latest_is_accepted_in_dev():
    config = settings_with(
        platform__environment="dev",
        platform__app=app_with(blue={"image": "latest"}),
    )
    from infra.config import parse_settings

    settings = parse_settings(config, project="platform", stack="dev", source="Pulumi.dev.yaml")
    assert settings.platform.app.services[0].release.blue.image == "latest"


@pytest.mark.parametrize(
    ("image", "hint"),
    [
        ("", "untagged"),
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/chat-api:1.4.2", "full image reference"),
        ("chat-api:1.4.2", "full image reference"),
        ("1.4.2@sha256:abc", "allowed: a tag"),
    ],
)
def test_untagged_or_malformed_images_are_refused(image, hint):
    problem = only_problem(settings_with(platform__app=app_with(blue={"image": image})))
    assert problem.startswith("platform:app.services[0].release.blue.image = ")
    assert hint in problem


def test_the_live_slot_may_not_be_scaled_down():
    problem = only_problem(
        settings_with(platform__app=app_with(blue={"image": "1.4.2", "scaledDown": True}))
    )
    assert problem.startswith("platform:app.services[0].release.blue.scaledDown = true:")
    assert "only the idle slot may be scaled down" in problem


def test_the_live_slot_needs_an_image():
    problem = only_problem(settings_with(platform__app=app_with(live="green")))
    assert problem.startswith("platform:app.services[0].release.green.image:")


def test_an_unknown_strategy_lists_the_known_ones():
    problem = only_problem(settings_with(platform__app=app_with(strategy="rolling")))
    assert problem == (
        'platform:app.services[0].release.strategy = "rolling": unknown strategy; '
        "allowed: canary, blue-green"
    )


def test_blue_green_does_not_take_a_weight():
    app = app_with(strategy="blue-green", candidateWeight=20, green={"image": "1.5.0"})
    problem = only_problem(settings_with(platform__app=app))
    assert "blue-green moves all traffic at once" in problem


@pytest.mark.parametrize(("attribute", "value"), [("name", "chat-api"), ("port", 8080)])
def test_services_may_not_repeat_a_name_or_port(attribute, value):
    app = copy.deepcopy(BASE["platform:app"])
    second = {**copy.deepcopy(app["services"][0]), "name": "chat-two", "port": 9090, "path": "/two"}
    second[attribute] = value
    app["services"].append(second)
    problem = only_problem(settings_with(platform__app=app))
    assert problem.startswith("platform:app.services = ")
    assert f"services repeat {attribute} {value}" in problem


def test_a_service_must_use_a_repository_of_the_stack():
    app = copy.deepcopy(BASE["platform:app"])
    app["services"][0]["repository"] = "chat-worker"
    problem = only_problem(settings_with(platform__app=app))
    assert problem.startswith('platform:app.services[0].repository = "chat-worker":')
    assert "allowed (platform:registry.repositories): chat-api" in problem


def test_credentials_may_not_be_put_in_plain_env():
    app = copy.deepcopy(BASE["platform:app"])
    app["services"][0]["env"] = {"OPENAI_API_KEY": "sk-123"}
    problem = only_problem(settings_with(platform__app=app))
    assert problem.startswith("platform:app.services[0].env = ")
    assert "looks like a credential" in problem
    assert "sk-123" not in problem.split(":", 1)[1].split("looks like")[1]


def test_requests_above_limits_are_refused():
    app = copy.deepcopy(BASE["platform:app"])
    app["services"][0]["resources"] = {"cpuRequest": "2", "cpuLimit": "500m"}
    problem = only_problem(settings_with(platform__app=app))
    assert problem.startswith('platform:app.services[0].resources.cpuRequest = "2":')


def test_the_public_api_endpoint_may_be_open_to_all_only_in_dev():
    open_to_all = cluster_with(publicAccessCidrs=["0.0.0.0/0"])
    problem = only_problem(settings_with(platform__cluster=open_to_all))
    assert problem.startswith('platform:cluster.publicAccessCidrs = ["0.0.0.0/0"]:')
    assert "whole internet" in problem
    dev = settings_with(platform__cluster=open_to_all, platform__environment="dev")
    from infra.config import parse_settings

    parse_settings(dev, project="platform", stack="dev", source="Pulumi.dev.yaml")


def test_prod_keeps_the_api_endpoint_private():
    config = settings_with(
        platform__environment="prod",
        platform__cluster=cluster_with(publicAccessCidrs=["198.51.100.0/24"]),
    )
    problems = problems_for(config, stack="prod")
    assert any(
        p.startswith('platform:cluster.publicAccessCidrs = ["198.51.100.0/24"]: prod')
        for p in problems
    )


@pytest.mark.parametrize(
    ("change", "key", "hint"),
    [
        (
            {"kubernetesVersion": "1.29"},
            "kubernetesVersion",
            "allowed (EKS standard support, infra/settings/versions.yaml): 1.35, 1.36",
        ),
        (
            {"addons": {**BASE["platform:cluster"]["addons"], "kubeProxy": "v1.36.0-eksbuild.14"}},
            "addons.kubeProxy",
            "build is for Kubernetes 1.36, not the cluster's 1.35; allowed for 1.35: "
            "v1.35.3-eksbuild.13",
        ),
        ({"metadataHopLimit": 3}, "metadataHopLimit", "allowed: 1 to 2"),
        ({"nodeGroups": []}, "nodeGroups", "at least one node group"),
    ],
)
def test_bad_cluster_settings_are_refused(change, key, hint):
    problem = only_problem(settings_with(platform__cluster=cluster_with(**change)))
    assert problem.startswith(f"platform:cluster.{key}")
    assert hint in problem


def test_node_group_sizes_must_be_ordered():
    group = {**BASE["platform:cluster"]["nodeGroups"][0], "minSize": 3, "desiredSize": 2}
    problem = only_problem(settings_with(platform__cluster=cluster_with(nodeGroups=[group])))
    assert problem.startswith("platform:cluster.nodeGroups[0] = ")
    assert "minSize <= desiredSize <= maxSize" in problem


def test_a_bad_release_registers_nothing_but_the_stack():
    app = stack_setting("staging", "platform:app")
    app["services"][0]["release"]["candidateWeight"] = 150
    with pytest.raises(ProgramError) as error:
        run_preview(REPOSITORY, "staging", config_overrides={"platform:app": app})
    assert "platform:app.services[0].release.candidateWeight = 150" in str(error.value)
    assert [r.type for r in error.value.registered] == ["pulumi:pulumi:Stack"]


@pytest.mark.parametrize(
    ("cidrs", "hint"),
    [
        ([], "allowed: 1 to 2 CIDRs"),
        (["198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24"], "allowed: 1 to 2 CIDRs"),
        (["10.0.0.0/8"], "the internet-facing ALB sees clients' public addresses"),
    ],
)
def test_preview_access_needs_one_or_two_public_ranges(cidrs, hint):
    app = {**copy.deepcopy(BASE["platform:app"]), "previewAllowedCidrs": cidrs}
    problem = only_problem(settings_with(platform__app=app))
    assert problem.startswith("platform:app.previewAllowedCidrs = ")
    assert hint in problem


@pytest.mark.parametrize("name", ["default", "kube-system", "platform-edge"])
def test_a_service_may_not_take_a_namespace_the_cluster_or_the_platform_already_has(name):
    app = copy.deepcopy(BASE["platform:app"])
    app["services"][0]["name"] = name
    problem = only_problem(settings_with(platform__app=app))
    assert problem.startswith(f'platform:app.services[0].name = "{name}":')
    assert "namespace the cluster or the platform already uses" in problem


@pytest.mark.parametrize("tag", ["a" * 64, "_build", "1.4.2-"])
def test_tags_that_cannot_be_a_version_label_are_refused(tag):
    problem = only_problem(settings_with(platform__app=app_with(blue={"image": tag})))
    assert problem.startswith("platform:app.services[0].release.blue.image = ")
    assert "up to 63 letters" in problem


def test_a_certificate_from_another_region_is_refused():
    app = copy.deepcopy(BASE["platform:app"])
    app["certificateArn"] = app["certificateArn"].replace("us-east-1", "eu-west-1")
    problem = only_problem(settings_with(platform__app=app))
    assert problem.startswith("platform:app.certificateArn = ")
    assert "is in eu-west-1, but an ALB in us-east-1" in problem


def test_a_cluster_nobody_can_reach_is_refused():
    cluster = cluster_with(publicAccessCidrs=[], privateAccessCidrs=[])
    problem = only_problem(settings_with(platform__cluster=cluster))
    assert problem.startswith("platform:cluster.privateAccessCidrs = []: ")
    assert "no platform:ciRunner nothing can reach the API" in problem


def test_graviton_families_including_a1_get_the_arm_image():
    from infra.settings.cluster import instance_architecture

    assert [instance_architecture(t) for t in ("a1.large", "m7g.large", "c7gn.xlarge")] == [
        "arm64"
    ] * 3
    assert [instance_architecture(t) for t in ("m6i.large", "t3a.large", "g5.xlarge")] == [
        "x86_64"
    ] * 3
