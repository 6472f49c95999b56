"""EKS: a private control plane, managed node groups, IRSA, managed add-ons and the AWS Load
Balancer Controller, plus the Kubernetes provider the app deploys through."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.parts import (
    LogArchive,
    OidcIssuer,
    irsa_role,
    log_group,
    role_with_policies,
    service_trust_policy,
)

CONTROL_PLANE_LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
LOAD_BALANCER_CONTROLLER = "aws-load-balancer-controller"
_CONTROLLER_POLICY = Path(__file__).parent / "data" / "aws-load-balancer-controller-iam-policy.json"
_CHART_REPOSITORY = "https://aws.github.io/eks-charts"
_CLUSTER_ADMIN_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
_MANAGED = "arn:{partition}:iam::aws:policy/{name}"
_GET_TOKEN = ("eks", "get-token", "--cluster-name")


@dataclass(frozen=True)
class NodeGroupArgs:
    name: str
    instance_types: Sequence[str]
    architecture: str  # arm64 | x86_64
    capacity_type: str  # ON_DEMAND | SPOT
    min_size: int
    desired_size: int
    max_size: int
    disk_size_gib: int
    max_unavailable: int
    labels: Mapping[str, str]
    taints: Sequence[tuple[str, str, str]]  # key, value, effect


@dataclass(frozen=True)
class ClusterArgs:
    name_prefix: str
    region: str
    partition: str
    kubernetes_version: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]  # private subnets: control plane ENIs and nodes
    public_access_cidrs: Sequence[str]  # empty: the API endpoint is private only
    private_access_cidrs: Sequence[str]  # may reach the private endpoint (a VPN)
    api_client_security_group_ids: Sequence[pulumi.Input[str]]  # CI runners in the VPC
    admin_role_arns: Sequence[str]  # every principal given cluster admin, the caller too
    node_security_group_ids: Sequence[pulumi.Input[str]]  # extra groups nodes carry
    node_groups: Sequence[NodeGroupArgs]
    metadata_hop_limit: int
    addon_versions: Mapping[str, str]  # EKS add-on name -> version
    load_balancer_controller_chart_version: str
    secrets_kms_key_arn: pulumi.Input[str]
    logs: LogArchive
    resource_tags: Mapping[str, str]  # for what launch templates create (instances, volumes)
    # False while the API cannot be reached from where `up` runs (the bootstrap's foundation
    # phase): nothing that talks to Kubernetes (the provider, the controller) is registered.
    kubernetes_api: bool
    protect: bool


class Cluster(pulumi.ComponentResource):
    """What the app consumes: the Kubernetes ``provider``, the OIDC ``issuer`` for IRSA and
    the ``node_security_group_id`` every node and pod carries."""

    name: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    issuer: OidcIssuer
    node_security_group_id: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider | None  # None in the bootstrap's foundation phase

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:Cluster", name, None, opts)
        self._name, self._args = name, args
        cluster_name = f"{args.name_prefix}-eks"
        cluster = self._control_plane(cluster_name)
        self.name = cluster.name
        self.endpoint = cluster.endpoint
        self.node_security_group_id = cluster.vpc_config.cluster_security_group_id
        admin_access = self._access_entries(cluster)
        self._private_endpoint_access()
        self._oidc(cluster)
        early_addons = self._addons(cluster, ("vpc-cni", "kube-proxy"), depends_on=[])
        node_groups = self._node_groups(cluster, early_addons)
        late_addons = self._addons(
            cluster, ("coredns", "aws-ebs-csi-driver", "metrics-server"), node_groups
        )
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                cluster.name, cluster.endpoint, cluster.certificate_authority.data
            ).apply(lambda v: kubeconfig(v[0], v[1], v[2], args.region))
        )
        self.provider = None
        if args.kubernetes_api:
            self.provider = k8s.Provider(
                f"{name}-kubernetes",
                kubeconfig=self.kubeconfig,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self._load_balancer_controller(
                cluster, self.provider, [*node_groups, *late_addons, *admin_access]
            )
        self.register_outputs(
            {
                "name": self.name,
                "endpoint": self.endpoint,
                "oidcProviderArn": self.oidc_provider_arn,
                "oidcIssuerUrl": self.oidc_issuer_url,
                "nodeSecurityGroupId": self.node_security_group_id,
                "kubeconfig": self.kubeconfig,
            }
        )

    def _managed(self, policy: str) -> str:
        return _MANAGED.format(partition=self._args.partition, name=policy)

    def _control_plane(self, cluster_name: str) -> aws.eks.Cluster:
        args, name = self._args, self._name
        # EKS needs only this managed policy for the control plane; the key grant below
        # lets it envelope-encrypt Kubernetes secrets with the stack's EKS key.
        role, grants = role_with_policies(
            f"{name}-control-plane",
            description=f"EKS control plane of {cluster_name}",
            assume_role_policy=service_trust_policy("eks.amazonaws.com"),
            managed_policy_arns=[self._managed("AmazonEKSClusterPolicy")],
            inline_policy=pulumi.Output.from_input(args.secrets_kms_key_arn).apply(
                _secrets_key_policy
            ),
            parent=self,
        )
        # EKS creates /aws/eks/<name>/cluster on first write, unencrypted and kept forever.
        control_plane_logs = log_group(
            f"{name}-control-plane-logs",
            name=f"/aws/eks/{cluster_name}/cluster",
            archive=args.logs,
            protect=args.protect,
            parent=self,
        )
        public = bool(args.public_access_cidrs)
        return aws.eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=args.kubernetes_version,
            role_arn=role.arn,
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=args.subnet_ids,
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=list(args.public_access_cidrs) if public else None,
            ),
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API",
                # Admins are the explicit entries below, whoever runs `up`: a creator entry
                # would belong to whoever created the cluster, and a later `up` by another
                # admin must neither delete nor duplicate it (EKS holds one entry per
                # principal). Fixed at creation: changing it replaces the cluster.
                bootstrap_cluster_creator_admin_permissions=False,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                provider=aws.eks.ClusterEncryptionConfigProviderArgs(
                    key_arn=args.secrets_kms_key_arn
                ),
                resources=["secrets"],
            ),
            enabled_cluster_log_types=list(CONTROL_PLANE_LOG_TYPES),
            # The add-ons below are EKS-managed; without this EKS would also install
            # unmanaged copies that the managed ones then have to take over.
            bootstrap_self_managed_addons=False,
            deletion_protection=args.protect,
            tags={"Name": cluster_name},
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect, depends_on=[*grants, control_plane_logs]
            ),
        )

    def _private_endpoint_access(self) -> None:
        for index, client in enumerate(self._args.api_client_security_group_ids):
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-api-from-client-{index}",
                security_group_id=self.node_security_group_id,
                description="Kubernetes API (private endpoint) from a CI runner's group",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                referenced_security_group_id=client,
                opts=pulumi.ResourceOptions(parent=self),
            )
        for cidr in self._args.private_access_cidrs:
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-api-from-{cidr.replace('/', '-')}",
                security_group_id=self.node_security_group_id,
                description=f"Kubernetes API (private endpoint) from {cidr}",
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                cidr_ipv4=cidr,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _access_entries(self, cluster: aws.eks.Cluster) -> list[pulumi.Resource]:
        """One entry and cluster-admin association per admin role; what talks to the API
        waits for them, since the identity running `up` has no other way in."""
        args = self._args
        associations: list[pulumi.Resource] = []
        for role_arn in args.admin_role_arns:
            # Named by the role, not its position: EKS holds one entry per principal, so a
            # replacement created before the old entry is deleted would be refused.
            account, role_name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
            entry_name = f"{self._name}-admin-{account}-{role_name}"
            entry = aws.eks.AccessEntry(
                entry_name,
                cluster_name=cluster.name,
                principal_arn=role_arn,
                type="STANDARD",
                opts=pulumi.ResourceOptions(parent=self),
            )
            associations.append(
                aws.eks.AccessPolicyAssociation(
                    entry_name,
                    cluster_name=cluster.name,
                    principal_arn=entry.principal_arn,
                    policy_arn=_CLUSTER_ADMIN_POLICY.format(partition=args.partition),
                    access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        return associations

    def _oidc(self, cluster: aws.eks.Cluster) -> None:
        issuer_url = cluster.identities.apply(_oidc_issuer)
        provider = aws.iam.OpenIdConnectProvider(
            f"{self._name}-oidc",
            url=issuer_url,
            client_id_lists=["sts.amazonaws.com"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.oidc_provider_arn = provider.arn
        self.oidc_issuer_url = issuer_url
        self.issuer = OidcIssuer(provider_arn=provider.arn, issuer_url=issuer_url)

    def _irsa_role(
        self,
        suffix: str,
        *,
        namespace: str,
        service_account: str,
        managed_policies: Sequence[str] = (),
        inline_policy: pulumi.Input[str] | None = None,
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        return irsa_role(
            f"{self._name}-{suffix}",
            issuer=self.issuer,
            namespace=namespace,
            service_account=service_account,
            description=f"IRSA role of {namespace}/{service_account} in {self._args.name_prefix}",
            managed_policy_arns=[self._managed(p) for p in managed_policies],
            inline_policy=inline_policy,
            parent=self,
        )

    def _addons(
        self,
        cluster: aws.eks.Cluster,
        names: Sequence[str],
        depends_on: Sequence[pulumi.Resource],
    ) -> list[pulumi.Resource]:
        irsa = {
            "vpc-cni": ("aws-node", "AmazonEKS_CNI_Policy"),
            "aws-ebs-csi-driver": (
                "ebs-csi-controller-sa",
                "service-role/AmazonEBSCSIDriverPolicy",
            ),
        }
        # Network policies are enforced only when the VPC CNI runs its policy agent.
        configuration = {"vpc-cni": json.dumps({"enableNetworkPolicy": "true"})}
        created: list[pulumi.Resource] = []
        for addon in names:
            role_arn: pulumi.Output[str] | None = None
            grants: list[pulumi.Resource] = []
            if addon in irsa:
                account, policy = irsa[addon]
                role, grants = self._irsa_role(
                    addon, namespace="kube-system", service_account=account,
                    managed_policies=[policy],
                )  # fmt: skip
                role_arn = role.arn
            created.append(
                aws.eks.Addon(
                    f"{self._name}-{addon}",
                    cluster_name=cluster.name,
                    addon_name=addon,
                    addon_version=self._args.addon_versions[addon],
                    service_account_role_arn=role_arn,
                    configuration_values=configuration.get(addon),
                    # Pulumi is the source of truth: settings win over edits made in the
                    # cluster, on create and on every update.
                    resolve_conflicts_on_create="OVERWRITE",
                    resolve_conflicts_on_update="OVERWRITE",
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[*depends_on, *grants]),
                )
            )
        return created

    def _node_groups(
        self, cluster: aws.eks.Cluster, networking: Sequence[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        args, name = self._args, self._name
        # Nodes get the CNI's permissions from its IRSA role, not from this one.
        role, grants = role_with_policies(
            f"{name}-nodes",
            description=f"EKS nodes of {args.name_prefix}",
            assume_role_policy=service_trust_policy("ec2.amazonaws.com"),
            managed_policy_arns=[
                self._managed("AmazonEKSWorkerNodePolicy"),
                self._managed("AmazonEC2ContainerRegistryReadOnly"),
            ],
            parent=self,
        )
        groups: list[pulumi.Resource] = []
        for group in args.node_groups:
            template = self._launch_template(cluster, group)
            groups.append(
                aws.eks.NodeGroup(
                    f"{name}-{group.name}",
                    cluster_name=cluster.name,
                    node_group_name_prefix=f"{group.name}-",
                    node_role_arn=role.arn,
                    subnet_ids=args.subnet_ids,
                    version=args.kubernetes_version,
                    ami_type=(
                        "AL2023_ARM_64_STANDARD"
                        if group.architecture == "arm64"
                        else "AL2023_x86_64_STANDARD"
                    ),
                    instance_types=list(group.instance_types),
                    capacity_type=group.capacity_type,
                    scaling_config=aws.eks.NodeGroupScalingConfigArgs(
                        min_size=group.min_size,
                        desired_size=group.desired_size,
                        max_size=group.max_size,
                    ),
                    update_config=aws.eks.NodeGroupUpdateConfigArgs(
                        max_unavailable=group.max_unavailable
                    ),
                    launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
                        id=template.id, version=template.latest_version.apply(str)
                    ),
                    labels={**group.labels, "node-group": group.name},
                    taints=[
                        aws.eks.NodeGroupTaintArgs(key=key, value=value or None, effect=effect)
                        for key, value, effect in group.taints
                    ],
                    tags={"Name": f"{args.name_prefix}-{group.name}"},
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[*grants, *networking]),
                )
            )
        return groups

    def _launch_template(
        self, cluster: aws.eks.Cluster, group: NodeGroupArgs
    ) -> aws.ec2.LaunchTemplate:
        args = self._args
        node_name = f"{args.name_prefix}-{group.name}"
        tags = {**args.resource_tags, "Name": node_name, "node-group": group.name}
        return aws.ec2.LaunchTemplate(
            f"{self._name}-{group.name}-nodes",
            description=f"Nodes of {node_name}: IMDSv2 only, encrypted gp3 root volume",
            update_default_version=True,
            # Naming groups here replaces the ones EKS would attach, so the cluster's own
            # group (control plane <-> nodes) is listed with the workload group.
            vpc_security_group_ids=[
                cluster.vpc_config.cluster_security_group_id,
                *args.node_security_group_ids,
            ],
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                http_put_response_hop_limit=args.metadata_hop_limit,
                instance_metadata_tags="disabled",
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=group.disk_size_gib,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            monitoring=aws.ec2.LaunchTemplateMonitoringArgs(enabled=True),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
                for kind in ("instance", "volume", "network-interface")
            ],
            tags={"Name": node_name},
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _load_balancer_controller(
        self,
        cluster: aws.eks.Cluster,
        provider: k8s.Provider,
        depends_on: Sequence[pulumi.Resource],
    ) -> pulumi.Resource:
        args = self._args
        role, grants = self._irsa_role(
            "lb-controller",
            namespace="kube-system",
            service_account=LOAD_BALANCER_CONTROLLER,
            inline_policy=load_balancer_controller_policy(args.partition),
        )
        return k8s.helm.v3.Release(
            f"{self._name}-lb-controller",
            name=LOAD_BALANCER_CONTROLLER,
            chart=LOAD_BALANCER_CONTROLLER,
            version=args.load_balancer_controller_chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=_CHART_REPOSITORY),
            namespace="kube-system",
            # Roll back a failed upgrade instead of leaving a half-installed controller.
            atomic=True,
            values={
                "clusterName": cluster.name,
                # Given explicitly: with a metadata hop limit of 1 the pod cannot ask IMDS.
                "region": args.region,
                "vpcId": args.vpc_id,
                "replicaCount": 2,
                "podDisruptionBudget": {"maxUnavailable": 1},
                # The chart's Service webhook (failurePolicy Fail) is called for every
                # Service created in the cluster, to default LoadBalancer Services to this
                # controller; while the controller is down it refuses them all. The platform
                # makes no LoadBalancer Service, so it is not installed.
                "enableServiceMutatorWebhook": False,
                "serviceAccount": {
                    "create": True,
                    "name": LOAD_BALANCER_CONTROLLER,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                provider=provider,
                depends_on=[*depends_on, *grants],
            ),
        )


def load_balancer_controller_policy(partition: str) -> str:
    """The controller's IAM policy as AWS publishes it, for this partition."""
    document = json.loads(_CONTROLLER_POLICY.read_text())
    return json.dumps(document).replace('"arn:aws:', f'"arn:{partition}:')


