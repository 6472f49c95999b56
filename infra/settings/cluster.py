"""``platform:cluster``: the EKS control plane, its node groups, add-ons and ingress controller."""

from __future__ import annotations

import ipaddress
import re
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from infra.settings.base import Model, Number, matching, reference, within
from infra.settings.versions import SHOWN_PATH, catalogue

# Kubernetes minor versions in EKS standard support, as versions.yaml lists them: EKS charges
# extended support for older ones, so an old version is refused instead of costing money.
KUBERNETES_VERSIONS = catalogue().kubernetes_versions()
# Settings key of each EKS add-on, by the add-on's EKS name.
ADDON_KEYS = {
    "vpc-cni": "vpcCni",
    "coredns": "coredns",
    "kube-proxy": "kubeProxy",
    "aws-ebs-csi-driver": "awsEbsCsiDriver",
    "metrics-server": "metricsServer",
}
LOAD_BALANCER_CONTROLLER_CHART = "aws-load-balancer-controller"
_ADDON_VERSION = re.compile(r"v(\d+)\.(\d+)\.\d+-eksbuild\.\d+")
_CHART_VERSION = re.compile(r"\d+\.\d+\.\d+")
_INSTANCE_TYPE = re.compile(r"([a-z]+\d+[a-z-]*)\.(nano|micro|small|medium|large|\d*xlarge|metal)")
_NODE_GROUP_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")
_ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
# Label keys and values as Kubernetes accepts them (prefix/name, 63-character name).
_LABEL_KEY = re.compile(
    r"([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
)
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
RESERVED_LABEL_PREFIXES = ("kubernetes.io/", "k8s.io/", "eks.amazonaws.com/")
_LABEL_VALUE_ALLOWED = (
    "up to 63 letters, digits and -_., starting and ending with a letter or digit, or empty"
)
_ADDON_ALLOWED = (
    f"`vX.Y.Z-eksbuild.N`, a version {SHOWN_PATH} lists for the cluster's Kubernetes minor"
)


class NodeTaint(Model):
    key: str = Field(
        description="The taint's key, which a pod's toleration names.",
        json_schema_extra=reference(allowed="a Kubernetes label key such as workload/gpu"),
    )
    value: str = Field(
        default="",
        description="The taint's value, which a toleration may match.",
        json_schema_extra=reference(allowed=_LABEL_VALUE_ALLOWED),
    )
    effect: Literal["NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE"] = Field(
        description="What happens to pods without a matching toleration: never scheduled "
        "there, also evicted, or scheduled there only when nothing else fits.",
    )

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        return matching(key, _LABEL_KEY, "a Kubernetes label key such as workload/gpu")

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        return matching(value, _LABEL_VALUE, "up to 63 letters, digits and -_. (or empty)")


