"""The app's services as each stack registers them: two slots per service, a weighted ALB
rule in front, a preview route to the idle slot, and a locked-down pod and namespace."""

from __future__ import annotations

import json

import pytest

from platform_common.pulumi_values import reveal
from tests.conftest import preview, stack_setting
from tests.fleet import fleet

APP = "platform:components:App"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
PDB = "kubernetes:policy/v1:PodDisruptionBudget"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ALB = "alb.ingress.kubernetes.io"
DIGEST = "sha256:" + "c" * 64


def objects(result, type_token, namespace=None):
    found = [r for r in result.of_type(type_token)]
    if namespace is not None:
        found = [r for r in found if r.inputs["metadata"]["namespace"] == namespace]
    return {r.inputs["metadata"]["name"]: r for r in found}


def annotations(result, service):
    return objects(result, INGRESS, service)[service].inputs["metadata"]["annotations"]


def forward_weights(result, service):
    action = json.loads(annotations(result, service)[f"{ALB}/actions.live"])
    # A number: the controller reads a string as a port *name*, and the port is named http.
    assert {g["servicePort"] for g in action["forwardConfig"]["targetGroups"]} == {80}
    return {
        group["serviceName"]: group["weight"] for group in action["forwardConfig"]["targetGroups"]
    }


def preview_target(result, service):
    action = json.loads(annotations(result, service)[f"{ALB}/actions.preview"])
    return [g["serviceName"] for g in action["forwardConfig"]["targetGroups"]]


def with_release(stack, service_index, **release):
    """The stack's app settings with one service's release block changed."""
    app = stack_setting(stack, "platform:app")
    services = [dict(s) for s in app["services"]]
    services[service_index] = {
        **services[service_index],
        "release": {**services[service_index]["release"], **release},
    }
    return {**app, "services": services}


@pytest.mark.parametrize(
    ("stack", "service", "deployments", "autoscaled"),
    [
        ("dev", "chat-api", {"chat-api-blue"}, {"chat-api-blue"}),
        (
            "staging",
            "chat-api",
            {"chat-api-blue", "chat-api-green"},
            {"chat-api-blue", "chat-api-green"},
        ),
        ("staging", "chat-web", {"chat-web-blue"}, {"chat-web-blue"}),
        ("prod", "chat-api", {"chat-api-blue"}, {"chat-api-blue"}),
    ],
)
def test_each_slot_gets_a_service_and_running_slots_get_deployment_hpa_and_pdb(
    stack, service, deployments, autoscaled
):
    result = preview(stack)
    assert set(objects(result, SERVICE, service)) == {f"{service}-blue", f"{service}-green"}
    assert set(objects(result, DEPLOYMENT, service)) == deployments
    assert set(objects(result, HPA, service)) == autoscaled
    assert set(objects(result, PDB, service)) == autoscaled


def test_slot_services_select_their_slots_pods_by_ip_behind_the_alb(stack_preview):
    for name, service in objects(stack_preview, SERVICE).items():
        app, slot = name.rsplit("-", 1)
        assert service.inputs["spec"]["selector"] == {"app": app, "slot": slot}
        assert service.inputs["spec"]["ports"] == [
            {"name": "http", "port": 80, "targetPort": "http"}
        ]
    for service in ("chat-api", "chat-web"):
        assert annotations(stack_preview, service)[f"{ALB}/target-type"] == "ip"


def test_deployments_run_the_slots_image_with_app_slot_and_version_labels():
    result = preview("prod")
    repository = result.outputs["repositoryUrls"]["chat-api"]
    deployment = objects(result, DEPLOYMENT, "chat-api")["chat-api-blue"]
    template = deployment.inputs["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": "chat-api", "slot": "blue", "version": "1.4.2"}
    [container] = template["spec"]["containers"]
    assert container["image"] == f"{repository}:1.4.2@sha256:{'a' * 64}"
    assert deployment.inputs["spec"]["selector"] == {
        "matchLabels": {"app": "chat-api", "slot": "blue"}
    }


