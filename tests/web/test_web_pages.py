"""The server-rendered pages over plain HTTP (no browser): the login form and its CSRF
cookie, the console's forms, the case page's access rule, the manager's page and forms,
security headers, and the `dialer user add` command."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner
from webkit import CLOCK_START, PASSWORD, Running, login, running, state_of, until, write_settings

from dialer.cli import app as cli_app


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(write_settings(tmp_path, campaign_extra="    wrap_up_seconds: 30")) as r:
        yield r


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "a form with a CSRF token"
    return found.group(1)


async def _form_login(client: httpx.AsyncClient, username: str) -> httpx.Response:
    page = await client.get("/login?next=/console")
    return await client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": _token(page.text),
            "next": "/console",
        },
    )


async def test_login_form_needs_its_token_and_redirects(live: Running) -> None:
    async with live.client() as client:
        forged = await client.post("/login", data={"username": "alice", "password": PASSWORD})
        assert forged.status_code == 403 and "expired" in forged.text
        response = await _form_login(client, "alice")
        assert response.status_code == 303 and response.headers["location"] == "/console"
        page = await client.get("/console")
        assert page.status_code == 200 and "Go ready" in page.text
        assert 'data-testid="who">alice (collector)' in page.text
        assert (await client.get("/login")).headers["location"] == "/console"
        assert (await client.get("/manager")).status_code == 403
    async with live.client() as client:
        assert (await _form_login(client, "boss")).headers["location"] == "/console"
        assert (await client.get("/")).headers["location"] == "/manager"


async def test_open_redirects_are_refused(live: Running) -> None:
    async with live.client() as client:
        page = await client.get("/login")
        response = await client.post(
            "/login",
            data={
                "username": "boss",
                "password": PASSWORD,
                "csrf_token": _token(page.text),
                "next": "//evil.example/",
            },
        )
        assert response.headers["location"] == "/manager"


async def test_security_headers(live: Running) -> None:
    async with live.client() as client:
        response = await client.get("/login")
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-store"
        assert (await client.get("/static/htmx.min.js")).status_code == 200


async def test_console_forms_day(live: Running) -> None:
    async with live.client() as client:
        await _form_login(client, "alice")
        token = _token((await client.get("/console")).text)
        no_token = await client.post("/console/ready", data={"campaign": "c1"})
        assert no_token.status_code == 403
        ready = await client.post("/console/ready", data={"campaign": "c1", "csrf_token": token})
        assert ready.status_code == 303
        await until(lambda: state_of(live.daemon, "alice") == "on_call")
        page = (await client.get("/console")).text
        assert "On a call" in page and "Hang up" in page
        case_id = re.search(r'data-testid="case-id">(\d+)<', page)
        assert case_id
        busy = await client.post("/console/pause", data={"reason": "lunch", "csrf_token": token})
        assert busy.status_code == 409 and "cannot pause while on_call" in busy.text
        await client.post("/console/hangup", data={"csrf_token": token})
        await until(lambda: state_of(live.daemon, "alice") == "wrap_up")
        page = (await client.get("/console")).text
        assert 'data-testid="countdown"' in page and "Record" in page
        today = date.fromtimestamp(CLOCK_START)
        form = {
            "csrf_token": token,
            "case_id": case_id.group(1),
            "kind": "promise_to_pay",
            "amount": "-5",
            "promise_date": today.isoformat(),
        }
        bad = await client.post("/console/disposition", data=form)
        assert bad.status_code == 422 and "amount" in bad.text
        form["amount"] = "1.00"
        form["promise_date"] = (today + timedelta(days=3)).isoformat()
        good = await client.post("/console/disposition", data=form)
        assert good.status_code == 303
        page = (await client.get("/console?done=recorded")).text
        assert "Disposition recorded." in page and "Recorded: promise to pay" in page
        paused = await client.post("/console/pause", data={"reason": "lunch", "csrf_token": token})
        assert paused.status_code == 303
        await until(lambda: state_of(live.daemon, "alice") == "paused")


async def test_case_page_only_for_its_collector_and_managers(live: Running) -> None:
    async with live.client() as alice, live.client() as bob, live.client() as boss:
        await login(alice, "alice")
        await _form_login(bob, "bob")
        await _form_login(boss, "boss")
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "alice") == "on_call")
        case_id = (await alice.get("/api/v1/me")).json()["collector"]["call"]["case_id"]
        own = await alice.get(f"/cases/{case_id}")
        assert own.status_code == 200 and 'data-testid="balance"' in own.text
        other = await bob.get(f"/cases/{case_id}")
        assert other.status_code == 403 and "not routed to you" in other.text
        assert (await boss.get(f"/cases/{case_id}")).status_code == 200
        assert (await boss.get("/cases/abc")).status_code == 422


async def test_manager_page_and_forms(live: Running) -> None:
    async with live.client() as client:
        await _form_login(client, "boss")
        page = await client.get("/manager")
        assert page.status_code == 200
        assert 'data-testid="campaign-c1"' in page.text and "campaign-c2" not in page.text
        token = _token(page.text)
        panel = await client.get("/manager/campaigns/c1/panel")
        assert panel.status_code == 200 and "Latest pacing decisions" in panel.text
        assert (await client.get("/manager/campaigns/c2/panel")).status_code == 403
        refused = await client.post(
            "/manager/campaigns/c1/pacing",
            data={"csrf_token": token, "target_abandon_rate": "0.04"},
        )
        assert refused.status_code == 422 and "must be at most the cap 0.03" in refused.text
        applied = await client.post(
            "/manager/campaigns/c1/pacing",
            data={"csrf_token": token, "mode": "ratio", "ratio": "2", "target_abandon_rate": ".02"},
        )
        assert applied.status_code == 303
        engine = live.daemon.runners["c1"].engine
        assert engine.pacer.name == "ratio" and engine.pacer.ratio == 2.0  # type: ignore[attr-defined]
        after = (await client.get("/manager?done=pacing")).text
        assert "Pacing applied." in after and "campaign.pacing" in after
        stop = await client.post(
            "/manager/campaigns/c1/running", data={"csrf_token": token, "running": "false"}
        )
        assert stop.status_code == 303 and engine.paused


def test_cli_user_add(tmp_path: Path) -> None:
    config = tmp_path / "dialer.yaml"
    config.write_text(
        f'database: {{url: "sqlite+aiosqlite:///{tmp_path}/cli.db"}}\n'
        "campaigns: [{name: c1, compliance_profile: us_tsr_regf}]\n"
    )
    runner = CliRunner()
    args = ["user", "add", "dora", "--role", "collector", "--team", "t1", "--skill", "es"]
    result = runner.invoke(cli_app, [*args, "--password-stdin", "-c", str(config)], "s3cret-pw\n")
    assert result.exit_code == 0, result.output
    again = runner.invoke(cli_app, [*args, "--password-stdin", "-c", str(config)], "s3cret-pw\n")
    assert again.exit_code == 1 and "exists" in again.output
    short = runner.invoke(
        cli_app,
        ["user", "add", "eve", "--role", "manager", "--password-stdin", "-c", str(config)],
        "short\n",
    )
    assert short.exit_code == 2 and "at least 8" in short.output
    wrong = runner.invoke(
        cli_app,
        ["user", "add", "eve", "--role", "boss", "--password-stdin", "-c", str(config)],
        "long-enough\n",
    )
    assert wrong.exit_code == 2
    listed = runner.invoke(cli_app, ["user", "list", "-c", str(config)])
    assert "dora\tcollector\tdora" in listed.output
