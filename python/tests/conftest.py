"""Shared pieces of the package's tests: tiny training budgets and a helper that
compares metrics without their wall-clock fields."""

from __future__ import annotations

import pytest

#: A run that takes well under a second on two cores.
TINY = {
    "generations": 2,
    "population": 8,
    "network.neurons": 16,
    "evaluation.eval_members": 2,
}

#: Fields of metrics.jsonl that depend on the clock (scripts/metrics_identity.sh).
TIMING = {"wall_s", "env_steps_per_s"}


def untimed(metrics: list[dict]) -> list[dict]:
    """The metrics without their wall-clock fields."""
    return [{k: v for k, v in m.items() if k not in TIMING} for m in metrics]


@pytest.fixture
def tiny() -> dict:
    return dict(TINY)
