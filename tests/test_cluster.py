"""The EKS cluster as each stack registers it: who reaches the API, what is encrypted and
logged, how nodes are built, who may assume which role, and how the app reaches Kubernetes."""

from __future__ import annotations

import json

import pytest

from offline_preview.engine import run_preview
from platform_common.pulumi_values import is_secret, reveal
from tests.conftest import REPOSITORY, key_arn, preview, stack_setting, subnet_ids

CLUSTER = "platform:components:Cluster"
EKS = "aws:eks/cluster:Cluster"
ROLE = "aws:iam/role:Role"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
ADDON = "aws:eks/addon:Addon"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def one(result, type_token, name):
    [match] = [r for r in result.of_type(type_token) if r.name == name]
    return match


def trust(role) -> dict:
    return json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]


def role_arn(role) -> str:
    return f"arn:aws:iam::123456789012:role/{role.inputs['name']}"


def managed_policies(result, role) -> set[str]:
    return {
        a.inputs["policyArn"].rsplit("/", 1)[-1]
        for a in result.of_type(ATTACHMENT)
        if a.inputs["role"] == role.id
    }


@pytest.mark.parametrize(
    ("stack", "public", "cidrs"),
    [("dev", True, ["0.0.0.0/0"]), ("staging", True, ["198.51.100.0/24"]), ("prod", False, None)],
)
def test_the_api_endpoint_is_private_and_public_only_where_settings_allow(stack, public, cidrs):
    [cluster] = preview(stack).of_type(EKS)
    vpc = cluster.inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True
    assert vpc["endpointPublicAccess"] is public
    assert vpc.get("publicAccessCidrs") == cidrs


def test_the_cluster_runs_in_the_private_subnets_with_the_configured_version(stack_preview):
    [cluster] = stack_preview.of_type(EKS)
    assert sorted(cluster.inputs["vpcConfig"]["subnetIds"]) == subnet_ids(stack_preview, "private")
    assert cluster.inputs["version"] == "1.35"
    assert cluster.inputs["name"] == f"platform-{stack_preview.stack}-eks"


def test_secrets_are_envelope_encrypted_with_the_eks_key(stack_preview):
    [cluster] = stack_preview.of_type(EKS)
    assert cluster.inputs["encryptionConfig"] == {
        "provider": {"keyArn": key_arn(stack_preview, "eks")},
        "resources": ["secrets"],
    }
    control_plane = one(stack_preview, ROLE, "cluster-control-plane")
    key_policy = one(stack_preview, ROLE_POLICY, "cluster-control-plane")
    assert key_policy.inputs["role"] == control_plane.id
    [statement] = json.loads(key_policy.inputs["policy"])["Statement"]
    assert statement["Resource"] == key_arn(stack_preview, "eks")


def test_all_control_plane_logs_go_to_a_retained_encrypted_group_made_first(stack_preview):
    [cluster] = stack_preview.of_type(EKS)
    assert sorted(cluster.inputs["enabledClusterLogTypes"]) == sorted(
        ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    )
    group = stack_preview.named("cluster-control-plane-logs")
    assert group.inputs["name"] == f"/aws/eks/{cluster.inputs['name']}/cluster"
    assert group.inputs["kmsKeyId"] == key_arn(stack_preview, "logs")
    assert group.urn in cluster.options["dependsOn"]


def test_cluster_access_uses_access_entries_for_the_admin_roles(stack_preview):
    [cluster] = stack_preview.of_type(EKS)
    assert cluster.inputs["accessConfig"]["authenticationMode"] == "API"
    entries = stack_preview.of_type("aws:eks/accessEntry:AccessEntry")
    associations = stack_preview.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    admins = stack_setting(stack_preview.stack, "platform:cluster")["adminRoleArns"]
    assert sorted(e.inputs["principalArn"] for e in entries) == sorted(admins)
    assert sorted(a.inputs["principalArn"] for a in associations) == sorted(admins)
    for association in associations:
        assert association.inputs["policyArn"].endswith(
            "cluster-access-policy/AmazonEKSClusterAdminPolicy"
        )
        assert association.inputs["accessScope"] == {"type": "cluster"}


def test_prod_cluster_is_protected_and_dev_is_not():
    [prod] = preview("prod").of_type(EKS)
    [dev] = preview("dev").of_type(EKS)
    assert (prod.options["protect"], prod.inputs["deletionProtection"]) == (True, True)
    assert (dev.options["protect"], dev.inputs["deletionProtection"]) == (False, False)


