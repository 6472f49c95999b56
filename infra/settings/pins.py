"""Problems with a stack's pinned versions: each must be one ``versions.yaml`` confirms, and
an add-on must be built for the cluster's Kubernetes minor (EKS refuses it otherwise)."""

from __future__ import annotations

from infra.settings.base import Problem
from infra.settings.cluster import ADDON_KEYS, LOAD_BALANCER_CONTROLLER_CHART, ClusterSettings
from infra.settings.data import CacheSettings, DatabaseSettings
from infra.settings.observability import COLLECTOR_CHART, ObservabilitySettings
from infra.settings.versions import catalogue


def pin_problems(
    cluster: ClusterSettings,
    database: DatabaseSettings,
    cache: CacheSettings,
    observability: ObservabilitySettings,
) -> list[Problem]:
    versions = catalogue()
    checks = [
        *(
            (f"cluster.addons.{ADDON_KEYS[addon]}", "addons", addon, version)
            for addon, version in cluster.addons.by_addon().items()
        ),
        (
            "cluster.loadBalancerControllerChartVersion",
            "charts",
            LOAD_BALANCER_CONTROLLER_CHART,
            cluster.load_balancer_controller_chart_version,
        ),
        (
            "observability.collectorChartVersion",
            "charts",
            COLLECTOR_CHART,
            observability.collector_chart_version,
        ),
        ("database.engineVersion", "engines", "aurora-postgresql", database.engine_version),
        ("cache.engineVersion", "engines", "redis", cache.engine_version),
    ]
    problems = []
    for key, section, name, version in checks:
        refusal = versions.refusal(section, name, version, cluster.kubernetes_version)
        if refusal:
            problems.append(Problem(f"platform:{key}", version, refusal))
    return problems
