"""Synthetic fleets of services for the scale test and the benchmark."""

from __future__ import annotations

from typing import Any


def fleet(count: int, *, repository: str = "chat-api") -> list[dict[str, Any]]:
    """``count`` services with their own name, port and path, every slot pair running."""
    return [
        {
            "name": f"svc-{index:03d}",
            "repository": repository,
            "port": 8000 + index,
            "path": f"/svc-{index:03d}",
            "secrets": ["database"] if index % 2 else ["database", "cache"],
            "release": {
                "live": "blue",
                "candidateWeight": 10,
                "blue": {"image": "1.4.2"},
                "green": {"image": "1.5.0"},
            },
        }
        for index in range(count)
    ]
