"""Presence and the manager's control of collectors over HTTP against the real daemon (a
short presence timeout): the event stream pings and its answers keep a collector present,
a collector not heard for the timeout is paused `disconnected` in the engine (and sees why
when back, staying paused until Ready), a console gone during a call ends it on the
simulated trunk; a manager's roster, forced pause and logout (audited, refused with a
clear 4xx), a logout during a call taking effect when it ends; the wrap-up limit.

Nothing sleeps for timing: each step waits, with a deadline, for what must happen."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from test_web_sse import _events, _next
from webkit import Running, login, running, state_of, until, write_settings

from dialer.store.tables import AuditLog, CallAttempt

TIMEOUT = 3.0  # web.presence_timeout_seconds in these tests


def _collector(live: Running, name: str) -> Any:
    for runner in live.daemon.runners.values():
        found = runner.engine.collectors.get(name)
        if found is not None and found.state.value != "logged_out":
            return found
    return None


def _reason(live: Running, name: str) -> str | None:
    found = _collector(live, name)
    return None if found is None else found.pause_reason


async def _answer_pings(client: httpx.AsyncClient, events: Any, count: int) -> None:
    """Answer `count` presence pings of the stream, as the console's page does."""
    for _ in range(count):
        await _next(events, "presence")
        answer = await client.post("/api/v1/me/presence")
        assert answer.status_code == 204, answer.text


async def test_a_collector_not_heard_for_the_timeout_is_paused_and_routed_nothing(
    tmp_path: Path,
) -> None:
    settings = write_settings(tmp_path, presence_timeout=TIMEOUT)
    async with running(settings) as live, live.client() as alice:
        live.daemon.runners["c1"].engine.paused = True  # ready, with no call yet
        await login(alice, "alice")
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        started = time.monotonic()
        await until(lambda: state_of(live.daemon, "alice") == "ready")
        # No stream, no answer: gone once the timeout has passed, not before.
        await until(lambda: state_of(live.daemon, "alice") == "paused", timeout=TIMEOUT + 10)
        assert time.monotonic() - started >= TIMEOUT - 0.2
        assert _reason(live, "alice") == "disconnected"
        live.daemon.runners["c1"].engine.paused = False
        engine = live.daemon.runners["c1"].engine
        assert engine.present("alice", live.daemon.clock.now()) is False
        assert not [c for c in engine.calls.values() if c.collector_id == "alice"]
        me = (await alice.get("/api/v1/me")).json()["collector"]
        assert me["state"] == "paused" and me["pause_reason"] == "disconnected"
        assert "closed or lost its connection for more than 3 seconds" in me["note"]
        lost = live.daemon.metrics.registry.get_sample_value(
            "dialer_collector_presence_lost_total", {"campaign": "c1", "reason": "disconnected"}
        )
        assert lost == 1.0


async def test_answered_pings_keep_her_present_and_closing_the_stream_starts_the_clock(
    tmp_path: Path,
) -> None:
    settings = write_settings(tmp_path, presence_timeout=TIMEOUT)
    async with running(settings) as live, live.client() as alice:
        live.daemon.runners["c1"].engine.paused = True
        await login(alice, "alice")
        async with alice.stream("GET", "/api/v1/me/events") as response:
            events = _events(response).__aiter__()
            await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
            first = time.monotonic()
            # Pings every third of the timeout: 7 answers span more than two timeouts.
            await _answer_pings(alice, events, 7)
            assert time.monotonic() - first > 2 * TIMEOUT - 1.5
            assert state_of(live.daemon, "alice") == "ready"
        closed = time.monotonic()
        await until(lambda: state_of(live.daemon, "alice") == "paused", timeout=TIMEOUT + 10)
        assert time.monotonic() - closed >= TIMEOUT - 0.5
        assert _reason(live, "alice") == "disconnected"

        # Back: she sees why, stays paused until she presses Ready herself.
        async with alice.stream("GET", "/api/v1/me/events") as response:
            events = _events(response).__aiter__()
            state = json.loads(await _next(events, "state"))
            assert state["state"] == "paused" and "Press Ready" in state["note"]
            await _answer_pings(alice, events, 2)
            assert _reason(live, "alice") == "disconnected"
            assert (await alice.post("/api/v1/me/ready")).status_code == 202
            await until(lambda: state_of(live.daemon, "alice") == "ready")
            assert (await alice.get("/api/v1/me")).json()["collector"]["note"] is None


