"""The benchmark's Rasa path sends each conversation where the gateway would. With several Rasa
instances, every message of one conversation reaches one instance, the one the gateway's
RasaClient picks for it; otherwise the two paths would load the instances differently and
their latencies would not compare. Real HTTP on loopback (aiohttp servers standing in for
Rasa's REST channel)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
from aiohttp import web

from bench.load import RasaRestClient
from bot.gateway.rasa_client import RasaClient


async def _routes(instances: int, senders: list[str], messages: int) -> dict[str, set[str]]:
    """Which instance URLs each sender's messages reached."""
    reached: dict[str, set[str]] = defaultdict(set)
    runners: list[web.AppRunner] = []
    urls: list[str] = []

    def handler_for(index: int):  # type: ignore[no-untyped-def]
        async def webhook(request: web.Request) -> web.Response:
            body = await request.json()
            reached[body["sender"]].add(urls[index])
            return web.json_response([{"recipient_id": body["sender"], "text": "ok"}])

        return webhook

    for _ in range(instances):
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", handler_for(len(urls)))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        urls.append(f"http://127.0.0.1:{port}")
        runners.append(runner)
    try:
        client = RasaRestClient(tuple(urls))
        async with aiohttp.ClientSession() as http:
            for turn in range(messages):
                for sender in senders:
                    payload = {"sender": sender, "message": f"message {turn}", "metadata": {}}
                    status, bodies = await client.post(http, payload, timeout=5)
                    assert (status, bodies) == (200, ["ok"])
    finally:
        for runner in runners:
            await runner.cleanup()
    gateway = RasaClient(",".join(urls))
    for sender, where in reached.items():
        assert where == {gateway.url_for(sender)}, f"{sender} went to {where}"
    return reached


def _run(instances: int, senders: list[str], messages: int) -> dict[str, set[str]]:
    """In a thread of its own: the browser tests leave an event loop running in this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _routes(instances, senders, messages)).result()


def test_each_conversation_stays_on_the_instance_the_gateway_picks() -> None:
    senders = [f"bench-{i:04d}" for i in range(40)]
    reached = _run(2, senders, messages=3)

    assert set(reached) == set(senders)
    assert all(len(where) == 1 for where in reached.values())
    per_instance = defaultdict(int)
    for where in reached.values():
        per_instance[next(iter(where))] += 1
    # both instances take a share of the conversations (40 ids: neither gets all)
    assert len(per_instance) == 2 and min(per_instance.values()) >= 8


def test_one_instance_takes_every_conversation() -> None:
    reached = _run(1, ["bench-a", "bench-b"], messages=2)

    assert len({url for where in reached.values() for url in where}) == 1


def test_instances_are_loopback_only() -> None:
    with pytest.raises(ValueError):
        RasaRestClient(("http://127.0.0.1:5005", "http://10.0.0.7:5005"))
