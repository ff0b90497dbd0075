"""gunicorn settings for the webhook app (`gunicorn -c deploy/gunicorn.conf.py webhook_app:app`).

Threaded workers: a request waits on Rasa for up to the gateway's deadline (5 s), so each
worker serves several at once. Every value can be set from the environment; command-line
flags override this file.
"""

import gc
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('WEB_PORT', '5000')}")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Longer than the gateway's Rasa deadline (5 s) and the late-reply hand-over; then recycled.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "10"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then (memory), staggered so they do not restart together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max(0, max_requests // 10)
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Behind one proxy: the app's ProxyFix trusts its X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Before a worker (a new one, or one recycled by max_requests) takes requests: build the
    safety net's spaCy pipeline, so no texter's first message waits most of a second for it."""
    from bot.gateway import safety

    safety.warm()
    # What is loaded by now (the app, its libraries, that pipeline) lives as long as the
    # worker: out of the collector's sight, so that a full collection scans what requests
    # left behind, not the ~180,000 loaded before (86 ms in one measured; every thread waits).
    gc.freeze()