def test_every_launch_template_requires_imdsv2_and_an_encrypted_gp3_root(stack_preview):
    templates = stack_preview.of_type(LAUNCH_TEMPLATE)
    assert len(templates) == len(stack_preview.of_type(NODE_GROUP)) >= 1
    for template in templates:
        metadata = template.inputs["metadataOptions"]
        assert metadata["httpTokens"] == "required"
        assert metadata["httpPutResponseHopLimit"] == 1
        [device] = template.inputs["blockDeviceMappings"]
        assert device["ebs"]["volumeType"] == "gp3"
        assert device["ebs"]["encrypted"] == "true"
        tagged = {
            spec["resourceType"]: spec["tags"] for spec in template.inputs["tagSpecifications"]
        }
        assert set(tagged) == {"instance", "volume", "network-interface"}
        for tags in tagged.values():
            assert tags["environment"] == stack_preview.stack
            assert tags["cost-center"].startswith("cc-")


def test_nodes_carry_the_cluster_and_workload_groups_and_live_in_private_subnets(stack_preview):
    workloads = stack_preview.named("network-workloads")
    cluster_group = stack_preview.outputs["nodeSecurityGroupId"]
    assert cluster_group.startswith("sg-") and cluster_group != workloads.id
    for template in stack_preview.of_type(LAUNCH_TEMPLATE):
        assert template.inputs["vpcSecurityGroupIds"] == [cluster_group, workloads.id]
    template_ids = {t.id for t in stack_preview.of_type(LAUNCH_TEMPLATE)}
    for group in stack_preview.of_type(NODE_GROUP):
        assert sorted(group.inputs["subnetIds"]) == subnet_ids(stack_preview, "private")
        assert group.inputs["launchTemplate"] == {
            "id": group.inputs["launchTemplate"]["id"],
            "version": "1",
        }
        assert group.inputs["launchTemplate"]["id"] in template_ids
        # No autoscaler moves the size behind Pulumi's back, so settings stay in charge.
        assert group.options["ignoreChanges"] == []


def test_node_groups_follow_their_settings():
    groups = [
        {
            "name": "general",
            "instanceTypes": ["m7g.large", "c7g.large"],
            "minSize": 2, "desiredSize": 3, "maxSize": 5, "maxUnavailable": 2,
            "diskSizeGib": 100,
        },
        {
            "name": "batch",
            "instanceTypes": ["m6i.large"],
            "capacityType": "SPOT",
            "minSize": 0, "desiredSize": 0, "maxSize": 10,
            "labels": {"workload/kind": "batch"},
            "taints": [{"key": "workload/kind", "value": "batch", "effect": "NO_SCHEDULE"}],
        },
    ]  # fmt: skip
    cluster = dict(
        stack_setting("staging", "platform:cluster"), nodeGroups=groups, metadataHopLimit=2
    )
    result = preview("staging", platform__cluster=cluster)
    general = one(result, NODE_GROUP, "cluster-general")
    batch = one(result, NODE_GROUP, "cluster-batch")
    assert general.inputs["amiType"] == "AL2023_ARM_64_STANDARD"
    assert general.inputs["instanceTypes"] == ["m7g.large", "c7g.large"]
    assert general.inputs["scalingConfig"] == {"minSize": 2, "desiredSize": 3, "maxSize": 5}
    assert general.inputs["updateConfig"] == {"maxUnavailable": 2}
    assert general.inputs["capacityType"] == "ON_DEMAND"
    assert batch.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert batch.inputs["capacityType"] == "SPOT"
    assert batch.inputs["labels"] == {"workload/kind": "batch", "node-group": "batch"}
    assert batch.inputs["taints"] == [
        {"key": "workload/kind", "value": "batch", "effect": "NO_SCHEDULE"}
    ]
    disks = {
        t.name: t.inputs["blockDeviceMappings"][0]["ebs"]["volumeSize"]
        for t in result.of_type(LAUNCH_TEMPLATE)
    }
    assert disks == {"cluster-general-nodes": 100, "cluster-batch-nodes": 50}
    for template in result.of_type(LAUNCH_TEMPLATE):
        assert template.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 2