class NodeGroupSettings(Model):
    name: str = Field(
        description="The node group's name, unique in the cluster.",
        json_schema_extra=reference(
            allowed="a lowercase letter, then up to 19 lowercase letters, digits and hyphens"
        ),
    )
    instance_types: tuple[str, ...] = Field(
        description="The EC2 instance types the group may launch; Graviton types get the ARM "
        "machine image.",
        json_schema_extra=reference(
            allowed="1 to 20 EC2 instance types such as m7g.large, all of one architecture "
            "(Graviton or x86_64)"
        ),
    )
    capacity_type: Literal["ON_DEMAND", "SPOT"] = Field(
        default="ON_DEMAND",
        description="On-demand instances, or cheaper Spot instances that AWS may take back at "
        "short notice.",
    )
    min_size: Number = Field(
        description="The fewest nodes the group keeps.",
        json_schema_extra=reference(
            allowed="0 to 450, at most desiredSize; prod: the untainted groups' minSize adds "
            "up to at least 2"
        ),
    )
    desired_size: Number = Field(
        description="How many nodes the group runs to begin with.",
        json_schema_extra=reference(allowed="0 to 450, from minSize to maxSize"),
    )
    max_size: Number = Field(
        description="The most nodes the group scales to.",
        json_schema_extra=reference(allowed="1 to 450, at least desiredSize"),
    )
    disk_size_gib: Number = Field(
        default=50,
        description="The size of each node's root volume, in GiB.",
        json_schema_extra=reference(allowed="20 to 16,384"),
    )
    max_unavailable: Number = Field(
        default=1,
        description="How many nodes an update of the group may take out of service at once.",
        json_schema_extra=reference(allowed="1 to maxSize, at most 100 (EKS's limit)"),
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Kubernetes labels put on the group's nodes, for pods to select them by.",
        json_schema_extra=reference(
            allowed="Kubernetes label keys (an optional prefix/ and a name of up to 63 "
            "characters), not under "
            + ", ".join(RESERVED_LABEL_PREFIXES)
            + "; values "
            + _LABEL_VALUE_ALLOWED
        ),
    )
    taints: tuple[NodeTaint, ...] = Field(
        default=(),
        description="Taints on the group's nodes, so that only pods that tolerate them run there.",
        json_schema_extra=reference(
            allowed="the keys below; at least one node group of the cluster has none"
        ),
    )

    @property
    def architecture(self) -> Literal["arm64", "x86_64"]:
        return instance_architecture(self.instance_types[0])

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        return matching(name, _NODE_GROUP_NAME, "1 to 20 lowercase letters, digits and hyphens")

    @field_validator("instance_types")
    @classmethod
    def _instance_types(cls, types: tuple[str, ...]) -> tuple[str, ...]:
        if not 1 <= len(types) <= 20:
            raise ValueError("allowed: 1 to 20 instance types")
        for instance_type in types:
            matching(instance_type, _INSTANCE_TYPE, "EC2 instance types such as m7g.large")
        kinds = {instance_architecture(t) for t in types}
        if len(kinds) > 1:
            raise ValueError(
                "mixes Graviton (arm64) and x86_64 types, but a node group runs one machine "
                "image; allowed: types of one architecture"
            )
        return types

    @field_validator("min_size", "max_size", "desired_size")
    @classmethod
    def _size(cls, size: int) -> int:
        return within(size, 0, 450, " nodes")

    @field_validator("disk_size_gib")
    @classmethod
    def _disk(cls, size: int) -> int:
        return within(size, 20, 16_384, " GiB")

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            matching(key, _LABEL_KEY, "Kubernetes label keys such as workload/tier")
            if key.startswith(RESERVED_LABEL_PREFIXES) or "kubernetes.io/" in key:
                raise ValueError(f"label {key!r} uses a prefix Kubernetes or EKS reserves")
            matching(value, _LABEL_VALUE, "label values of up to 63 letters, digits and -_.")
        return labels

    @model_validator(mode="after")
    def _ordered(self) -> NodeGroupSettings:
        if not self.min_size <= self.desired_size <= self.max_size or self.max_size < 1:
            raise ValueError(
                f"sizes min {self.min_size}, desired {self.desired_size}, max {self.max_size}; "
                "allowed: minSize <= desiredSize <= maxSize and maxSize >= 1"
            )
        if not 1 <= self.max_unavailable <= min(self.max_size, 100):
            raise ValueError(
                f"maxUnavailable {self.max_unavailable}; allowed: 1 to maxSize "
                f"({self.max_size}), at most 100 (EKS's limit)"
            )
        return self


def instance_architecture(instance_type: str) -> Literal["arm64", "x86_64"]:
    # Graviton families carry a "g" after the generation digit: m7g, c7gn, r8g, t4g.
    family = instance_type.split(".")[0]
    return "arm64" if family == "a1" or re.fullmatch(r"[a-z]+\d+g[a-z]*", family) else "x86_64"


class AddonVersions(Model):
    """Versions of the EKS managed add-ons, pinned so an upgrade is a reviewed change."""

    vpc_cni: str = Field(
        description="The version of the Amazon VPC CNI add-on, which gives pods their VPC "
        "addresses.",
        json_schema_extra=reference(allowed=_ADDON_ALLOWED),
    )
    coredns: str = Field(
        description="The version of the CoreDNS add-on, the cluster's DNS.",
        json_schema_extra=reference(allowed=_ADDON_ALLOWED),
    )
    kube_proxy: str = Field(
        description="The version of the kube-proxy add-on, which routes Service traffic on "
        "each node.",
        json_schema_extra=reference(allowed=_ADDON_ALLOWED),
    )
    aws_ebs_csi_driver: str = Field(
        description="The version of the Amazon EBS CSI driver add-on, which provides "
        "persistent volumes.",
        json_schema_extra=reference(allowed=_ADDON_ALLOWED),
    )
    metrics_server: str = Field(
        description="The version of the metrics-server add-on: the autoscalers' CPU figures, "
        "without which no pod autoscaler ever scales.",
        json_schema_extra=reference(allowed=_ADDON_ALLOWED),
    )

    def by_addon(self) -> dict[str, str]:
        """Version by EKS add-on name."""
        return {addon: getattr(self, _snake(key)) for addon, key in ADDON_KEYS.items()}

    @field_validator("vpc_cni", "coredns", "kube_proxy", "aws_ebs_csi_driver", "metrics_server")
    @classmethod
    def _version(cls, version: str) -> str:
        return matching(
            version,
            _ADDON_VERSION,
            "an add-on version as `aws eks describe-addon-versions` lists it, "
            "such as v1.19.5-eksbuild.1",
        )


