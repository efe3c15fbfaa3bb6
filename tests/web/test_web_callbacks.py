"""Callbacks that will happen: a callback is checked at entry against the case's compliance
at that instant (the call being dispositioned counted), a refusal names the rule and the
next allowed time in the debtor's local time, and callbacks are listed in local time."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select
from webkit import CLOCK_START, Running, login, running, state_of, until, write_settings

from dialer.store.tables import CaseRow, Disposition


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(write_settings(tmp_path)) as r:
        yield r


async def _ended_call(live: Running, client: httpx.AsyncClient) -> dict[str, Any]:
    """A call routed to alice and hung up; returns its case as the API shows it."""
    await login(client, "alice")
    assert (await client.post("/api/v1/me/ready", json={"campaign": "c1"})).status_code == 202
    await until(lambda: state_of(live.daemon, "alice") == "on_call", what="a routed call")
    live.daemon.runners["c1"].engine.paused = True  # one call is enough
    case_id = (await client.get("/api/v1/me")).json()["collector"]["call"]["case_id"]
    await client.post("/api/v1/me/hangup")
    await until(lambda: state_of(live.daemon, "alice") == "wrap_up", what="wrap-up")
    case: dict[str, Any] = (await client.get(f"/api/v1/cases/{case_id}")).json()
    return case


def _local(day_offset: int, hour: int, minute: int = 0) -> str:
    """A time without zone (the debtor's local time), `day_offset` days after the clock's
    start date."""
    day = datetime.fromtimestamp(CLOCK_START, UTC).date() + timedelta(days=day_offset)
    return f"{day.isoformat()}T{hour:02d}:{minute:02d}"


def _label(at: datetime, zone: ZoneInfo) -> str:
    local = at.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M} ({zone.key})"


async def test_callback_in_the_lockout_is_refused_with_the_next_allowed_time(
    live: Running,
) -> None:
    async with live.client() as client:
        case = await _ended_call(live, client)
        zone = ZoneInfo(case["timezone"])
        url = f"/api/v1/cases/{case['id']}/dispositions"
        response = await client.post(
            url, json={"kind": "callback", "callback_at": _local(1, 10, 30)}
        )
        assert response.status_code == 422, response.text
        body = response.json()
        # The conversation just had locks the debt out for 7 local days (us_tsr_regf).
        assert body["reasons"] == ["post_conversation_lockout"]
        assert "too soon after a conversation" in body["detail"]
        assert "7 days" in body["detail"] and "counting the call just made" in body["detail"]
        # Day 8 of the lockout, at the opening of the calling hours, in the debtor's zone.
        start_day = datetime.fromtimestamp(CLOCK_START, UTC).astimezone(zone).date()
        expected = datetime.combine(start_day + timedelta(days=7), datetime.min.time(), zone)
        expected = expected.replace(hour=8)
        assert body["next_allowed_at"] == expected.astimezone(UTC).isoformat().replace(
            "+00:00", "Z"
        )
        assert body["next_allowed_local"] == _label(expected, zone)
        assert body["timezone"] == zone.key
        assert f"Next allowed time: {_label(expected, zone)}" in body["detail"]
        assert re.fullmatch(r"\w{3} \d{1,2} \w{3} 08:00 \(.+\)", body["next_allowed_local"])
        # Nothing was written, and the case is not scheduled.
    async with live.daemon.sessions() as db:
        rows = await db.scalars(select(Disposition).where(Disposition.case_id == case["id"]))
        assert rows.all() == []


async def test_callback_outside_the_calling_hours_names_both_rules(live: Running) -> None:
    async with live.client() as client:
        case = await _ended_call(live, client)
        url = f"/api/v1/cases/{case['id']}/dispositions"
        response = await client.post(url, json={"kind": "callback", "callback_at": _local(2, 22)})
        body = response.json()
        assert response.status_code == 422
        assert body["reasons"] == ["outside_calling_hours", "post_conversation_lockout"]
        assert "outside the calling hours: calls only between 08:00 and 21:00" in body["detail"]
        assert body["next_allowed_local"].endswith(f"08:00 ({case['timezone']})")


async def test_callback_at_an_allowed_time_is_accepted_and_listed_in_local_time(
    live: Running,
) -> None:
    async with live.client() as client:
        case = await _ended_call(live, client)
        zone = ZoneInfo(case["timezone"])
        url = f"/api/v1/cases/{case['id']}/dispositions"
        refused = await client.post(url, json={"kind": "callback", "callback_at": _local(1, 10)})
        allowed_from = datetime.fromisoformat(refused.json()["next_allowed_at"])
        wanted = allowed_from + timedelta(hours=2)  # 10:00 local on the first allowed day
        local_input = wanted.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        response = await client.post(url, json={"kind": "callback", "callback_at": local_input})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["callback_at"] == wanted.isoformat()
        assert body["callback_local"] == _label(wanted, zone) and body["timezone"] == zone.key
        assert body["callback_local"].split(" ")[3] == "10:00"

        listed = (await client.get("/api/v1/me/callbacks")).json()
        assert [c["case_id"] for c in listed] == [case["id"]]
        assert listed[0]["callback_local"] == _label(wanted, zone)
        assert listed[0]["timezone"] == zone.key
        assert datetime.fromisoformat(listed[0]["callback_at"]) == wanted  # stored in UTC
        page = (await client.get("/console")).text
        assert f'data-testid="callback-when">{_label(wanted, zone)}<' in page
        assert f"{wanted:%Y-%m-%d %H:%M} UTC" in page  # UTC one hover away
    async with live.daemon.sessions() as db:
        row = await db.scalar(select(CaseRow).where(CaseRow.id == case["id"]))
        assert row is not None and row.next_attempt_at == wanted


async def test_a_time_with_a_zone_is_taken_as_given(live: Running) -> None:
    async with live.client() as client:
        case = await _ended_call(live, client)
        zone = ZoneInfo(case["timezone"])
        at = datetime.fromisoformat(_local(8, 11)).replace(tzinfo=zone).astimezone(UTC)
        url = f"/api/v1/cases/{case['id']}/dispositions"
        response = await client.post(url, json={"kind": "callback", "callback_at": at.isoformat()})
        assert response.status_code == 201, response.text
        assert response.json()["callback_local"] == _label(at, zone)


async def test_the_console_form_shows_the_debtors_zone_and_local_times(live: Running) -> None:
    async with live.client() as client:
        case = await _ended_call(live, client)
        zone = ZoneInfo(case["timezone"])
        now = datetime.fromtimestamp(live.daemon.clock.now(), UTC)
        page = (await client.get("/console")).text
        assert f'data-testid="debtor-zone">{zone.key}<' in page
        assert "Debtor's time now: " in page and f"({zone.key})" in page
        assert "calls only 08:00-21:00 their time" in page
        contact = case["contacts"][0]
        assert contact["at_local"].endswith(f"({zone.key})")
        assert contact["at_local"] in page and "Dialed (debtor's time)" in page
        assert case["local_now"][:3] == now.astimezone(zone).strftime("%a")
