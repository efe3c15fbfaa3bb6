"""Right-party verification: the collector the call is routed to sees the debtor's name,
account reference and date of birth in the clear on the case screen (JSON and page),
another collector does not (403), a manager does; every clear read is in the access audit,
and the numbers stay masked for everyone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from webkit import Running, login, running, state_of, until, write_settings

from dialer.daemon import Daemon
from dialer.store.identity_repo import AccessRecord, IdentityRepository
from dialer.store.tables import CaseRow


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Running]:
    async with running(write_settings(tmp_path)) as r:
        yield r


async def clear_of(daemon: Daemon, case_id: int) -> CaseRow:
    async with daemon.sessions() as session:
        row = await session.scalar(select(CaseRow).where(CaseRow.id == case_id))
    assert row is not None
    return row


async def audit_of(daemon: Daemon, case_id: int) -> list[tuple[str, str, str]]:
    async with daemon.sessions() as session:
        records: list[AccessRecord] = await IdentityRepository(session).audit_of(case_id)
    return [(r.actor, r.role, r.reason) for r in records]


async def test_routed_collector_and_manager_see_it_audited_others_do_not(live: Running) -> None:
    async with live.client() as alice, live.client() as bob, live.client() as boss:
        await login(alice, "alice")
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "alice") == "on_call", what="a routed call")
        live.daemon.runners["c1"].engine.paused = True  # one call is enough
        case_id = (await alice.get("/api/v1/me")).json()["collector"]["call"]["case_id"]
        row = await clear_of(live.daemon, case_id)
        assert row.debtor_name and row.account_ref and row.date_of_birth

        seen = (await alice.get(f"/api/v1/cases/{case_id}")).json()
        assert seen["identity"]["name"] == row.debtor_name
        assert seen["identity"]["account_ref"] == row.account_ref
        assert seen["identity"]["date_of_birth"] == row.date_of_birth
        assert seen["display_name"] == row.display_name_masked != row.debtor_name
        assert all("*" in n["number"] for n in seen["numbers"])
        page = (await alice.get(f"/cases/{case_id}")).text
        assert 'data-testid="identity-name"' in page and row.account_ref in page

        await login(bob, "bob")
        refused = await bob.get(f"/api/v1/cases/{case_id}")
        assert refused.status_code == 403 and row.debtor_name not in refused.text
        assert row.debtor_name not in (await bob.get(f"/cases/{case_id}")).text

        await login(boss, "boss")
        managed = (await boss.get(f"/api/v1/cases/{case_id}")).json()
        assert managed["identity"]["name"] == row.debtor_name

        audit = await audit_of(live.daemon, case_id)
        assert ("alice", "collector", "routed_call") in audit
        assert ("boss", "manager", "manager_view") in audit
        assert not [a for a in audit if a[0] == "bob"]
        assert audit.count(("alice", "collector", "routed_call")) >= 2  # JSON, then the page


async def test_after_wrap_up_the_collector_sees_the_masked_forms_only(live: Running) -> None:
    async with live.client() as alice:
        await login(alice, "alice")
        await alice.post("/api/v1/me/ready", json={"campaign": "c1"})
        await until(lambda: state_of(live.daemon, "alice") == "on_call", what="a routed call")
        live.daemon.runners["c1"].engine.paused = True
        case_id = (await alice.get("/api/v1/me")).json()["collector"]["call"]["case_id"]
        await alice.post("/api/v1/me/hangup")
        await until(lambda: state_of(live.daemon, "alice") == "wrap_up", what="wrap-up")
        wrapping = (await alice.get(f"/api/v1/cases/{case_id}")).json()
        assert wrapping["identity"] is not None  # still theirs while wrapping it up
        await alice.post("/api/v1/me/pause", json={"reason": "break"})
        await until(lambda: state_of(live.daemon, "alice") == "paused", what="paused")
        after = await alice.get(f"/api/v1/cases/{case_id}")
        assert after.status_code == 200 and after.json()["identity"] is None