async def test_a_console_gone_during_a_call_ends_it_on_the_simulated_trunk(
    tmp_path: Path,
) -> None:
    settings = write_settings(tmp_path, presence_timeout=TIMEOUT)
    async with running(settings) as live, live.client() as alice:
        await login(alice, "alice")
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "alice") == "on_call")
        live.daemon.runners["c1"].engine.paused = True
        call_id = _collector(live, "alice").call_id
        await until(lambda: state_of(live.daemon, "alice") == "paused", timeout=TIMEOUT + 10)
        assert _reason(live, "alice") == "disconnected", "no wrap-up left behind"
        await live.daemon.flush_writes()
        async with live.daemon.sessions() as db:
            attempt = await db.scalar(select(CallAttempt).where(CallAttempt.call_id == call_id))
        assert attempt is not None and attempt.ended_at is not None
        assert attempt.talk_seconds is not None and attempt.talk_seconds < TIMEOUT + 5, (
            "the call ended when her console was gone, not an hour later"
        )


async def test_the_stream_pings_for_presence(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, presence_timeout=TIMEOUT)
    async with running(settings) as live, live.client() as alice:
        await login(alice, "alice")
        async with alice.stream("GET", "/console/events") as response:
            events = _events(response).__aiter__()
            ping = json.loads(await _next(events, "presence"))
            assert ping == {"answer": "/api/v1/me/presence"}
        refused = await alice.post("/api/v1/me/presence", headers={"X-CSRF-Token": "wrong"})
        assert refused.status_code == 403
        async with live.client() as boss:
            await login(boss, "boss")
            assert (await boss.post("/api/v1/me/presence")).status_code == 403  # collectors


async def _audit(live: Running, action: str) -> list[AuditLog]:
    async with live.daemon.sessions() as db:
        rows = await db.scalars(select(AuditLog).where(AuditLog.action == action))
        return list(rows)


async def test_manager_forces_a_pause_and_a_logout_audited(tmp_path: Path) -> None:
    async with running(write_settings(tmp_path)) as live:
        live.daemon.runners["c1"].engine.paused = True
        async with live.client() as alice, live.client() as boss, live.client() as other:
            await login(alice, "alice")
            await login(boss, "boss")
            await login(other, "other")
            base = "/api/v1/campaigns/c1/collectors"
            assert (await boss.get(base)).json() == []
            await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
            await until(lambda: state_of(live.daemon, "alice") == "ready")

            (line,) = (await boss.get(base)).json()
            assert line["collector"] == "alice" and line["state"] == "ready"
            assert line["console"] == "connected" and line["after_call"] is None

            missing = await boss.post(f"{base}/nobody/pause")
            assert missing.status_code == 404 and "no collector 'nobody'" in missing.text
            assert (await other.post(f"{base}/alice/pause")).status_code == 403
            assert (await alice.post(f"{base}/alice/pause")).status_code == 403
            no_token = await boss.post(f"{base}/alice/pause", headers={"X-CSRF-Token": "x"})
            assert no_token.status_code == 403

            done = await boss.post(f"{base}/alice/pause")
            assert done.status_code == 202 and done.json()["when"] == "now"
            await until(lambda: state_of(live.daemon, "alice") == "paused")
            assert _reason(live, "alice") == "manager"
            again = await boss.post(f"{base}/alice/pause")
            assert again.status_code == 409 and "already paused (manager)" in again.text
            me = (await alice.get("/api/v1/me")).json()["collector"]
            assert me["note"].startswith("A manager (boss) at ") and "paused you" in me["note"]

            out = await boss.post(f"{base}/alice/logout", json={})
            assert out.status_code == 202 and out.json()["when"] == "now"
            await until(lambda: state_of(live.daemon, "alice") is None)
            gone = await boss.post(f"{base}/alice/logout")
            assert gone.status_code == 409 and "already logged out of campaign c1" in gone.text
            assert (await boss.post(f"{base}/alice/pause")).status_code == 409
            me = (await alice.get("/api/v1/me")).json()["collector"]
            assert me["state"] == "logged_out"
            assert me["note"].startswith("A manager (boss) took you out of campaign c1 at ")

            (paused,) = await _audit(live, "collector.pause")
            assert paused.actor == "boss" and paused.subject == "campaign:c1"
            assert paused.old == {"collector": "alice", "state": "ready", "pause_reason": None}
            assert paused.new is not None and paused.new["pause_reason"] == "manager"
            (logout,) = await _audit(live, "collector.logout")
            assert logout.old is not None and logout.old["state"] == "paused"
            entries = (await boss.get("/api/v1/campaigns/c1/audit")).json()
            assert [e["action"] for e in entries[:2]] == ["collector.logout", "collector.pause"]

            # Going ready again clears the manager's note.
            await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
            await until(lambda: state_of(live.daemon, "alice") == "ready")
            assert (await alice.get("/api/v1/me")).json()["collector"]["note"] is None


