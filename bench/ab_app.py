"""The webhook app, with the gateway taken from another version of bot/gateway/pipeline.py
when BENCH_PIPELINE names one: `bench.run --pipeline OLD.py` measures a change before and
after on the same code otherwise (gunicorn serves `bench.ab_app:app`)."""

from __future__ import annotations

import importlib.util
import os
import sys

from bot.web import create_app

app = create_app()

if path := os.environ.get("BENCH_PIPELINE"):
    spec = importlib.util.spec_from_file_location("pipeline_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    current = app.extensions["gateway"]
    app.extensions["gateway"] = module.Gateway(current.settings, current.sessions)