def test_a_digest_only_image_is_pulled_by_digest_and_labelled_by_its_prefix():
    app = with_release("staging", 0, green={"image": DIGEST})
    result = preview("staging", platform__app=app)
    green = objects(result, DEPLOYMENT, "chat-api")["chat-api-green"]
    template = green.inputs["spec"]["template"]
    assert template["spec"]["containers"][0]["image"].endswith(
        f"/platform-staging/chat-api@{DIGEST}"
    )
    assert template["metadata"]["labels"]["version"] == "sha256-cccccccccccc"


def test_running_slots_leave_the_count_to_the_autoscaler_and_scaled_down_slots_run_none():
    app = with_release("staging", 0, green={"image": "1.5.0", "scaledDown": True})
    result = preview("staging", platform__app=app)
    deployments = objects(result, DEPLOYMENT, "chat-api")
    assert "replicas" not in deployments["chat-api-blue"].inputs["spec"]
    assert deployments["chat-api-green"].inputs["spec"]["replicas"] == 0
    assert set(objects(result, HPA, "chat-api")) == {"chat-api-blue"}
    hpa = objects(result, HPA, "chat-api")["chat-api-blue"].inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "chat-api-blue",
    }
    assert hpa["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 70,
    }
    pdb = objects(result, PDB, "chat-api")["chat-api-blue"].inputs["spec"]
    assert pdb == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app": "chat-api", "slot": "blue"}},
    }


@pytest.mark.parametrize(("weight", "expected"), [(0, (100, 0)), (10, (90, 10)), (100, (0, 100))])
def test_ingress_weights_split_traffic_between_live_and_candidate_as_configured(weight, expected):
    result = preview("staging", platform__app=with_release("staging", 0, candidateWeight=weight))
    assert forward_weights(result, "chat-api") == {
        "chat-api-blue": expected[0],
        "chat-api-green": expected[1],
    }
    assert result.outputs["releases"]["chat-api"]["weights"] == {
        "blue": expected[0],
        "green": expected[1],
    }


def test_when_green_is_live_it_gets_the_live_share_and_blue_becomes_the_candidate():
    app = with_release("staging", 0, live="green", candidateWeight=25)
    result = preview("staging", platform__app=app)
    assert forward_weights(result, "chat-api") == {"chat-api-blue": 25, "chat-api-green": 75}
    assert preview_target(result, "chat-api") == ["chat-api-blue"]
    assert result.outputs["releases"]["chat-api"] == {
        "live": "green",
        "strategy": "canary",
        "weights": {"blue": 25, "green": 75},
        "images": {"blue": "1.4.2", "green": "1.5.0"},
    }


def test_the_preview_route_reaches_only_the_idle_slot_from_allowed_addresses(stack_preview):
    for service in ("chat-api", "chat-web"):
        notes = annotations(stack_preview, service)
        assert preview_target(stack_preview, service) == [f"{service}-green"]
        [condition] = json.loads(notes[f"{ALB}/conditions.preview"])
        allowed = stack_setting(stack_preview.stack, "platform:app")["previewAllowedCidrs"]
        assert condition == {"field": "source-ip", "sourceIpConfig": {"values": allowed}}
        ingress = objects(stack_preview, INGRESS, service)[service]
        rules = {r["host"]: r["http"]["paths"][0] for r in ingress.inputs["spec"]["rules"]}
        host = f"chat.{stack_preview.stack}.example.com".replace(".prod", "")
        assert rules[host]["backend"]["service"] == {
            "name": "live",
            "port": {"name": "use-annotation"},
        }
        assert rules[f"preview.{host}"]["backend"]["service"]["name"] == "preview"