def test_node_and_control_plane_roles_have_only_the_managed_policies_they_need(stack_preview):
    nodes = one(stack_preview, ROLE, "cluster-nodes")
    control_plane = one(stack_preview, ROLE, "cluster-control-plane")
    assert managed_policies(stack_preview, nodes) == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryReadOnly",
    }
    assert managed_policies(stack_preview, control_plane) == {"AmazonEKSClusterPolicy"}
    assert trust(nodes)["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert trust(control_plane)["Principal"] == {"Service": "eks.amazonaws.com"}


@pytest.mark.parametrize(
    ("role_name", "service_account"),
    [
        ("cluster-vpc-cni", "aws-node"),
        ("cluster-aws-ebs-csi-driver", "ebs-csi-controller-sa"),
        ("cluster-lb-controller", "aws-load-balancer-controller"),
    ],
)
def test_irsa_roles_trust_exactly_one_service_account_through_the_clusters_oidc_provider(
    stack_preview, role_name, service_account
):
    [provider] = stack_preview.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    issuer = stack_preview.outputs["oidcIssuerUrl"]
    assert provider.inputs["url"] == issuer
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    statement = trust(one(stack_preview, ROLE, role_name))
    host = issuer.removeprefix("https://")
    assert statement["Principal"] == {"Federated": stack_preview.outputs["oidcProviderArn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{host}:sub": f"system:serviceaccount:kube-system:{service_account}",
            f"{host}:aud": "sts.amazonaws.com",
        }
    }


def test_addons_have_the_configured_versions_roles_and_order(stack_preview):
    addons = {a.inputs["addonName"]: a for a in stack_preview.of_type(ADDON)}
    assert {name: a.inputs["addonVersion"] for name, a in addons.items()} == {
        "vpc-cni": "v1.21.1-eksbuild.7",
        "kube-proxy": "v1.35.3-eksbuild.13",
        "coredns": "v1.14.3-eksbuild.3",
        "aws-ebs-csi-driver": "v1.66.0-eksbuild.1",
        "metrics-server": "v0.9.0-eksbuild.5",
    }
    for addon in addons.values():
        assert addon.inputs["resolveConflictsOnCreate"] == "OVERWRITE"
        assert addon.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"
    assert json.loads(addons["vpc-cni"].inputs["configurationValues"]) == {
        "enableNetworkPolicy": "true"
    }
    for name in ("vpc-cni", "aws-ebs-csi-driver"):
        role = one(stack_preview, ROLE, f"cluster-{name}")
        assert addons[name].inputs["serviceAccountRoleArn"] == role_arn(role)
    for name in ("coredns", "kube-proxy", "metrics-server"):
        assert "serviceAccountRoleArn" not in addons[name].inputs
    [group] = stack_preview.of_type(NODE_GROUP)
    # Nodes need the network add-ons to become ready; CoreDNS and the CSI driver need nodes.
    assert {addons["vpc-cni"].urn, addons["kube-proxy"].urn} <= set(group.options["dependsOn"])
    for late in ("coredns", "aws-ebs-csi-driver", "metrics-server"):
        assert group.urn in addons[late].options["dependsOn"]
    # With the controller's Service webhook off, no add-on waits for the controller (so the
    # bootstrap phase, which has no Kubernetes API, creates them all).
    controller = load_balancer_controller(stack_preview)
    assert all(controller.urn not in a.options["dependsOn"] for a in addons.values())


def test_the_kubernetes_provider_uses_the_clusters_endpoint_through_a_secret_exec_kubeconfig(
    stack_preview,
):
    [cluster] = stack_preview.of_type(EKS)
    [provider] = stack_preview.of_type("pulumi:providers:kubernetes")
    assert is_secret(provider.inputs["kubeconfig"])
    assert is_secret(stack_preview.stack_resource.outputs["kubeconfig"])
    config = json.loads(reveal(provider.inputs["kubeconfig"]))
    assert config["clusters"][0]["cluster"]["server"] == stack_preview.outputs["clusterEndpoint"]
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"][:4] == [
        "eks", "get-token", "--cluster-name", cluster.inputs["name"],
    ]  # fmt: skip
    assert "token" not in user["user"]
    provider_ref = f"{provider.urn}::{provider.id}"
    kubernetes = [r for r in stack_preview.resources if r.type.startswith("kubernetes:")]
    assert kubernetes and all(r.provider == provider_ref for r in kubernetes)