async def test_a_forced_logout_during_a_call_waits_for_its_end_or_ends_it(
    tmp_path: Path,
) -> None:
    async with (
        running(write_settings(tmp_path)) as live,
        live.client() as alice,
        live.client() as bob,
        live.client() as boss,
    ):
        await login(alice, "alice")
        await login(bob, "bob")
        await login(boss, "boss")
        base = "/api/v1/campaigns/c1/collectors"
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "alice") == "on_call")
        live.daemon.runners["c1"].engine.paused = True

        paused = await boss.post(f"{base}/alice/pause")
        assert paused.json()["when"] == "after_call"
        out = await boss.post(f"{base}/alice/logout")
        assert out.status_code == 202 and out.json()["when"] == "after_call"
        await until(lambda: _collector(live, "alice") is not None)
        roster = {r["collector"]: r for r in (await boss.get(base)).json()}
        assert roster["alice"]["state"] == "on_call"
        assert roster["alice"]["after_call"] == "logout"
        me = (await alice.get("/api/v1/me")).json()["collector"]
        assert me["note"] == "A manager will take you out of the campaign when this call ends."
        again = await boss.post(f"{base}/alice/logout")
        assert again.status_code == 409 and "already due to leave" in again.text
        assert state_of(live.daemon, "alice") == "on_call", "the debtor is not cut off"
        await alice.post("/api/v1/me/hangup")
        await until(lambda: state_of(live.daemon, "alice") is None)  # no wrap-up

        # end_call: bob's call is hung up now and he is out as it ends.
        live.daemon.runners["c1"].engine.paused = False
        await bob.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "bob") == "on_call")
        live.daemon.runners["c1"].engine.paused = True
        call_id = _collector(live, "bob").call_id
        ended = await boss.post(f"{base}/bob/logout", json={"end_call": True})
        assert ended.status_code == 202 and ended.json()["ended_call"] == call_id
        await until(lambda: state_of(live.daemon, "bob") is None)
        (first, second) = await _audit(live, "collector.logout")
        assert first.new is not None and first.new["when"] == "after_call"
        assert second.new is not None and second.new["ended_call"] == call_id


async def test_logging_out_of_the_web_during_a_call_leaves_the_campaign_when_it_ends(
    tmp_path: Path,
) -> None:
    async with running(write_settings(tmp_path)) as live, live.client() as alice:
        await login(alice, "alice")
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "alice") == "on_call")
        live.daemon.runners["c1"].engine.paused = True
        call_id = _collector(live, "alice").call_id
        assert (await alice.delete("/api/v1/session")).status_code == 204
        await asyncio.sleep(0)
        assert state_of(live.daemon, "alice") == "on_call"
        await live.daemon.runners["c1"].hang_up(call_id)
        await until(lambda: state_of(live.daemon, "alice") is None)