def _oidc_issuer(identities: Sequence[aws.eks.outputs.ClusterIdentity]) -> str:
    issuers = [o.issuer for i in identities for o in (i.oidcs or []) if o.issuer]
    if not issuers:
        raise ValueError("EKS reported no OIDC issuer for the cluster")
    return issuers[0]


def _secrets_key_policy(key_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EnvelopeEncryptionOfSecrets",
                    "Effect": "Allow",
                    "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                    "Resource": key_arn,
                }
            ],
        }
    )


def kubeconfig(cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> str:
    """A kubeconfig that asks `aws eks get-token` for a short-lived token on each use, so it
    holds no credential itself (it is still exported as a secret: it names the endpoint)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": cluster_name,
                    "cluster": {
                        "server": endpoint,
                        "certificate-authority-data": certificate_authority,
                    },
                }
            ],
            "contexts": [
                {"name": cluster_name, "context": {"cluster": cluster_name, "user": "aws"}}
            ],
            "current-context": cluster_name,
            "users": [
                {
                    "name": "aws",
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "aws",
                            "args": [
                                *_GET_TOKEN,
                                cluster_name,
                                "--region",
                                region,
                                "--output",
                                "json",
                            ],
                            "interactiveMode": "Never",
                        }
                    },
                }
            ],
        }
    )
