"""Reading this process's Prometheus metrics in tests: a sample's value before and after a known action."""
from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The sample's value; 0 when the series has not been written yet."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
