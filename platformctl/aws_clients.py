"""How every AWS client platformctl makes behaves."""

from __future__ import annotations

from typing import Any

# Short timeouts and no hidden retries: the driver retries on its own interval, and a dead
# endpoint must cost seconds, not minutes.
AWS_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 10,
    "retries": {"total_max_attempts": 2, "mode": "standard"},
}
