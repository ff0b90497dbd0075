"""`rasa train` from scratch, timed: what a change to data/, domain.yml or config.yml costs
before the assistant answers with it. Used by bench/run.py (--train)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.environment import say
from bench.stack import RASA, ROOT


def time_training() -> dict[str, Any]:
    """`rasa train` from scratch (empty cache) into a temporary directory, timed."""
    say("timing `rasa train` from scratch (empty cache; 1-3 minutes on 2 cores)")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        env = {
            **os.environ,
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "PYTHONWARNINGS": "ignore",
            "PYTHONPATH": str(ROOT),
            "RASA_CACHE_DIRECTORY": str(Path(tmp) / "cache"),
        }
        log = Path(tmp) / "train.log"
        started = time.monotonic()
        with log.open("wb") as out:
            done = subprocess.run(
                [str(RASA), "train", "--fixed-model-name", "bench", "--out", tmp],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=1800,
            )
        seconds = time.monotonic() - started
        model = Path(tmp) / "bench.tar.gz"
        ok = done.returncode == 0 and model.exists()
        size = model.stat().st_size if ok else 0
        if not ok:
            say(f"  training failed:\n{log.read_text(errors='replace')[-2000:]}")
    say(f"  trained in {seconds:.0f} s ({size / 1e6:.1f} MB model)")
    return {"seconds": round(seconds, 1), "ok": ok, "model_mb": round(size / 1e6, 1)}