async def test_wrap_up_ends_by_itself_at_the_limit(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, campaign_extra="    max_wrap_seconds: 2")
    async with running(settings) as live, live.client() as alice:
        await login(alice, "alice")
        async with alice.stream("GET", "/api/v1/me/events") as response:
            events = _events(response).__aiter__()
            await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
            await until(lambda: state_of(live.daemon, "alice") == "on_call")
            live.daemon.runners["c1"].engine.paused = True
            await alice.post("/api/v1/me/hangup")
            await until(lambda: state_of(live.daemon, "alice") == "wrap_up")
            left = (await alice.get("/api/v1/me")).json()["collector"]["wrap_seconds_left"]
            assert left is not None and 0 < left <= 2
            for wanted in ("wrap_up", "ready"):  # ready by itself: nobody clicks
                while json.loads(await _next(events, "state"))["state"] != wanted:
                    pass
        assert state_of(live.daemon, "alice") == "ready"


class _Clock:
    speed = 10.0  # a sped-up demo clock: the engine hears ten times the span


class _Runner:
    def __init__(self) -> None:
        from dialer.domain.agents import Collector, CollectorState

        self.engine = type("E", (), {})()
        self.engine.collectors = {"alice": Collector("alice", state=CollectorState.READY)}
        self.pushed: list[object] = []

    def push(self, event: object) -> None:
        self.pushed.append(event)


def test_presence_tells_the_engine_and_a_dead_stream_refreshes_nothing() -> None:
    from dialer.domain.events import CollectorSeen
    from dialer.web.presence import Presence

    now = [100.0]
    runner = _Runner()
    dialer = type("D", (), {"clock": _Clock(), "runners": {"c1": runner}})()
    presence = Presence(dialer, 3.0, monotonic=lambda: now[0])  # type: ignore[arg-type]
    assert presence.ping_every == 1.0
    assert presence.connected("alice") is None and presence.connected("bob") is None
    presence.stream_opened("alice")
    assert runner.pushed == [CollectorSeen("alice", 30.0)]
    assert presence.connected("alice") and presence.streams("alice") == 1
    now[0] += 2.9
    assert presence.connected("alice")
    now[0] += 0.2
    assert presence.connected("alice") is False
    assert presence.silent_for("alice") == pytest.approx(3.1)
    presence.stream_closed("alice")  # a stream that had stopped answering: no refresh
    assert len(runner.pushed) == 1 and presence.streams("alice") == 0
    presence.heard("bob")  # not logged in anywhere: nothing to tell
    assert len(runner.pushed) == 1 and presence.connected("bob")
    presence.heard("bob", runner)  # logging in there (their phone may ring a while) ...
    presence.heard("bob")  # ... so the beats that follow go there too
    assert runner.pushed[-2:] == [CollectorSeen("bob", 30.0)] * 2


def test_the_console_note_says_why() -> None:
    from dialer.web.presence import Forced, Presence

    dialer = type("D", (), {"clock": _Clock(), "runners": {}})()
    presence = Presence(dialer, 15.0)  # type: ignore[arg-type]
    assert presence.note("alice", "ready", None) is None
    assert presence.note("alice", "paused", "lunch") is None
    gone = presence.note("alice", "paused", "disconnected")
    assert gone is not None and "more than 15 seconds" in gone and "Press Ready" in gone
    phone = presence.note("alice", "paused", "phone_lost")
    assert phone is not None and "your phone hung up" in phone
    later = presence.note("alice", "on_call", None, ("logout", None))
    assert later == "A manager will take you out of the campaign when this call ends."
    assert presence.note("alice", "on_call", None, ("pause", "manager")) == (
        "A manager will pause you when this call ends."
    )
    presence.forced["alice"] = Forced("logout", "boss", 1772553780.0, "c1")
    out = presence.note("alice", "logged_out", None)
    assert out == "A manager (boss) took you out of campaign c1 at 16:03 UTC."
    assert presence.note("bob", "logged_out", None) is None
