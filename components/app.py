"""The chat platform's services on Kubernetes, each with a blue and a green slot behind one
weighted ALB rule, so a release is a change of weights or of the live slot."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.parts import OidcIssuer, irsa_role
from components.workload import (
    NOT_FOUND_ACTION,
    POD_SECURITY,
    SERVICE_PORT,
    SLOTS,
    AccessLogTarget,
    LoadBalancerArgs,
    ServiceArgs,
    anchor_annotations,
    config_map_name,
    dns_egress,
    group_orders,
    https_egress,
    image_reference,
    ingress_annotations,
    ingress_rules,
    labels,
    pod_template,
    slot_service_name,
    version_label,
    weights,
)

# Where the ALB group's anchor Ingress lives: no service is ever named so.
EDGE_NAMESPACE = "platform-edge"


@dataclass(frozen=True)
class DataStore:
    """The database as its clients reach it: with IAM tokens, as a Postgres role per service
    (``dbuser_arn_prefix``/<role> is what rds-db:connect names), never the master secret."""

    host: pulumi.Input[str]
    reader_host: pulumi.Input[str]
    port: int
    dbuser_arn_prefix: pulumi.Input[str]  # arn:...:rds-db:<region>:<account>:dbuser:<id>


@dataclass(frozen=True)
class CacheAccess:
    """The cache as its clients reach it: no secret, an IAM-authenticated user per service."""

    host: pulumi.Input[str]
    reader_host: pulumi.Input[str]
    port: int
    replication_group_id: str
    arn: pulumi.Input[str]
    user_ids: Mapping[str, str]
    user_arns: Mapping[str, pulumi.Input[str]]


@dataclass(frozen=True)
class AppArgs:
    name_prefix: str
    region: str
    host: str
    preview_host: str
    preview_allowed_cidrs: Sequence[str]
    certificate_arn: str
    web_acl_arn: pulumi.Input[str]
    vpc_cidr: str
    data_subnet_cidrs: Sequence[str]  # where the database and cache listen
    issuer: OidcIssuer
    database: DataStore
    database_name: str
    cache: CacheAccess
    services: Sequence[ServiceArgs]
    provider: k8s.Provider
    tags: Mapping[str, str]  # put on the ALB and its target groups
    access_logs: AccessLogTarget
    load_balancer_deletion_protection: bool
    protect: bool

    @property
    def load_balancer(self) -> LoadBalancerArgs:
        return LoadBalancerArgs(
            group=self.name_prefix,
            certificate_arn=self.certificate_arn,
            web_acl_arn=self.web_acl_arn,
            tags=self.tags,
            access_logs=self.access_logs,
            deletion_protection=self.load_balancer_deletion_protection,
        )


class App(pulumi.ComponentResource):
    """``releases`` (service -> live slot, strategy, percent and image per slot) is what the
    release driver reads back after an ``up``."""

    releases: dict[str, dict[str, object]]

    def __init__(self, name: str, args: AppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("platform:components:App", name, None, opts)
        self._args = args
        self._k8s = pulumi.ResourceOptions(parent=self, provider=args.provider)
        orders = group_orders([s.path for s in args.services])
        self._anchor()
        self.releases = {}
        for service, order in zip(args.services, orders, strict=True):
            self._service(service, order)
            self.releases[service.name] = {
                "live": service.live,
                "strategy": service.strategy,
                "weights": weights(service),
                # What each slot runs: the driver compares it with the stack file before a
                # release, and a promotion reads the source's live image from here.
                "images": {name: slot.image for name, slot in service.slots.items()},
            }
        self.register_outputs({"releases": self.releases})

    def _service(self, service: ServiceArgs, order: int) -> None:
        args, name = self._args, service.name
        namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": name,
                "labels": {
                    **POD_SECURITY,
                    # Rollouts wait until the ALB sees new pods healthy before stopping old ones.
                    "elbv2.k8s.aws/pod-readiness-gate-inject": "enabled",
                },
            },
            opts=self._k8s,
        )
        ns = namespace.metadata.name
        self._service_account(service, ns)
        settings_hash = self._config_map(service, ns)
        self._network_policies(service, ns)
        slot_services = [self._slot_service(service, slot, ns) for slot in SLOTS]
        # The controller gives a pod its ALB readiness gate only when the pod is created
        # after the target group binding of its Service exists. The binding exists once
        # the Ingress is ready (Pulumi waits for the load balancer's address), so the slots'
        # Deployments are created after it.
        ingress = k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata={
                "name": name,
                "namespace": ns,
                "annotations": ingress_annotations(
                    service,
                    alb=args.load_balancer,
                    order=order,
                    preview_allowed_cidrs=args.preview_allowed_cidrs,
                ),
            },
            spec={
                "ingress_class_name": "alb",
                "rules": ingress_rules(service, host=args.host, preview_host=args.preview_host),
            },
            opts=pulumi.ResourceOptions.merge(
                self._k8s, pulumi.ResourceOptions(depends_on=slot_services)
            ),
        )
        for slot in SLOTS:
            self._slot(service, slot, ns, settings_hash, ingress)

    def _anchor(self) -> None:
        """The ALB group's anchor Ingress, in a namespace of its own: it holds the deletion
        protection, so removing or renaming a service never waits on a protected Ingress,
        and the ALB is deleted only after this Ingress is turned unprotected."""
        namespace = k8s.core.v1.Namespace(
            "edge-ns",
            metadata={"name": EDGE_NAMESPACE, "labels": POD_SECURITY},
            opts=self._k8s,
        )
        ns = namespace.metadata.name
        # No pod ever runs here; deny-all keeps that true for anything added by hand.
        k8s.networking.v1.NetworkPolicy(
            "edge-deny-all",
            metadata={"name": "deny-all", "namespace": ns},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=self._k8s,
        )
        k8s.networking.v1.Ingress(
            "edge-ingress",
            metadata={
                "name": "load-balancer",
                "namespace": ns,
                "annotations": anchor_annotations(self._args.load_balancer),
            },
            spec={
                "ingress_class_name": "alb",
                "default_backend": {
                    "service": {"name": NOT_FOUND_ACTION, "port": {"name": "use-annotation"}}
                },
            },
            opts=self._k8s,
        )

    def _role_policy(self, service: ServiceArgs) -> pulumi.Output[str] | None:
        """The database and the cache, each as the service's own user with IAM tokens:
        what the service's sources name, nothing more, and no secret."""
        args = self._args
        database: list[pulumi.Input[str]] = (
            [
                pulumi.Output.concat(
                    args.database.dbuser_arn_prefix, "/", database_user(service.name)
                )
            ]
            if "database" in service.secret_sources
            else []
        )
        cache: list[pulumi.Input[str]] = (
            [args.cache.arn, args.cache.user_arns[service.name]]
            if "cache" in service.secret_sources
            else []
        )
        if not database and not cache:
            return None
        return pulumi.Output.all(database, cache).apply(lambda v: service_policy(v[0], v[1]))

    def _service_account(self, service: ServiceArgs, ns: pulumi.Output[str]) -> None:
        annotations: dict[str, pulumi.Input[str]] = {}
        policy = self._role_policy(service)
        if policy is not None:
            role, _ = irsa_role(
                f"{service.name}-role",
                issuer=self._args.issuer,
                namespace=service.name,
                service_account=service.name,
                description=f"IRSA role of {service.name}: its own secrets and cache user only",
                inline_policy=policy,
                parent=self,
            )
            annotations["eks.amazonaws.com/role-arn"] = role.arn
        k8s.core.v1.ServiceAccount(
            f"{service.name}-sa",
            metadata={"name": service.name, "namespace": ns, "annotations": annotations},
            automount_service_account_token=False,
            opts=self._k8s,
        )

    def _config_map(self, service: ServiceArgs, ns: pulumi.Output[str]) -> pulumi.Output[str]:
        args = self._args
        data: dict[str, pulumi.Input[str]] = {
            **service.env,
            "AWS_REGION": args.region,
            "SERVICE_NAME": service.name,
            "SERVICE_PORT": str(service.port),
        }
        if "database" in service.secret_sources:
            data |= {
                "DATABASE_HOST": args.database.host,
                "DATABASE_READER_HOST": args.database.reader_host,
                "DATABASE_PORT": str(args.database.port),
                "DATABASE_NAME": args.database_name,
                # IAM authentication: the client asks RDS for a token for this role.
                "DATABASE_USER": database_user(service.name),
            }
        if "cache" in service.secret_sources:
            data |= {
                "CACHE_HOST": args.cache.host,
                "CACHE_READER_HOST": args.cache.reader_host,
                "CACHE_PORT": str(args.cache.port),
                # IAM authentication: the client signs a token for this user and group.
                "CACHE_USER": args.cache.user_ids[service.name],
                "CACHE_REPLICATION_GROUP_ID": args.cache.replication_group_id,
            }
        k8s.core.v1.ConfigMap(
            f"{service.name}-settings",
            metadata={"name": config_map_name(service.name), "namespace": ns},
            data=data,
            opts=self._k8s,
        )
        return pulumi.Output.all(**data).apply(
            lambda values: hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()
        )

    def _network_policies(self, service: ServiceArgs, ns: pulumi.Output[str]) -> None:
        args = self._args
        k8s.networking.v1.NetworkPolicy(
            f"{service.name}-deny-all",
            metadata={"name": "deny-all", "namespace": ns},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=self._k8s,
        )
        ports = {"database": args.database.port, "cache": args.cache.port}
        store_ports = [ports[source] for source in service.secret_sources]
        # DNS, and HTTPS: AWS APIs (STS, Secrets Manager) and the model providers it calls.
        egress = [dns_egress(), https_egress()]
        if store_ports:
            egress.append(
                {
                    "to": [{"ip_block": {"cidr": cidr}} for cidr in args.data_subnet_cidrs],
                    "ports": [{"protocol": "TCP", "port": port} for port in store_ports],
                }
            )
        k8s.networking.v1.NetworkPolicy(
            f"{service.name}-allow",
            metadata={"name": service.name, "namespace": ns},
            spec={
                "pod_selector": {"match_labels": {"app": service.name}},
                "policy_types": ["Ingress", "Egress"],
                # The ALB (IP targets) and kubelet probes come from inside the VPC.
                "ingress": [
                    {
                        "from_": [{"ip_block": {"cidr": args.vpc_cidr}}],
                        "ports": [{"protocol": "TCP", "port": service.port}],
                    }
                ],
                "egress": egress,
            },
            opts=self._k8s,
        )

    def _slot_service(
        self, service: ServiceArgs, slot: str, ns: pulumi.Output[str]
    ) -> k8s.core.v1.Service:
        name = slot_service_name(service.name, slot)
        return k8s.core.v1.Service(
            f"{name}-svc",
            metadata={"name": name, "namespace": ns},
            spec={
                "type": "ClusterIP",
                "selector": labels(service.name, slot),
                "ports": [{"name": "http", "port": SERVICE_PORT, "target_port": "http"}],
            },
            opts=self._k8s,
        )

    def _slot(
        self,
        service: ServiceArgs,
        slot: str,
        ns: pulumi.Output[str],
        settings_hash: pulumi.Output[str],
        ingress: k8s.networking.v1.Ingress,
    ) -> None:
        name = slot_service_name(service.name, slot)
        selector = labels(service.name, slot)
        spec = service.slots[slot]
        if spec.image is None:
            return  # nothing to run yet; the Service waits with no endpoints at weight 0
        image = pulumi.Output.from_input(service.image_repository).apply(
            lambda repository: image_reference(repository, spec.image or "")
        )
        deployment_spec: k8s.apps.v1.DeploymentSpecArgsDict = {
            "selector": {"match_labels": selector},
            "strategy": {
                "type": "RollingUpdate",
                "rolling_update": {"max_unavailable": 0, "max_surge": "25%"},
            },
            "template": pod_template(
                service, slot, image, version_label(spec.image), settings_hash
            ),
        }
        # While the slot runs, its autoscaler owns the count: setting it here would reset
        # the count on every `up`.
        if spec.scaled_down:
            deployment_spec["replicas"] = 0
        deployment = k8s.apps.v1.Deployment(
            name,
            metadata={"name": name, "namespace": ns, "labels": selector},
            spec=deployment_spec,
            opts=pulumi.ResourceOptions.merge(
                self._k8s, pulumi.ResourceOptions(depends_on=[ingress])
            ),
        )
        if not spec.running:
            return
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata={"name": name, "namespace": ns},
            spec={
                "scale_target_ref": {
                    "api_version": "apps/v1",
                    "kind": "Deployment",
                    "name": deployment.metadata.name,
                },
                "min_replicas": spec.replicas,
                "max_replicas": service.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "average_utilization": service.target_cpu_percent,
                            },
                        },
                    }
                ],
                # Scale in slowly: a canary's traffic share moves in steps.
                "behavior": {"scale_down": {"stabilization_window_seconds": 300}},
            },
            opts=self._k8s,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": name, "namespace": ns},
            spec={"max_unavailable": 1, "selector": {"match_labels": selector}},
            opts=self._k8s,
        )


def database_user(service: str) -> str:
    """The service's Postgres role: its name with underscores (no quoting needed in SQL)."""
    return service.replace("-", "_")


def service_policy(database_users: list[str], cache_arns: list[str]) -> str:
    """Connect to the database as one Postgres role (rds-db:connect on that dbuser) and to
    the cache as one user (IAM authentication needs elasticache:Connect on both the
    replication group and the user): tokens signed with the role, no secret to read."""
    statements: list[dict[str, object]] = []
    if database_users:
        statements.append(
            {
                "Sid": "ConnectAsOwnDatabaseRole",
                "Effect": "Allow",
                "Action": "rds-db:connect",
                "Resource": sorted(database_users),
            }
        )
    if cache_arns:
        statements.append(
            {
                "Sid": "ConnectAsOwnCacheUser",
                "Effect": "Allow",
                "Action": "elasticache:Connect",
                "Resource": sorted(cache_arns),
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
