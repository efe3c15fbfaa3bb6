"""Server-sent events: the screen pop reaches the collector the moment the engine bridges
the call, state changes follow, and streams end when the daemon stops; the events hub
behind them, alone."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
from webkit import login, running, write_settings

from dialer.domain.agents import Collector
from dialer.domain.calls import Call
from dialer.domain.commands import AttemptFinished, Bridge, Command
from dialer.domain.events import CollectorLoggedIn
from dialer.engine import Engine, EngineConfig
from dialer.pacing.policies import make_pacer
from dialer.web.events_hub import QUEUE_SIZE, EventsHub, HubMessage
from dialer.web.sse import format_event


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    name, data = "message", list[str]()
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield name, "\n".join(data)
            name, data = "message", list[str]()
        elif line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            data.append(line[len("data: ") :])


async def _next(events: AsyncIterator[tuple[str, str]], kind: str) -> str:
    async with asyncio.timeout(10):
        async for name, data in events:
            if name == kind:
                return data
    raise AssertionError(f"stream ended before a {kind!r} event")


async def test_json_stream_pops_the_case_when_the_call_is_bridged(tmp_path: Path) -> None:
    async with running(write_settings(tmp_path)) as live, live.client() as client:
        await login(client, "alice")
        async with client.stream("GET", "/api/v1/me/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = _events(response).__aiter__()
            first = json.loads(await _next(events, "state"))
            assert first["state"] == "logged_out"
            await client.post("/api/v1/me/ready", json={"campaign": "c1"})
            call = json.loads(await _next(events, "call"))
            assert call["active"] and call["campaign"] == "c1"
            case = call["case"]
            assert case["id"] == call["case_id"] and "*" in case["display_name"]
            assert {"balance", "days_past_due", "contacts", "promises", "notes"} <= set(case)
            assert all("*" in n["number"] for n in case["numbers"])
            await client.post("/api/v1/me/hangup")
            ended = json.loads(await _next(events, "ended"))
            assert ended["case_id"] == case["id"] and ended["ended_at"] is not None
            while json.loads(await _next(events, "state"))["state"] != "wrap_up":
                pass


async def test_console_stream_sends_html_fragments(tmp_path: Path) -> None:
    async with running(write_settings(tmp_path)) as live, live.client() as client:
        await login(client, "alice")
        async with client.stream("GET", "/console/events") as response:
            events = _events(response).__aiter__()
            assert 'data-testid="call-status">No call' in await _next(events, "call")
            assert "Go ready" in await _next(events, "state")
            await client.post("/api/v1/me/ready", json={"campaign": "c1"})
            popped = await _next(events, "call")
            assert 'data-testid="debtor"' in popped and "Hang up" in popped
            assert 'name="csrf_token"' in popped


async def test_streams_end_when_the_daemon_stops(tmp_path: Path) -> None:
    async with running(write_settings(tmp_path)) as live, live.client() as client:
        await login(client, "alice")
        async with client.stream("GET", "/api/v1/me/events") as response:
            events = _events(response).__aiter__()
            await _next(events, "state")
            assert live.daemon.runners  # the hub is registered on every runner
            live.daemon.request_stop()
            async with asyncio.timeout(10):
                async for _ in events:
                    pass


def test_sse_data_lines_are_split() -> None:
    assert format_event("state", "a\nb") == "event: state\ndata: a\ndata: b\n\n"


class _Runner:
    def __init__(self) -> None:
        self.name = "c1"
        self.engine = Engine(EngineConfig("c1"), make_pacer("progressive"), np.random.default_rng())


def _located(runner: _Runner) -> EventsHub:
    def locate(collector_id: str) -> tuple[str, Collector] | None:
        found = runner.engine.collectors.get(collector_id)
        return None if found is None or found.state.value == "logged_out" else ("c1", found)

    return EventsHub(locate)


async def test_hub_tracks_only_web_collectors_and_their_calls() -> None:
    runner = _Runner()
    hub = _located(runner)
    call = Call("x1", "42", "+12125550123")
    call.bridged_at = 5.0
    runner.engine.calls["x1"] = call
    bridge: list[Command] = [Bridge("x1", "sim-001")]
    hub.observe(runner, None, bridge)
    assert hub.routed == {}, "nobody tracked: nothing kept"
    hub.track("alice")
    with hub.subscription("alice") as queue:
        runner.engine.handle(CollectorLoggedIn("alice"), 0.0)
        hub.observe(runner, None, [Bridge("x1", "alice")])
        assert hub.routed["alice"].case_id == 42
        call.ended_at = 9.0
        hub.observe(runner, None, [AttemptFinished(call, "42")])
        kinds = []
        while not queue.empty():
            message = queue.get_nowait()
            assert message is not None
            kinds.append(message.kind)
        assert kinds == ["call", "state", "ended"]
        assert hub.routed["alice"].ended_at == 9.0
    assert hub.subscribers("alice") == 0


async def test_hub_queues_are_bounded_and_close_ends_them() -> None:
    hub = EventsHub(lambda _cid: None)
    with hub.subscription("alice") as queue:
        for i in range(QUEUE_SIZE + 10):
            hub.publish("alice", HubMessage("state", {"i": i}))
        assert queue.qsize() == QUEUE_SIZE
        first = queue.get_nowait()
        assert first is not None and first.data["i"] == 10, "the oldest were dropped"
        hub.close()
        items = [queue.get_nowait() for _ in range(queue.qsize())]
        assert items[-1] is None


async def test_a_failing_hub_never_stops_a_runner() -> None:
    def broken(_cid: str) -> tuple[str, Collector] | None:
        raise RuntimeError("bug")

    runner = _Runner()
    hub = EventsHub(broken)
    hub.track("alice")
    runner.engine.handle(CollectorLoggedIn("alice"), 0.0)
    hub.observe(runner, None, [])  # logged, not raised
