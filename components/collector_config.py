"""The metrics collector's configuration: a Prometheus in agent mode that scrapes every
service's pods and writes to the stack's workspace. Pure, so the component and the tests
(``promtool check config``, and a real Prometheus applying the relabelling) share it.

Every series leaves labelled ``stack``, ``service`` (the pods' ``app`` label), ``slot``,
``namespace`` and ``pod``: the labels the release analysis and the SLO rules select on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

# The container port a service serves on is named "http" (components/workload.py); its
# metrics are at /metrics on that port (docs/observability.md, the service contract).
METRICS_PORT_NAME = "http"
METRICS_PATH = "/metrics"
JOB = "services"


def relabel_configs(stack: str) -> list[dict[str, Any]]:
    """From a pod's discovery labels to the series' labels; pods that are not a service's,
    ports that are not its serving port and pods that are not running are dropped."""
    return [
        {
            "source_labels": ["__meta_kubernetes_pod_container_port_name"],
            "regex": METRICS_PORT_NAME,
            "action": "keep",
        },
        {"source_labels": ["__meta_kubernetes_pod_label_app"], "regex": ".+", "action": "keep"},
        {"source_labels": ["__meta_kubernetes_pod_label_slot"], "regex": ".+", "action": "keep"},
        {
            "source_labels": ["__meta_kubernetes_pod_phase"],
            "regex": "Pending|Succeeded|Failed|Unknown",
            "action": "drop",
        },
        {"target_label": "stack", "replacement": stack},
        {"source_labels": ["__meta_kubernetes_pod_label_app"], "target_label": "service"},
        {"source_labels": ["__meta_kubernetes_pod_label_slot"], "target_label": "slot"},
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
    ]


def agent_config(
    *,
    stack: str,
    namespaces: Sequence[str],
    scrape_interval_seconds: int,
    remote_write_url: str,
    region: str,
) -> dict[str, Any]:
    """prometheus.yml for ``prometheus --agent``: scrape the services' namespaces only, write
    to the workspace with SigV4 (the pod's IRSA role signs)."""
    interval = f"{scrape_interval_seconds}s"
    return {
        "global": {
            "scrape_interval": interval,
            # A scrape never outlasts its interval: the next one would overlap it.
            "scrape_timeout": f"{min(scrape_interval_seconds, 10)}s",
        },
        "scrape_configs": [
            {
                "job_name": JOB,
                "metrics_path": METRICS_PATH,
                "kubernetes_sd_configs": [
                    {"role": "pod", "namespaces": {"names": sorted(namespaces)}}
                ],
                "relabel_configs": relabel_configs(stack),
            }
        ],
        "remote_write": [
            {
                "url": remote_write_url,
                "sigv4": {"region": region},
                # AWS's sizing for AMP ingestion from a Prometheus server.
                "queue_config": {
                    "max_samples_per_send": 1000,
                    "max_shards": 200,
                    "capacity": 2500,
                },
            }
        ],
    }


def agent_config_yaml(**arguments: Any) -> str:
    return yaml.safe_dump(agent_config(**arguments), sort_keys=False, width=1000)
