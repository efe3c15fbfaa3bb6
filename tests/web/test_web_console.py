"""The console's details over HTTP and SSE (no browser): the disposition form during the
call, every error of a refused form with the values kept, the time in each state, notices
that only last while true, "Last contacts" after the call, and the banner when the
campaign does not dial (a manager's pause, any hold)."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from test_web_sse import _events, _next
from webkit import CLOCK_START, Running, login, running, state_of, until, write_settings

from dialer.web.console import Notice


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(write_settings(tmp_path)) as r:
        yield r


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


async def _on_call(live: Running, client: httpx.AsyncClient) -> int:
    await login(client, "alice")
    await client.post("/api/v1/me/ready", json={"campaign": "c1"})
    await until(lambda: state_of(live.daemon, "alice") == "on_call", what="a routed call")
    live.daemon.runners["c1"].engine.paused = True  # one call is enough
    case_id: int = (await client.get("/api/v1/me")).json()["collector"]["call"]["case_id"]
    return case_id


async def _hang_up(live: Running, client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/me/hangup")
    await until(lambda: state_of(live.daemon, "alice") == "wrap_up", what="wrap-up")


def _today() -> str:
    return datetime.fromtimestamp(CLOCK_START, UTC).date().isoformat()


async def test_the_form_is_there_during_the_call_and_records_after_it(live: Running) -> None:
    async with live.client() as client:
        case_id = await _on_call(live, client)
        page = (await client.get("/console")).text
        assert 'data-testid="disposition-form"' in page and "Hang up" in page
        assert re.search(r'data-testid="record"\s+disabled', page)
        assert "you can record once the call has ended" in page
        form = {
            "csrf_token": _token(page),
            "case_id": str(case_id),
            "kind": "refused",
            "note": "typed while talking",
        }
        early = await client.post("/console/disposition", data=form)
        assert early.status_code == 409
        assert "once the call has ended" in early.text
        assert ">typed while talking</textarea>" in early.text, "the note is kept"
        await _hang_up(live, client)
        done = await client.post("/console/disposition", data=form)
        assert done.status_code == 303


async def test_a_refused_form_keeps_its_values_and_lists_every_error(live: Running) -> None:
    async with live.client() as client:
        case_id = await _on_call(live, client)
        await _hang_up(live, client)
        page = (await client.get("/console")).text
        balance = re.search(r'data-testid="balance">([\d.]+) ', page)
        assert balance
        too_much = f"{float(balance.group(1)) + 100:.2f}"
        yesterday = (datetime.fromisoformat(_today()) - timedelta(days=1)).date().isoformat()
        form = {
            "csrf_token": _token(page),
            "case_id": str(case_id),
            "kind": "promise_to_pay",
            "amount": too_much,
            "promise_date": yesterday,
            "note": "pays <soon>",
        }
        refused = await client.post("/console/disposition", data=form)
        assert refused.status_code == 422
        errors = re.findall(r'data-testid="form-error">([^<]*)<', refused.text)
        assert len(errors) == 2, errors
        assert "exceed the balance" in errors[0] and "in the past" in errors[1]
        assert f'value="{too_much}"' in refused.text and f'value="{yesterday}"' in refused.text
        assert ">pays &lt;soon&gt;</textarea>" in refused.text
        assert '<option value="promise_to_pay" selected>' in refused.text

        del form["amount"], form["promise_date"]
        missing = await client.post("/console/disposition", data=form)
        errors = re.findall(r'data-testid="form-error">([^<]*)<', missing.text)
        assert errors == ["a promise to pay needs an amount", "a promise to pay needs a date"]

        form |= {"amount": "-5", "kind": "promise_to_pay"}
        both = await client.post("/console/disposition", data=form)
        errors = re.findall(r'data-testid="form-error">([^<]*)<', both.text)
        assert [e.split(":")[0] for e in errors] == ["Amount", "a promise to pay needs a date"]


async def test_a_refused_callback_offers_the_next_allowed_time(live: Running) -> None:
    async with live.client() as client:
        case_id = await _on_call(live, client)
        await _hang_up(live, client)
        page = (await client.get("/console")).text
        tomorrow = (datetime.fromisoformat(_today()) + timedelta(days=1)).date()
        form = {
            "csrf_token": _token(page),
            "case_id": str(case_id),
            "kind": "callback",
            "callback_at": f"{tomorrow}T10:30",
            "note": "call me tomorrow",
        }
        refused = await client.post("/console/disposition", data=form)
        assert refused.status_code == 422
        text = html.unescape(refused.text)
        assert "too soon after a conversation" in text
        offer = re.search(r'data-testid="next-allowed">([^<]+)<', text)
        assert offer and re.fullmatch(r"\w{3} \d{1,2} \w{3} 08:00 \([\w/]+\)", offer.group(1))
        fill = re.search(r'data-fill-callback="([^"]+)"', text)
        assert fill and fill.group(1).endswith("T08:00")
        assert f'value="{tomorrow}T10:30"' in text and ">call me tomorrow</textarea>" in text
        form["callback_at"] = fill.group(1)
        assert (await client.post("/console/disposition", data=form)).status_code == 303


async def test_the_console_shows_the_time_in_the_state(live: Running) -> None:
    async with live.client() as client:
        await _on_call(live, client)
        page = (await client.get("/console")).text
        timer = re.search(r'data-elapsed="([\d.]+)" data-testid="elapsed">(\d+:\d\d)<', page)
        assert timer, "on call for m:ss"
        assert float(timer.group(1)) < 60
        me = (await client.get("/api/v1/me")).json()["collector"]
        assert me["elapsed_seconds"] >= 0
        await _hang_up(live, client)
        assert 'data-testid="elapsed"' in (await client.get("/console")).text


def test_a_notice_lasts_only_while_its_state_does() -> None:
    ready = Notice("ready")
    assert ready("logged_out") is None, "not yet true: not shown"
    assert ready("ready") == "You are ready for calls."
    assert ready("on_call") is None
    assert ready("ready") is None, "once gone, gone"
    assert Notice("nonsense")("ready") is None
    assert Notice("recorded")("wrap_up") == "Disposition recorded."


async def test_no_ready_notice_while_on_a_call(live: Running) -> None:
    async with live.client() as client:
        await _on_call(live, client)
        page = (await client.get("/console?done=ready")).text
        assert "You are ready for calls." not in page
        assert "/console/events?done=ready" in page
        async with client.stream("GET", "/console/events?done=ready") as response:
            state = await _next(_events(response).__aiter__(), "state")
            assert "on call" in state and "You are ready" not in state


async def test_last_contacts_read_the_outcome_once_the_call_ended(live: Running) -> None:
    async with live.client() as client:
        await _on_call(live, client)
        during = (await client.get("/console")).text
        assert 'data-testid="contact-outcome">in progress<' in during
        async with client.stream("GET", "/console/events") as response:
            events = _events(response).__aiter__()
            await _next(events, "call")
            await client.post("/api/v1/me/hangup")
            ended = await _next(events, "call")
            assert "Call ended" in ended
            assert "in progress" not in ended
            assert 'data-testid="contact-outcome">conversation<' in ended


async def test_the_banner_says_when_and_why_the_campaign_does_not_dial(live: Running) -> None:
    engine = live.daemon.runners["c1"].engine
    async with live.client() as alice, live.client() as boss:
        await login(alice, "alice")
        await login(boss, "boss")
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "alice") == "on_call")
        async with alice.stream("GET", "/console/events") as response:
            events = _events(response).__aiter__()
            assert "campaign-banner" not in await _next(events, "campaign")
            await boss.put("/api/v1/campaigns/c1/running", json={"running": False})
            banner = await _next(events, "campaign")
            assert "Dialing is paused in campaign c1" in banner and "paused by a manager" in banner
            await boss.put("/api/v1/campaigns/c1/running", json={"running": True})
            assert "campaign-banner" not in await _next(events, "campaign")
            engine.hold("trunk_down", "the trunk is down or not registered")
            try:
                banner = await _next(events, "campaign")
                assert "Dialing has stopped" in banner and 'data-reason="trunk_down"' in banner
            finally:
                engine.release("trunk_down")
        async with alice.stream("GET", "/api/v1/me/events") as response:
            events = _events(response).__aiter__()
            while '"dialing": true' not in await _next(events, "campaign"):
                pass  # the hold just released may still be in the shared health verdict
            engine.paused = True
            data = await _next(events, "campaign")
            assert '"reason": "paused"' in data and '"detail": "paused by a manager"' in data
        page = (await alice.get("/console")).text
        assert 'data-testid="campaign-banner"' in page


async def test_sse_poll_does_not_repeat_an_unchanged_banner(live: Running) -> None:
    async with live.client() as client:
        await login(client, "alice")
        async with client.stream("GET", "/console/events") as response:
            events = _events(response).__aiter__()
            await _next(events, "campaign")
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(1.5):
                    await _next(events, "campaign")
