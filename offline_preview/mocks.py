"""AWS-shaped answers for the mock runtime: ids, ARNs, auto-names and the invokes programs use.

Everything is derived from the resource's URN with a hash, so two runs of the same program
give the same values and a diff between two previews shows only real changes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from platform_common import aws_regions
from platform_common.aws_types import is_auto_named, takes_tag_map
from platform_common.pulumi_values import reveal

FAKE_ACCOUNT_ID = "123456789012"

# type token -> AWS id prefix (ids look like vpc-0a1b2c3d4e5f67890)
_ID_PREFIX = {
    "aws:ec2/vpc:Vpc": "vpc",
    "aws:ec2/subnet:Subnet": "subnet",
    "aws:ec2/internetGateway:InternetGateway": "igw",
    "aws:ec2/natGateway:NatGateway": "nat",
    "aws:ec2/eip:Eip": "eipalloc",
    "aws:ec2/routeTable:RouteTable": "rtb",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "rtbassoc",
    "aws:ec2/route:Route": "r",
    "aws:ec2/securityGroup:SecurityGroup": "sg",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "sg",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "sgr",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "sgr",
    "aws:ec2/flowLog:FlowLog": "fl",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "vpce",
    "aws:ec2/launchTemplate:LaunchTemplate": "lt",
    "aws:ec2/networkAcl:NetworkAcl": "acl",
}

# type token -> ARN resource part; {id} and {name} are filled in, region/account added.
_ARN_RESOURCE = {
    "aws:ec2/vpc:Vpc": ("ec2", "vpc/{id}"),
    "aws:ec2/subnet:Subnet": ("ec2", "subnet/{id}"),
    "aws:ec2/internetGateway:InternetGateway": ("ec2", "internet-gateway/{id}"),
    "aws:ec2/natGateway:NatGateway": ("ec2", "natgateway/{id}"),
    "aws:ec2/eip:Eip": ("ec2", "elastic-ip/{id}"),
    "aws:ec2/routeTable:RouteTable": ("ec2", "route-table/{id}"),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2", "security-group/{id}"),
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": ("ec2", "security-group/{id}"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "ec2",
        "security-group-rule/{id}",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("ec2", "security-group-rule/{id}"),
    "aws:ec2/flowLog:FlowLog": ("ec2", "vpc-flow-log/{id}"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("ec2", "vpc-endpoint/{id}"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group:{name}"),
    "aws:kms/key:Key": ("kms", "key/{id}"),
    "aws:kms/alias:Alias": ("kms", "{name}"),
    "aws:iam/role:Role": ("iam", "role/{name}"),
    "aws:iam/policy:Policy": ("iam", "policy/{name}"),
    "aws:rds/cluster:Cluster": ("rds", "cluster:{name}"),
    "aws:rds/clusterInstance:ClusterInstance": ("rds", "db:{name}"),
    "aws:rds/subnetGroup:SubnetGroup": ("rds", "subgrp:{name}"),
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": ("rds", "cluster-pg:{name}"),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("elasticache", "replicationgroup:{name}"),
    "aws:elasticache/subnetGroup:SubnetGroup": ("elasticache", "subnetgroup:{name}"),
    "aws:elasticache/parameterGroup:ParameterGroup": ("elasticache", "parametergroup:{name}"),
    "aws:secretsmanager/secret:Secret": ("secretsmanager", "secret:{name}-{suffix}"),
    "aws:wafv2/webAcl:WebAcl": ("wafv2", "regional/webacl/{name}/{id}"),
    "aws:wafv2/ipSet:IpSet": ("wafv2", "regional/ipset/{name}/{id}"),
    "aws:ecr/repository:Repository": ("ecr", "repository/{name}"),
    "aws:eks/cluster:Cluster": ("eks", "cluster/{name}"),
    "aws:ec2/launchTemplate:LaunchTemplate": ("ec2", "launch-template/{id}"),
    "aws:s3/bucket:Bucket": ("s3", "{name}"),
    "aws:sns/topic:Topic": ("sns", "{name}"),
    "aws:amp/workspace:Workspace": ("aps", "workspace/{id}"),
    "aws:lambda/function:Function": ("lambda", "function:{name}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("cloudwatch", "alarm:{name}"),
    "aws:grafana/workspace:Workspace": ("grafana", "/workspaces/{id}"),
}
_GLOBAL_SERVICES = {"iam"}  # ARNs without a region
_NO_ACCOUNT_SERVICES = {"s3"}  # bucket ARNs name neither region nor account

# Types whose id is their name, as the AWS provider reports it.
_ID_IS_NAME = {
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:iam/role:Role",
    "aws:iam/policy:Policy",
    "aws:kms/alias:Alias",
    "aws:rds/cluster:Cluster",
    "aws:rds/clusterInstance:ClusterInstance",
    "aws:rds/subnetGroup:SubnetGroup",
    "aws:rds/clusterParameterGroup:ClusterParameterGroup",
    "aws:elasticache/replicationGroup:ReplicationGroup",
    "aws:elasticache/subnetGroup:SubnetGroup",
    "aws:elasticache/parameterGroup:ParameterGroup",
    "aws:ecr/repository:Repository",
    "aws:eks/cluster:Cluster",
    "aws:s3/bucket:Bucket",
    "aws:lambda/function:Function",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
}
# Types whose name is held in another input than ``name``.
_NAME_INPUT = {
    "aws:rds/cluster:Cluster": "clusterIdentifier",
    "aws:rds/clusterInstance:ClusterInstance": "identifier",
    "aws:elasticache/replicationGroup:ReplicationGroup": "replicationGroupId",
    "aws:s3/bucket:Bucket": "bucket",
}
# Types whose id is their ARN.
_ID_IS_ARN = {"aws:secretsmanager/secret:Secret", "aws:sns/topic:Topic"}


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _kubernetes_object(type_token: str) -> bool:
    """An object of the Kubernetes API (not a provider, a Helm release, or a YAML bundle)."""
    if not type_token.startswith("kubernetes:"):
        return False
    group = type_token.split(":")[1]
    return "/" in group and not group.startswith(("helm.sh", "yaml", "kustomize"))


def _uuid(digest: str) -> str:
    return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-a{digest[17:20]}-{digest[20:32]}"


_ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def random_outputs(
    type_token: str, inputs: dict[str, Any], digest: str
) -> tuple[str, dict[str, Any]]:
    """pulumi-random's results, derived from the URN: stable across runs, different per
    resource. The program's additional secret outputs keep ``result`` secret."""
    if type_token == "random:index/randomPassword:RandomPassword":
        length = int(reveal(inputs.get("length", 16)))
        stream = hashlib.sha256(digest.encode()).digest() * (length // 32 + 1)
        result = "".join(_ALPHANUMERIC[b % len(_ALPHANUMERIC)] for b in stream[:length])
        return "none", {"result": result, "bcryptHash": "$2a$10$" + digest[:53]}
    if type_token == "random:index/randomId:RandomId":
        raw = bytes.fromhex(digest)[: int(reveal(inputs.get("byteLength", 8)))]
        b64 = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return b64, {
            "hex": raw.hex(),
            "b64Url": b64,
            "b64Std": base64.b64encode(raw).decode(),
            "dec": str(int.from_bytes(raw, "big")),
        }
    return "", {}


@dataclass
class AwsMocks:
    """Answers for resources and invokes, for one stack in one region of a fake account."""

    region: str = "us-east-1"
    account_id: str = FAKE_ACCOUNT_ID
    unknowns: bool = False  # leave computed attributes unknown, like a first real preview
    # The IAM role the program runs as (getCallerIdentity answers with a session of it);
    # a path is allowed, as for SSO roles. Default: role/offline of the fake account.
    caller_role_arn: str | None = None

    @property
    def partition(self) -> str:
        return aws_regions.partition(self.region)

    def check(self, type_token: str, name: str, urn: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """What the provider's Check adds to the inputs: an auto-name (logical name plus a
        random suffix) for types that have a ``name`` the program left out. This happens
        in a real preview too, so it is not subject to ``unknowns``."""
        if is_auto_named(type_token) and "name" not in inputs:
            return {**inputs, "name": f"{name}-{_digest(urn)[:7]}"}
        if type_token == "aws:s3/bucket:Bucket" and not {"bucket", "bucketPrefix"} & set(inputs):
            return {**inputs, "bucket": f"{name.lower()}-{_digest(urn)[:7]}"}
        metadata = inputs.get("metadata") or {}
        # pulumi-kubernetes names an object after its logical name plus a random suffix.
        if _kubernetes_object(type_token) and isinstance(metadata, dict) and "name" not in metadata:
            named = {**metadata, "name": f"{name}-{_digest(urn)[:8]}"}
            return {**inputs, "metadata": named}
        return inputs

    def new_resource(
        self, type_token: str, name: str, urn: str, inputs: dict[str, Any],
        region: str | None = None,
    ) -> tuple[str, dict[str, Any]]:  # fmt: skip
        """The resource's id and the attributes the provider computes (inputs excluded).

        ``inputs`` are in wire form, so values derived from them keep their secret markers.
        ``region`` is that of the resource's explicit provider, when it names one.
        """
        if self.unknowns:
            return "", {}
        digest = _digest(urn)
        if type_token.startswith("random:"):
            return random_outputs(type_token, inputs, digest)
        if type_token.startswith("pulumi:providers:"):
            return _uuid(digest), {}
        if type_token.startswith("kubernetes:"):
            return _kubernetes_id(type_token, name, inputs), {}
        if not type_token.startswith("aws:"):
            return "", {}
        computed: dict[str, Any] = {}
        given_name = inputs.get(_NAME_INPUT.get(type_token, "name"))
        resource_name = given_name if isinstance(given_name, str) and given_name else name
        resource_id = self._resource_id(type_token, resource_name, digest)
        arn = self._arn(type_token, resource_id, resource_name, digest, region or self.region)
        if arn:
            computed["arn"] = arn
            if type_token in _ID_IS_ARN:
                resource_id = arn
        if takes_tag_map(type_token):
            computed["tagsAll"] = inputs.get("tags") or {}
        computed.update(self._type_specific(type_token, resource_id, digest, inputs))
        return resource_id, computed

    def _resource_id(self, type_token: str, resource_name: str, digest: str) -> str:
        if type_token in _ID_IS_NAME:
            return resource_name
        if type_token in ("aws:kms/key:Key", "aws:wafv2/webAcl:WebAcl", "aws:wafv2/ipSet:IpSet"):
            return _uuid(digest)
        if type_token == "aws:amp/workspace:Workspace":
            return f"ws-{_uuid(digest)}"
        if type_token == "aws:grafana/workspace:Workspace":
            return f"g-{digest[:10]}"
        prefix = _ID_PREFIX.get(type_token)
        return f"{prefix}-0{digest[:16]}" if prefix else f"{resource_name}-{digest[:8]}"

    def _arn(
        self, type_token: str, resource_id: str, resource_name: str, digest: str, in_region: str
    ) -> str | None:
        service, pattern = _ARN_RESOURCE.get(type_token, (None, None))
        if service is None or pattern is None:
            module = type_token.split(":")[1].split("/")[0]
            kind = type_token.split(":")[-1].lower()
            service, pattern = module, kind + "/{id}"
        region = "" if service in _GLOBAL_SERVICES | _NO_ACCOUNT_SERVICES else in_region
        account = "" if service in _NO_ACCOUNT_SERVICES else self.account_id
        resource = pattern.format(id=resource_id, name=resource_name, suffix=digest[-6:])
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def _type_specific(
        self, type_token: str, resource_id: str, digest: str, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        if type_token == "aws:ec2/vpc:Vpc":
            return {
                "defaultSecurityGroupId": f"sg-1{digest[16:32]}",
                "defaultRouteTableId": f"rtb-1{digest[16:32]}",
                "mainRouteTableId": f"rtb-1{digest[16:32]}",
                "defaultNetworkAclId": f"acl-1{digest[16:32]}",
                "ownerId": self.account_id,
            }
        if type_token in ("aws:ec2/eip:Eip", "aws:ec2/natGateway:NatGateway"):
            octet = int(digest[:2], 16) % 254 + 1
            return {"allocationId": resource_id, "publicIp": f"203.0.113.{octet}"}
        if type_token == "aws:kms/key:Key":
            return {"keyId": resource_id}
        if type_token == "aws:amp/workspace:Workspace":
            # As DescribeWorkspace shows it: with a trailing slash.
            endpoint = (
                f"https://aps-workspaces.{self.region}.amazonaws.com/workspaces/{resource_id}/"
            )
            return {"prometheusEndpoint": endpoint}
        if type_token == "aws:grafana/workspace:Workspace":
            return {"endpoint": f"{resource_id}.grafana-workspace.{self.region}.amazonaws.com"}
        if type_token == "aws:iam/role:Role":
            return {"uniqueId": "AROA" + digest[:17].upper()}
        if type_token == "aws:ec2/vpcEndpoint:VpcEndpoint":
            return {"prefixListId": f"pl-{digest[:8]}", "dnsEntries": [], "networkInterfaceIds": []}
        if type_token.startswith("aws:rds/"):
            return self._rds(type_token, resource_id, digest, inputs)
        if type_token == "aws:elasticache/replicationGroup:ReplicationGroup":
            host = f"{resource_id}.{digest[:6]}.{self._short_region()}.cache.amazonaws.com"
            return {
                "primaryEndpointAddress": f"master.{host}",
                "readerEndpointAddress": f"replica.{host}",
                "memberClusters": [
                    f"{resource_id}-{n:03d}"
                    for n in range(1, int(inputs.get("numCacheClusters", 1)) + 1)
                ],
            }
        if type_token == "aws:secretsmanager/secretVersion:SecretVersion":
            version = _uuid(digest)
            return {"versionId": version, "arn": reveal(inputs.get("secretId"))}
        if type_token in ("aws:wafv2/webAcl:WebAcl", "aws:wafv2/ipSet:IpSet"):
            return {"lockToken": _uuid(digest[::-1]), "capacity": 700}
        if type_token == "aws:ecr/repository:Repository":
            url = f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com/{resource_id}"
            return {"repositoryUrl": url, "registryId": self.account_id}
        if type_token == "aws:ecr/lifecyclePolicy:LifecyclePolicy":
            return {"registryId": self.account_id}
        if type_token.startswith("aws:eks/"):
            return self._eks(type_token, resource_id, digest, inputs)
        if type_token == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            issuer = str(reveal(inputs.get("url", ""))).removeprefix("https://")
            return {"arn": f"arn:{self.partition}:iam::{self.account_id}:oidc-provider/{issuer}"}
        if type_token == "aws:ec2/launchTemplate:LaunchTemplate":
            return {"latestVersion": 1, "defaultVersion": 1}
        if type_token == "aws:s3/bucket:Bucket":
            return {
                "bucket": resource_id,
                "bucketDomainName": f"{resource_id}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{resource_id}.s3.{self.region}.amazonaws.com",
                "region": self.region,
            }
        return {}

    def _eks(
        self, type_token: str, resource_id: str, digest: str, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        if type_token == "aws:eks/cluster:Cluster":
            oidc_id = digest[:32].upper()
            return {
                "endpoint": f"https://{oidc_id}.gr7.{self.region}.eks.amazonaws.com",
                "certificateAuthority": {
                    "data": base64.b64encode(f"offline CA of {resource_id}".encode()).decode()
                },
                "identities": [
                    {
                        "oidcs": [
                            {"issuer": f"https://oidc.eks.{self.region}.amazonaws.com/id/{oidc_id}"}
                        ]
                    }
                ],
                "vpcConfig": {
                    **(inputs.get("vpcConfig") or {}),
                    "clusterSecurityGroupId": f"sg-2{digest[16:32]}",
                    "vpcId": f"vpc-0{digest[32:48]}",
                },
                "platformVersion": "eks.1",
                "status": "ACTIVE",
            }
        if type_token == "aws:eks/nodeGroup:NodeGroup":
            prefix = str(inputs.get("nodeGroupNamePrefix", "nodes-"))
            return {"nodeGroupName": f"{prefix}{digest[:26]}", "status": "ACTIVE"}
        return {}

    def _rds(
        self, type_token: str, resource_id: str, digest: str, inputs: dict[str, Any]
    ) -> dict[str, Any]:
        host = f"{digest[:12]}.{self.region}.rds.amazonaws.com"
        if type_token == "aws:rds/cluster:Cluster":
            computed: dict[str, Any] = {
                "endpoint": f"{resource_id}.cluster-{host}",
                "readerEndpoint": f"{resource_id}.cluster-ro-{host}",
                "clusterResourceId": "cluster-" + digest[:26].upper(),
                "port": inputs.get("port", 5432),
            }
            if inputs.get("manageMasterUserPassword"):
                # RDS names the secret it manages after the cluster's resource id.
                secret = f"rds!cluster-{_uuid(digest)}-{digest[-6:]}"
                computed["masterUserSecrets"] = [
                    {
                        "secretArn": (
                            f"arn:{self.partition}:secretsmanager:{self.region}:"
                            f"{self.account_id}:secret:{secret}"
                        ),
                        "kmsKeyId": inputs.get("masterUserSecretKmsKeyId", ""),
                        "secretStatus": "active",
                    }
                ]
            return computed
        if type_token == "aws:rds/clusterInstance:ClusterInstance":
            return {"endpoint": f"{resource_id}.{host}", "port": 5432, "writer": False}
        return {}

    def _short_region(self) -> str:
        # ElastiCache host names abbreviate the region: us-east-1 -> use1.
        area, direction, number = self.region.split("-")
        return f"{area[:2]}{direction[0]}{number}"

    # -- invokes -----------------------------------------------------------------------

    def call(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = self._invokes().get(token)
        if handler is None:
            raise LookupError(
                f"the offline engine has no answer for invoke '{token}'; "
                f"answered: {', '.join(sorted(self._invokes()))}"
            )
        return handler(args)

    def _invokes(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "aws:index/getAvailabilityZones:getAvailabilityZones": self._availability_zones,
            "aws:index/getCallerIdentity:getCallerIdentity": self._caller_identity,
            "aws:index/getRegion:getRegion": self._region,
            "aws:index/getPartition:getPartition": self._partition,
        }

    def _availability_zones(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.region not in aws_regions.REGION_ZONES:
            return {"id": self.region, "names": [], "zoneIds": [], "groupNames": []}
        names = aws_regions.zone_names(self.region)
        ids = aws_regions.zone_ids(self.region)
        return {
            "id": self.region,
            "names": names,
            "zoneIds": ids,
            "groupNames": [self.region] * len(names),
            "state": args.get("state"),
        }

    @property
    def caller_role(self) -> str:
        default = f"arn:{self.partition}:iam::{self.account_id}:role/offline"
        return self.caller_role_arn or default

    def _session_arn(self) -> str:
        role_name = self.caller_role.rsplit("/", 1)[-1]
        account = self.caller_role.split(":")[4]
        return f"arn:{self.partition}:sts::{account}:assumed-role/{role_name}/preview"

    def _caller_identity(self, _args: dict[str, Any]) -> dict[str, Any]:
        account = self.caller_role.split(":")[4]
        return {
            "id": account,
            "accountId": account,
            "arn": self._session_arn(),
            "userId": "AROAOFFLINEPREVIEW:preview",
        }

    def _region(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.region,
            "name": self.region,
            "region": self.region,
            "endpoint": f"ec2.{self.region}.amazonaws.com",
            "description": self.region,
        }

    def _partition(self, _args: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self.partition,
            "partition": self.partition,
            "dnsSuffix": "amazonaws.com",
            "reverseDnsPrefix": "com.amazonaws",
        }


def _kubernetes_id(type_token: str, name: str, inputs: dict[str, Any]) -> str:
    """Kubernetes objects are known by namespace/name (cluster-scoped ones by name)."""
    metadata = inputs.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    object_name = reveal(metadata.get("name")) or reveal(inputs.get("name")) or name
    namespace = reveal(metadata.get("namespace")) or reveal(inputs.get("namespace"))
    return f"{namespace}/{object_name}" if namespace else str(object_name)
