"""The manager's page in plain words: pacing decisions as sentences (the pacer's record one
click away), the window in days, plurals right, and a fixed ratio that cannot hold the cap
refused above the max lines per collector, warned about below it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Environment, FileSystemLoader, select_autoescape
from webkit import Running, login, running, state_of, until, write_settings

from dialer.web.context import TEMPLATES_DIR
from dialer.web.pacing_words import plain_reason


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(write_settings(tmp_path)) as r:
        yield r


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


async def test_a_ratio_above_the_line_limit_is_refused_and_a_risky_one_warned(
    live: Running,
) -> None:
    engine = live.daemon.runners["c1"].engine
    async with live.client() as boss:
        await login(boss, "boss")
        refused = await boss.patch(
            "/api/v1/campaigns/c1/pacing", json={"mode": "ratio", "ratio": 9.5}
        )
        assert refused.status_code == 422
        detail = refused.json()["detail"]
        assert "above the max lines per collector (3)" in detail and "at most 3" in detail
        assert engine.pacer.name == "progressive"

        accepted = await boss.patch(
            "/api/v1/campaigns/c1/pacing",
            json={"mode": "ratio", "ratio": 9.5, "max_lines_per_collector": 10},
        )
        assert accepted.status_code == 200, accepted.text
        warnings = accepted.json()["warnings"]
        assert (
            warnings
            and "A fixed ratio of 9.5 dials 9.5 calls for every ready collector" in (warnings[0])
        )
        assert "abandon cap of 3.0%" in warnings[0] and "abandon-cap guard" in warnings[0]
        assert engine.pacer.name == "ratio"

        fine = await boss.patch("/api/v1/campaigns/c1/pacing", json={"mode": "progressive"})
        assert fine.json()["warnings"] == []


async def test_the_page_warns_about_the_ratio_in_force(live: Running) -> None:
    async with live.client() as boss:
        await login(boss, "boss")
        token = _token((await boss.get("/manager")).text)
        form = {"csrf_token": token, "mode": "ratio", "ratio": "9.5"}
        refused = await boss.post("/manager/campaigns/c1/pacing", data=form)
        assert refused.status_code == 422 and "max lines per collector" in refused.text
        form["max_lines_per_collector"] = "10"
        assert (await boss.post("/manager/campaigns/c1/pacing", data=form)).status_code == 303
        page = (await boss.get("/manager?done=pacing")).text
        assert "Pacing applied." in page
        warning = re.search(r'data-testid="pacing-warning">([^<]+)<', page)
        assert warning and "fixed ratio of 9.5" in warning.group(1)


async def test_decisions_read_as_sentences_with_the_record_one_click_away(live: Running) -> None:
    async with live.client() as alice, live.client() as boss:
        await login(alice, "alice")
        await login(boss, "boss")
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "alice") == "on_call")
        decisions = (await boss.get("/api/v1/campaigns/c1/decisions")).json()
        assert decisions and decisions[-1]["reason"] == "ready - in flight"
        assert decisions[-1]["plain"].startswith("One call per ready collector: 1 ready")
        panel = (await boss.get("/manager/campaigns/c1/panel")).text
        assert 'data-testid="decision-reason">One call per ready collector' in panel
        assert re.search(
            r'<details class="technical"[^>]*><summary>Technical record</summary>'
            r'<code data-testid="decision-technical">ready - in flight</code>',
            panel,
        )
        assert 'data-testid="window">30 days<' in panel and " h)" not in panel


def _figures(**window: Any) -> dict[str, Any]:
    base_window = {
        "seconds": 2592000.0,
        "words": "30 days",
        "live_answers": 40,
        "abandons": 0,
        "abandon_rate": 0.0,
        "cap": 0.03,
        "budget_remaining": 1.0,
        "abandons_left": 1,
    }
    return {
        "running": True,
        "draining": False,
        "collectors": {"ready": 1},
        "calls": {"ringing": 0},
        "dials": 40,
        "live_answers": 40,
        "abandoned": 0,
        "window": base_window | window,
        "cap_guard": {"clamping": True, "sentence": "s.", "clamps": 1},
        "occupancy": 0.5,
        "hopper": 1,
        "hopper_empty_reason": None,
        "applied": {
            "pacer": "progressive",
            "ratio": None,
            "target_abandon_rate": None,
            "max_lines_per_collector": 3.0,
        },
        "pacing": {"target_abandon_rate": 0.025},
    }


def test_plurals_on_the_figures() -> None:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape())
    template = env.get_template("_figures.html")
    one = template.render(figures=_figures(), decisions=[])
    assert "(1 abandon)" in one and "1 decision cut" in one and ">1 case<" in one
    assert '(over <span data-testid="window">30 days</span>)' in one
    two = template.render(figures=_figures(abandons_left=2, live_answers=1), decisions=[])
    assert "(2 abandons)" in two and "of 1 live answer;" in two


@pytest.mark.parametrize(
    ("reason", "launch", "words"),
    [
        (
            "3 call(s): each drop risk under lambda 0.0187 (the last one fractionally, p=0.4)",
            3,
            "3 new calls: each has less than a 1.9% chance of being answered with no collector "
            "free to take it (the last one by a weighted coin toss).",
        ),
        (
            "first new call's drop risk 0.0412 >= lambda 0.0187",
            0,
            "No new call: one more would have a 4.1% chance of being answered with no collector "
            "free, above the 1.9% allowed now.",
        ),
        ("ceil(2.5 x ready) - in flight", 3, "Fixed ratio 2.5: 5 calls for 2 collectors ready"),
        ("round(L=1.35 x (ready + on call)) - lines in use", 1, "Adaptive dial level 1.35"),
        ("learning: progressive until enough calls seen", 1, "Still learning"),
        ("at the line limit", 0, "At the line limit (max lines per collector): no new call."),
        ("cap guard: abandon budget spent: 3.0% ...", 1, "The abandon-cap guard held dialing"),
        ("something new", 1, "something new"),
    ],
)
def test_pacing_reasons_in_plain_words(reason: str, launch: int, words: str) -> None:
    decision = {"reason": reason, "launch": launch, "launched": launch, "inputs": {"ready": 2}}
    sentence = plain_reason(decision)
    assert sentence.startswith(words)
    assert "lambda" not in sentence and "ceil(" not in sentence


def test_a_blended_campaigns_hold_for_return_calls_is_said() -> None:
    reason = "2 call(s): each drop risk under lambda 0.0200 (inbound: ...)"
    inbound = {"reserved": 1, "queued": 2, "callers_planned_per_hour": 88.0}
    decision = {"reason": reason, "launch": 2, "inputs": {}, "detail": {"inbound": inbound}}
    assert plain_reason(decision).endswith(
        "Return calls: 1 collector kept free, 2 callers waiting; about 88 calls an hour "
        "expected, planned as taking collectors as they come free."
    )
    fixed = {"reason": "ready - in flight", "launch": 1, "inputs": {"ready": 3}}
    fixed["detail"] = {"inbound": {"reserved": 2, "queued": 0}}
    assert plain_reason(fixed).endswith("Return calls: 2 collectors kept free.")


def test_fewer_placed_than_decided_is_said() -> None:
    decision = {"reason": "ready - in flight", "launch": 3, "launched": 1, "inputs": {"ready": 3}}
    assert plain_reason(decision).endswith("Only 1 could be placed (not enough callable cases).")


async def test_the_panel_says_why_a_campaign_stopped_dialing(live: Running) -> None:
    """The trunk's breaker opens: the daemon holds the campaign, and the manager's live
    panel (refreshed every 2 s) names the reason in words until it is released."""
    async with live.client() as boss:
        await login(boss, "boss")

        async def panel() -> str:
            response = await boss.get("/manager/campaigns/c1/panel")
            assert response.status_code == 200
            return response.text

        assert 'data-reason="trunk_down"' not in await panel()
        engine = live.daemon.runners["c1"].engine
        engine.hold("trunk_down", "the trunk is down: the carrier does not answer OPTIONS")
        text = ""

        async def shows() -> bool:
            nonlocal text
            text = await panel()
            return 'data-reason="trunk_down"' in text

        await until_async(shows, 5.0)
        assert "Dialing has stopped in campaign c1" in text
        assert "the carrier does not answer OPTIONS" in text
        engine.release("trunk_down")

        async def gone() -> bool:
            return 'data-reason="trunk_down"' not in await panel()

        await until_async(gone, 5.0)


async def until_async(check: Any, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.05)