def test_the_ingress_is_an_internet_facing_https_alb_behind_the_stacks_waf(stack_preview):
    certificate = {
        "dev": "0e6f1c2a-7b1d-4c55-9a0e-2f9d8c7b6a51",
        "staging": "5b2d7e10-3c4f-4a8b-8d21-6e0f9a1c2b34",
        "prod": "9c8b7a65-4d3e-4f21-b0a9-8e7d6c5b4a32",
    }[stack_preview.stack]
    for service in ("chat-api", "chat-web"):
        ingress = objects(stack_preview, INGRESS, service)[service]
        notes = ingress.inputs["metadata"]["annotations"]
        assert ingress.inputs["spec"]["ingressClassName"] == "alb"
        assert notes[f"{ALB}/scheme"] == "internet-facing"
        assert notes[f"{ALB}/wafv2-acl-arn"] == stack_preview.outputs["webAclArn"]
        assert notes[f"{ALB}/certificate-arn"].endswith(f"certificate/{certificate}")
        assert json.loads(notes[f"{ALB}/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
        assert notes[f"{ALB}/ssl-redirect"] == "443"
        assert notes[f"{ALB}/ssl-policy"].startswith("ELBSecurityPolicy-TLS13")
        assert notes[f"{ALB}/healthcheck-path"] == "/readyz"
        assert notes[f"{ALB}/group.name"] == f"platform-{stack_preview.stack}"
        # A service's Ingress never carries deletion protection: the controller would refuse
        # to delete it, and removing the service would hang on its finalizer.
        assert "deletion_protection" not in notes[f"{ALB}/load-balancer-attributes"]


def test_the_groups_anchor_ingress_holds_deletion_protection_and_answers_404(stack_preview):
    [anchor] = objects(stack_preview, INGRESS, "platform-edge").values()
    notes = anchor.inputs["metadata"]["annotations"]
    assert notes[f"{ALB}/group.name"] == f"platform-{stack_preview.stack}"
    attributes = dict(
        pair.split("=", 1) for pair in notes[f"{ALB}/load-balancer-attributes"].split(",")
    )
    protected = "true" if stack_preview.stack == "prod" else "false"
    assert attributes["deletion_protection.enabled"] == protected
    # Every other attribute agrees with the services' Ingresses: one ALB, no conflict.
    service_notes = annotations(stack_preview, "chat-api")
    shared = dict(
        pair.split("=", 1) for pair in service_notes[f"{ALB}/load-balancer-attributes"].split(",")
    )
    assert {k: v for k, v in attributes.items() if k in shared} == shared
    for key in ("scheme", "listen-ports", "ssl-redirect", "certificate-arn", "ssl-policy",
                "wafv2-acl-arn", "tags"):  # fmt: skip
        assert notes[f"{ALB}/{key}"] == service_notes[f"{ALB}/{key}"]
    assert anchor.inputs["spec"]["defaultBackend"] == {
        "service": {"name": "not-found", "port": {"name": "use-annotation"}}
    }
    assert json.loads(notes[f"{ALB}/actions.not-found"])["fixedResponseConfig"]["statusCode"] == (
        "404"
    )


def test_the_anchors_protection_follows_its_setting():
    app = dict(stack_setting("prod", "platform:app"), loadBalancerDeletionProtection=False)
    result = preview("prod", platform__app=app)
    [anchor] = objects(result, INGRESS, "platform-edge").values()
    attributes = anchor.inputs["metadata"]["annotations"][f"{ALB}/load-balancer-attributes"]
    assert "deletion_protection.enabled=false" in attributes


def test_deployments_are_created_after_their_ingress_so_pods_get_the_alb_readiness_gate(
    stack_preview,
):
    for service in ("chat-api", "chat-web"):
        ingress = objects(stack_preview, INGRESS, service)[service]
        services = objects(stack_preview, SERVICE, service)
        # The Ingress's actions name both slot Services: they exist before it.
        assert {s.urn for s in services.values()} <= set(ingress.options["dependsOn"])
        deployments = objects(stack_preview, DEPLOYMENT, service)
        assert deployments
        for deployment in deployments.values():
            assert ingress.urn in deployment.options["dependsOn"]


def test_longer_paths_are_matched_before_the_catch_all(stack_preview):
    orders = {
        s: int(annotations(stack_preview, s)[f"{ALB}/group.order"])
        for s in ("chat-api", "chat-web")
    }
    assert orders["chat-api"] < orders["chat-web"]  # /api before /


def test_every_pod_runs_restricted(stack_preview):
    deployments = stack_preview.of_type(DEPLOYMENT)
    assert deployments
    for deployment in deployments:
        pod = deployment.inputs["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(pod)
        assert all("hostPath" not in volume for volume in pod["volumes"])
        zones = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
        assert "topology.kubernetes.io/zone" in zones
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}
            assert set(container["resources"]) == {"requests", "limits"}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert container[probe]["httpGet"]["port"] == "http"


def test_namespaces_enforce_pod_security_restricted(stack_preview):
    namespaces = objects(stack_preview, "kubernetes:core/v1:Namespace")
    assert set(namespaces) == {"chat-api", "chat-web", "platform-edge", "platform-observability"}
    for namespace in namespaces.values():
        labels = namespace.inputs["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_network_policies_deny_by_default_and_open_only_what_the_service_needs(stack_preview):
    for service, store_ports in (("chat-api", [5432, 6379]), ("chat-web", [])):
        policies = objects(stack_preview, NETWORK_POLICY, service)
        assert policies["deny-all"].inputs["spec"] == {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
        }
        allow = policies[service].inputs["spec"]
        [ingress] = allow["ingress"]
        assert ingress["from"] == [{"ipBlock": {"cidr": stack_preview.outputs["vpcCidr"]}}]
        port = {"chat-api": 8080, "chat-web": 3000}[service]
        assert ingress["ports"] == [{"protocol": "TCP", "port": port}]
        egress_ports = sorted(p["port"] for rule in allow["egress"] for p in rule["ports"])
        assert egress_ports == sorted([53, 53, 443, *store_ports])
        for rule in allow["egress"]:
            if any(p["port"] in (5432, 6379) for p in rule["ports"]):
                assert all(not peer["ipBlock"]["cidr"].startswith("0.0.0.0") for peer in rule["to"])


def test_a_services_role_connects_to_each_data_store_as_its_own_user_and_reads_no_secret():
    result = preview("staging")
    [role] = [r for r in result.of_type("aws:iam/role:Role") if r.name == "chat-api-role"]
    statement = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    host = result.outputs["oidcIssuerUrl"].removeprefix("https://")
    assert (
        statement["Condition"]["StringEquals"][f"{host}:sub"]
        == "system:serviceaccount:chat-api:chat-api"
    )
    [policy] = [
        p for p in result.of_type("aws:iam/rolePolicy:RolePolicy") if p.inputs["role"] == role.id
    ]
    database, connect = json.loads(policy.inputs["policy"])["Statement"]
    [cluster] = result.of_type("aws:rds/cluster:Cluster")
    resource_id = cluster.state["clusterResourceId"]
    assert database["Action"] == "rds-db:connect"
    assert database["Resource"] == [
        f"arn:aws:rds-db:us-east-1:123456789012:dbuser:{resource_id}/chat_api"
    ]
    text = json.dumps(policy.inputs)
    assert "secretsmanager:" not in text and result.outputs["databaseSecretArn"] not in text
    # The cache as chat-api's own IAM user, never the break-glass secret.
    [user] = [
        u
        for u in result.of_type("aws:elasticache/user:User")
        if u.inputs["userId"] == "platform-staging-chat-api"
    ]
    [group] = result.of_type("aws:elasticache/replicationGroup:ReplicationGroup")
    assert connect["Action"] == "elasticache:Connect"
    assert connect["Resource"] == sorted([group.state["arn"], user.state["arn"]])
    assert result.outputs["cacheBreakGlassSecretArn"] not in json.dumps(policy.inputs)
    accounts = objects(result, "kubernetes:core/v1:ServiceAccount")
    annotation = accounts["chat-api"].inputs["metadata"]["annotations"][
        "eks.amazonaws.com/role-arn"
    ]
    assert annotation == f"arn:aws:iam::123456789012:role/{role.inputs['name']}"
    # chat-web reads no secret, so it has no role at all.
    assert accounts["chat-web"].inputs["metadata"].get("annotations", {}) == {}
    assert not [r for r in result.resources if r.name == "chat-web-role"]


def test_the_config_map_holds_endpoints_and_settings_but_no_secret(stack_preview):
    api = objects(stack_preview, "kubernetes:core/v1:ConfigMap", "chat-api")["chat-api-settings"]
    data = api.inputs["data"]
    assert data["DATABASE_HOST"] == stack_preview.outputs["databaseEndpoint"]
    assert data["CACHE_HOST"] == stack_preview.outputs["cachePrimaryEndpoint"]
    assert data["DATABASE_USER"] == "chat_api"
    # The master secret is for migrations and break-glass, never in a service's settings.
    assert stack_preview.outputs["databaseSecretArn"] not in json.dumps(data)
    assert data["LOG_LEVEL"] in ("debug", "info", "warn")
    web = objects(stack_preview, "kubernetes:core/v1:ConfigMap", "chat-web")["chat-web-settings"]
    assert not any(key.startswith(("DATABASE_", "CACHE_")) for key in web.inputs["data"])
    assert data["CACHE_USER"] == f"platform-{stack_preview.stack}-chat-api"
    assert data["CACHE_REPLICATION_GROUP_ID"] == f"platform-{stack_preview.stack}-cache"
    [break_glass] = [
        v
        for v in stack_preview.of_type("aws:secretsmanager/secretVersion:SecretVersion")
        if v.name == "cache-break-glass"
    ]
    secret_value = reveal(break_glass.inputs["secretString"])
    assert len(secret_value) == 64
    for config_map in stack_preview.of_type("kubernetes:core/v1:ConfigMap"):
        assert secret_value not in json.dumps(config_map.inputs)


@pytest.mark.parametrize("count", [1, 10, 50])
def test_the_program_builds_one_ten_and_fifty_services(count):
    app = {**stack_setting("staging", "platform:app"), "services": fleet(count)}
    result = preview("staging", platform__app=app)
    # One Ingress and namespace per service, plus the ALB group's anchor (and the metrics
    # collector's namespace).
    ingresses = [i for i in result.of_type(INGRESS) if i.name != "edge-ingress"]
    assert len(ingresses) == len(result.of_type(INGRESS)) - 1 == count
    assert len(result.of_type(DEPLOYMENT)) == len(result.of_type(HPA)) == 2 * count
    assert len(objects(result, "kubernetes:core/v1:Namespace")) == count + 2
    # The collector scrapes every service's namespace, and only those.
    config = result.named("metrics-collector-config").inputs["data"]["prometheus.yml"]
    assert f"- {fleet(count)[-1]['name']}\n" in config
    orders = sorted(
        int(i.inputs["metadata"]["annotations"][f"{ALB}/group.order"]) for i in ingresses
    )
    assert orders == list(range(1, count + 1))
    # One IRSA role per service (each reads secrets), and the cluster is built once.
    service_roles = [r for r in result.of_type("aws:iam/role:Role") if r.name.startswith("svc-")]
    assert len(service_roles) == count
    assert len(result.of_type("aws:eks/cluster:Cluster")) == 1


def settings_hash(result, deployment):
    template = objects(result, DEPLOYMENT, "chat-api")[deployment].inputs["spec"]["template"]
    return template["metadata"]["annotations"]["platform/settings-hash"]


def test_a_settings_change_rolls_the_pods_and_a_weight_change_does_not():
    app = stack_setting("staging", "platform:app")
    base = preview("staging", platform__app=app)
    app["services"][0]["env"] = {"LOG_LEVEL": "debug"}
    changed = preview("staging", platform__app=app)
    weighted = preview("staging", platform__app=with_release("staging", 0, candidateWeight=30))
    assert settings_hash(changed, "chat-api-blue") != settings_hash(base, "chat-api-blue")
    assert settings_hash(weighted, "chat-api-blue") == settings_hash(base, "chat-api-blue")
    # Both slots read the same ConfigMap, so both carry the same hash.
    assert settings_hash(base, "chat-api-green") == settings_hash(base, "chat-api-blue")
