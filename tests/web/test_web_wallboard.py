"""The wallboard's data over HTTP against the real daemon: the board as JSON (the manager's
campaigns only), the stream's first update whole and the later ones compact (only the row
that changed, nothing at all while nothing changes), no debtor name or number in either,
and the stream's end when the manager's session ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from test_web_sse import _events
from webkit import Running, login, running, until, write_settings

from dialer.store.tables import CaseNumber, CaseRow
from dialer.web import floor_figures, wallboard_page

Events = AsyncIterator[tuple[str, str]]


class Stream:
    """The stream's events, read by a task of their own: waiting for one with a deadline
    never cancels the reading of the stream."""

    def __init__(self, response: httpx.Response) -> None:
        self.queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()
        self.task = asyncio.create_task(self._pump(_events(response)))

    async def _pump(self, events: Events) -> None:
        try:
            async for event in events:
                await self.queue.put(event)
        finally:
            await self.queue.put(None)

    async def next(self, kind: str = "wallboard", timeout: float = 10.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while (event := await self.queue.get()) is not None:
                name, data = event
                message: dict[str, Any] = json.loads(data)
                if name == kind and message.get("campaign", "c1") == "c1":
                    return message
        raise AssertionError(f"stream ended before a {kind!r} event")

    async def within(self, seconds: float) -> list[dict[str, Any]]:
        """The updates that arrive within `seconds` (real time: the stream's own pace)."""
        got = []
        with contextlib.suppress(TimeoutError):
            got.append(await self.next(timeout=seconds))
            while True:
                got.append(await self.next(timeout=seconds))
        return got

    def close(self) -> None:
        self.task.cancel()


def _row(board: dict[str, Any], collector: str) -> dict[str, Any]:
    columns = board["columns"]
    rows = board["rows"]
    assert isinstance(columns, list) and isinstance(rows, dict)
    return dict(zip(columns, rows[collector], strict=True))


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(write_settings(tmp_path)) as r:
        yield r


async def test_the_board_as_json_for_the_managers_campaigns_only(live: Running) -> None:
    engine = live.daemon.runners["c1"].engine
    async with live.client() as boss, live.client() as alice, live.client() as other:
        assert (await boss.get("/api/v1/campaigns/c1/wallboard")).status_code == 401
        await login(boss, "boss")
        await login(alice, "alice")
        await login(other, "other")
        assert (await other.get("/api/v1/campaigns/c1/wallboard")).status_code == 403
        assert (await alice.get("/api/v1/campaigns/c1/wallboard")).status_code == 403
        assert (await boss.get("/manager/wallboard")).status_code == 200
        assert (await alice.get("/manager/wallboard")).status_code == 403

        assert (await alice.post("/api/v1/me/ready", json={"campaign": "c1"})).status_code == 202
        await until(lambda: engine.stats.bridged == 1, what="a call bridged to alice")
        engine.paused = True
        await live.daemon.flush_writes()  # the bridge is in the store the figures read
        response = await boss.get("/api/v1/campaigns/c1/wallboard")
        assert response.status_code == 200, response.text
        board = response.json()
        assert board["full"] and board["campaign"] == "c1"
        row = _row(board, "alice")
        call = next(iter(engine.calls.values()))
        assert row["state"] == "on_call" and row["case_id"] == int(call.case_ref)
        assert row["talk_since"] == pytest.approx(call.bridged_at, abs=0.01)
        assert row["team"] == "t1" and row["console"] in ("connected", "gone")
        summary = board["summary"]
        assert summary["cap"] == 0.03 and summary["window"] == "30 days"
        assert summary["collectors"]["on_call"] == 1
        assert board["figures"]["day"] == "2026-03-03"
        assert [line["name"] for line in board["figures"]["collectors"]] == ["alice"]
        assert board["figures"]["collectors"][0]["contacts"] == 1
        assert len(board["series"]) >= 1
        assert dict(zip(board["sample_columns"], board["series"][-1], strict=True))["cap"] == 0.03

        fragment = (await boss.get("/manager/campaigns/c1/collectors")).text  # the manager page
        assert f">#{row['case_id']}</a>" in fragment and 'data-testid="roster-talk"' in fragment

        async with live.daemon.sessions() as db:  # the debtor's clear name and numbers
            name = await db.scalar(select(CaseRow.debtor_name).where(CaseRow.id == row["case_id"]))
            numbers = list(
                await db.scalars(
                    select(CaseNumber.e164).where(CaseNumber.case_id == row["case_id"])
                )
            )
        assert name and numbers
        for secret in [name, *numbers, *(n.lstrip("+") for n in numbers)]:
            assert secret not in response.text, "no debtor name or number on the board"
        assert not re.search(r"\+\d{7,}", response.text)


async def test_the_stream_sends_the_board_then_only_what_changed(live: Running) -> None:
    engine = live.daemon.runners["c1"].engine
    engine.paused = True
    async with live.client() as boss, live.client() as alice:
        await login(boss, "boss")
        await login(alice, "alice")
        async with boss.stream("GET", "/manager/wallboard/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            stream = Stream(response)
            first = await stream.next()
            assert first["full"] and first["rows"] == {}
            assert await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
            ready = await stream.next()
            assert not ready["full"] and set(ready["rows"]) == {"alice"}
            assert ready["rows"]["alice"][0] == "ready"
            assert "columns" not in ready and "decisions" not in ready

            await alice.post("/api/v1/me/pause", json={"reason": "lunch"})
            paused = await stream.next()
            assert paused["rows"]["alice"][:2] == ["paused", "lunch"]
            # Nothing changes now (no calls, no one moves): nothing but samples may come.
            quiet = await stream.within(2.5)
            assert all(set(m) <= {"campaign", "now", "rate", "full", "series"} for m in quiet)

            await alice.post("/api/v1/me/leave")
            left = await stream.next()
            assert left["rows"] == {"alice": None}
            stream.close()


async def test_the_stream_ends_when_the_managers_session_ends(
    live: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wallboard_page, "RECHECK_EVERY", 0.0)
    async with live.client() as boss, live.client() as root:
        await login(boss, "boss")
        await login(root, "root")
        async with boss.stream("GET", "/manager/wallboard/events") as response:
            stream = Stream(response)
            await stream.next()
            ended = await root.delete("/api/v1/users/boss/sessions")
            assert ended.status_code in (200, 204), ended.text
            assert await stream.next("ended") == {"reason": "your session ended"}
            stream.close()
        with pytest.raises(httpx.HTTPStatusError):
            (await boss.get("/api/v1/campaigns/c1/wallboard")).raise_for_status()


async def test_a_busy_store_leaves_the_stream_going_without_figures(
    live: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def busy(ctx: object, name: str) -> dict[str, Any]:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(floor_figures, "compute", busy)
    live.daemon.runners["c1"].engine.paused = True
    async with live.client() as boss, live.client() as alice:
        await login(boss, "boss")
        await login(alice, "alice")
        async with boss.stream("GET", "/manager/wallboard/events") as response:
            stream = Stream(response)
            first = await stream.next()
            assert first["full"] and first["figures"] is None and first["summary"]["cap"] == 0.03
            await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
            ready = await stream.next()
            assert ready["rows"]["alice"][0] == "ready", "the board goes on"
            stream.close()