class ClusterSettings(Model):
    READ_BY: ClassVar[tuple[str, ...]] = ("components/cluster.py",)

    kubernetes_version: str = Field(
        description="The Kubernetes version of the EKS control plane and its node groups.",
        json_schema_extra=reference(
            allowed=", ".join(KUBERNETES_VERSIONS)
            + f": the versions in EKS standard support that {SHOWN_PATH} lists"
        ),
    )
    # Addresses allowed to reach the public API endpoint; none means the endpoint is
    # private only (reached from inside the VPC, by CI runners there or over a VPN).
    public_access_cidrs: tuple[ipaddress.IPv4Network, ...] = Field(
        default=(),
        description="Addresses allowed to reach the public API endpoint; empty keeps the "
        "endpoint private, reached only from inside the VPC.",
        json_schema_extra=reference(
            allowed="IPv4 CIDRs; 0.0.0.0/0 only in dev; prod: must be empty"
        ),
    )
    # Addresses inside the network (CI runners, a VPN) allowed to the private endpoint: the
    # cluster's own security group admits only its members.
    private_access_cidrs: tuple[ipaddress.IPv4Network, ...] = Field(
        default=(),
        description="Private ranges (a VPN, a connected network) admitted on port 443 to the "
        "private API endpoint; the stack's CI runner is admitted without one.",
        json_schema_extra=reference(
            allowed="private IPv4 CIDRs; may be empty only with publicAccessCidrs or a "
            "platform:ciRunner (otherwise nothing could reach the API)"
        ),
    )
    admin_role_arns: tuple[str, ...] = Field(
        default=(),
        description="IAM roles given cluster admin, each through an access entry of its own; "
        "`platformctl up`, `release` and `promote` refuse any other caller.",
        json_schema_extra=reference(
            allowed="IAM role ARNs (paths allowed), each once",
            read_by=("components/cluster.py", "platformctl/cli.py", "platformctl/identity.py"),
        ),
    )
    # 1 keeps pods from reaching the node's instance role through the metadata service;
    # pods get AWS credentials from their own IRSA role instead.
    metadata_hop_limit: Number = Field(
        default=1,
        description="The nodes' instance metadata hop limit: 1 keeps pods away from the node "
        "role's credentials (pods use their own IRSA roles).",
        json_schema_extra=reference(allowed="1 to 2"),
    )
    node_groups: tuple[NodeGroupSettings, ...] = Field(
        description="The managed node groups the cluster's pods run on.",
        json_schema_extra=reference(
            allowed="the keys below; at least one group, names unique, not every group "
            "tainted; prod: at least 2 untainted nodes (the sum of their minSize)"
        ),
    )
    addons: AddonVersions = Field(
        description="The versions of the EKS managed add-ons, pinned so that an upgrade is a "
        "reviewed change.",
    )
    load_balancer_controller_chart_version: str = Field(
        description="The version of the aws-load-balancer-controller Helm chart, which "
        "turns the app's Ingresses into the load balancer.",
        json_schema_extra=reference(
            allowed=f"a chart version such as 3.5.0 that {SHOWN_PATH} lists under "
            f"charts.{LOAD_BALANCER_CONTROLLER_CHART}"
        ),
    )

    @field_validator("kubernetes_version")
    @classmethod
    def _supported(cls, version: str) -> str:
        if version not in KUBERNETES_VERSIONS:
            raise ValueError(
                f"allowed (EKS standard support, {SHOWN_PATH}): " + ", ".join(KUBERNETES_VERSIONS)
            )
        return version

    @field_validator("admin_role_arns")
    @classmethod
    def _role_arns(cls, arns: tuple[str, ...]) -> tuple[str, ...]:
        for arn in arns:
            matching(arn, _ROLE_ARN, "IAM role ARNs such as arn:aws:iam::123456789012:role/admin")
        if len(set(arns)) != len(arns):
            raise ValueError("each role may appear only once")
        return arns

    @field_validator("metadata_hop_limit")
    @classmethod
    def _hop_limit(cls, hops: int) -> int:
        return within(hops, 1, 2, " (1 blocks pods from the node's credentials)")

    @field_validator("node_groups")
    @classmethod
    def _node_groups(cls, groups: tuple[NodeGroupSettings, ...]) -> tuple[NodeGroupSettings, ...]:
        if not groups:
            raise ValueError("allowed: at least one node group")
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"node group names repeat ({', '.join(names)}); allowed: unique")
        if all(g.taints for g in groups):
            raise ValueError(
                "every node group is tainted, so cluster add-ons (CoreDNS, the load balancer "
                "controller) have nowhere to run; allowed: at least one group without taints"
            )
        return groups

    @field_validator("load_balancer_controller_chart_version")
    @classmethod
    def _chart(cls, version: str) -> str:
        return matching(version, _CHART_VERSION, "a chart version such as 3.5.0")

    @field_validator("private_access_cidrs")
    @classmethod
    def _private_ranges(
        cls, cidrs: tuple[ipaddress.IPv4Network, ...]
    ) -> tuple[ipaddress.IPv4Network, ...]:
        public = [str(c) for c in cidrs if not c.is_private]
        if public:
            raise ValueError(
                f"{', '.join(public)} is not a private range; allowed: private ranges (VPC, "
                "peered networks, VPN); public ones belong in publicAccessCidrs"
            )
        return cidrs


def _snake(key: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in key)
