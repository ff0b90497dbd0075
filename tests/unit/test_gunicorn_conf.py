"""deploy/gunicorn.conf.py as gunicorn reads it."""

from __future__ import annotations

import runpy
from pathlib import Path

from bot.gateway import safety

CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def test_a_worker_builds_the_safety_net_before_it_takes_requests() -> None:
    safety._pipeline.cache_clear()
    conf = runpy.run_path(str(CONF))
    assert conf["worker_class"] == "gthread"
    conf["post_worker_init"](None)
    assert safety._pipeline.cache_info().currsize == 1
    assert safety.check("I want to talk to a real person") is not None