def load_balancer_controller(result):
    [release] = [
        r for r in result.of_type("kubernetes:helm.sh/v3:Release")
        if r.inputs["chart"] == "aws-load-balancer-controller"
    ]  # fmt: skip
    return release


def test_the_load_balancer_controller_is_a_pinned_chart_running_as_its_irsa_role(stack_preview):
    release = load_balancer_controller(stack_preview)
    role = one(stack_preview, ROLE, "cluster-lb-controller")
    assert release.inputs["chart"] == "aws-load-balancer-controller"
    assert release.inputs["version"] == "3.5.0"
    assert release.inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert release.inputs["namespace"] == "kube-system"
    values = release.inputs["values"]
    assert values["clusterName"] == stack_preview.outputs["clusterName"]
    assert values["vpcId"] == stack_preview.outputs["vpcId"]
    # No Service webhook: while the controller is down it would refuse every new Service.
    assert values["enableServiceMutatorWebhook"] is False
    account = values["serviceAccount"]
    assert account["name"] == "aws-load-balancer-controller"
    assert account["annotations"]["eks.amazonaws.com/role-arn"] == role_arn(role)
    [policy] = [p for p in stack_preview.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    published = json.loads(
        (REPOSITORY / "components/data/aws-load-balancer-controller-iam-policy.json").read_text()
    )
    assert json.loads(policy.inputs["policy"]) == published
    for node_group in stack_preview.of_type(NODE_GROUP):
        assert node_group.urn in release.options["dependsOn"]


def _api_rules(result):
    return [
        r
        for r in result.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        if r.name.startswith("cluster-api-from-")
    ]


def test_the_private_endpoint_admits_https_from_the_ci_runner_and_the_configured_ranges():
    prod = preview("prod")
    runner_group = prod.named("ci-runner-sg").id
    [rule] = _api_rules(prod)
    assert (rule.inputs["referencedSecurityGroupId"], rule.inputs["fromPort"]) == (
        runner_group, 443,
    )  # fmt: skip
    assert rule.inputs["toPort"] == 443
    assert rule.inputs["securityGroupId"] == prod.outputs["nodeSecurityGroupId"]
    cluster = dict(stack_setting("prod", "platform:cluster"), privateAccessCidrs=["10.99.0.0/16"])
    with_vpn = preview("prod", platform__cluster=cluster)
    assert sorted(r.inputs.get("cidrIpv4") or "runner" for r in _api_rules(with_vpn)) == [
        "10.99.0.0/16",
        "runner",
    ]
    assert not _api_rules(preview("dev"))


def _access(result) -> list[tuple[str, str, dict]]:
    return sorted(
        (r.urn, r.type, r.inputs)
        for r in result.resources
        if r.type in ("aws:eks/accessEntry:AccessEntry", ENTRY_POLICY)
    )


ENTRY_POLICY = "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"


def test_access_entries_are_the_listed_admin_roles_whoever_runs_the_program():
    roles = [
        "arn:aws:iam::123456789012:role/platform-admins",
        "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b",
    ]
    cluster = dict(stack_setting("staging", "platform:cluster"), adminRoleArns=roles)
    config = {"platform:cluster": cluster, "platform:ciRunner": None}
    callers = [
        None,  # role/offline, not an admin
        roles[0],  # an admin runs `up`: still no creator entry of its own, and no skip
        roles[1],  # an SSO role, path and all
    ]
    seen = [
        _access(run_preview(REPOSITORY, "staging", config_overrides=config, caller_role_arn=c))
        for c in callers
    ]
    assert seen[0] == seen[1] == seen[2]
    entries = [inputs for _, kind, inputs in seen[0] if kind != ENTRY_POLICY]
    assert sorted(e["principalArn"] for e in entries) == sorted(roles)
    names = sorted(urn.rsplit("::", 1)[-1] for urn, kind, _ in seen[0] if kind != ENTRY_POLICY)
    assert names == [
        "cluster-admin-123456789012-AWSReservedSSO_Admin_0a1b",
        "cluster-admin-123456789012-platform-admins",
    ]
    [eks] = preview("staging").of_type(EKS)
    assert eks.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False


def test_what_talks_to_the_kubernetes_api_waits_for_the_admin_access_entries(stack_preview):
    release = load_balancer_controller(stack_preview)
    associations = stack_preview.of_type(ENTRY_POLICY)
    assert associations
    assert {a.urn for a in associations} <= set(release.options["dependsOn"])
