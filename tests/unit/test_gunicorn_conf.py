"""deploy/gunicorn.conf.py as gunicorn reads it."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

from bot.gateway import safety

CONF = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"


def test_a_worker_builds_the_safety_net_before_it_takes_requests() -> None:
    """...and puts what it loaded out of the garbage collector's sight (no full collection
    of the whole app in the middle of someone's turn)."""
    safety._pipeline.cache_clear()
    conf = runpy.run_path(str(CONF))
    assert conf["worker_class"] == "gthread"
    gc.unfreeze()
    try:
        conf["post_worker_init"](None)
        assert safety._pipeline.cache_info().currsize == 1
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
    assert safety.check("I want to talk to a real person") is not None
