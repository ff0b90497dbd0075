"""The stand-in for Rasa and the action server in bench/gateway_http.py: the gateway's own
client reads its answers as it reads Rasa's, and the report shows the measurement."""

import asyncio
import threading

from aiohttp import web

from bench.gateway_http import stub_app
from bench.report import gateway_http_section
from bench.stack import free_port
from bot.gateway.rasa_client import RasaClient


def _serving(port: int, ready: threading.Event, stop: threading.Event) -> None:
    async def serve() -> None:
        runner = web.AppRunner(stub_app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await runner.cleanup()

    asyncio.run(serve())


def test_the_gateways_client_gets_two_replies_and_can_pause_and_resume() -> None:
    port = free_port()
    ready, stop = threading.Event(), threading.Event()
    server = threading.Thread(target=_serving, args=(port, ready, stop), daemon=True)
    server.start()
    try:
        assert ready.wait(10)
        rasa = RasaClient(f"http://127.0.0.1:{port}")
        replies = rasa.send("c1", "what is my balance", metadata={"channel": "sms"}, timeout=5)
        assert replies == ["You said: what is my balance", "Anything else I can help with?"]
        rasa.pause("c1")
        rasa.resume("c1")
    finally:
        stop.set()
        server.join(10)


def test_the_report_shows_the_gateways_own_latency_and_cpu() -> None:
    measured = {
        "concurrency": 50, "seconds": 60, "workers": 2, "threads": 8, "database": "sqlite",
        "rate_limits": "redis", "turns": 1003, "errors": 0, "p50": 0.0104, "p95": 0.0175,
        "p99": 0.0231, "max": 0.041, "cpu_ms_per_turn": 8.52, "core_wait_ms_per_turn": 2.07,
    }  # fmt: skip
    lines = gateway_http_section(measured)
    assert "| 50 | 1003 | 0 | 10.4 | 17.5 | 23.1 | 41.0 | 8.5 | 2.1 |" in lines
    assert any("gunicorn 2 x 8" in line for line in lines)
    assert gateway_http_section(None) == []
