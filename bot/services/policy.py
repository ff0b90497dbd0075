"""The creditor policy file (bot/policy.yml by default, POLICY_FILE to override)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from bot.domain.plans import PlanPolicy


@lru_cache(maxsize=4)
def load_policy(path: Path) -> PlanPolicy:
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of policy settings")
    return PlanPolicy.from_mapping(data)
