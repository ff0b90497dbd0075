"""The assistant's wording, read from domain.yml: the gateway's own replies (HELP, opt-out
confirmation, crisis resources, holding replies) use the same responses compliance reviews."""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path

import yaml

from bot.config import ROOT


@lru_cache(maxsize=2)
def _responses(path: Path) -> dict[str, list[str]]:
    domain = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        name: [v["text"] for v in variations] for name, variations in domain["responses"].items()
    }


def render(name: str, **values: object) -> str:
    """One variation of the response `name` (chosen at random, like Rasa does) with its
    `{placeholders}` filled in from `values`."""
    variations = _responses(ROOT / "domain.yml")[name]
    text = random.choice(variations)
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)
