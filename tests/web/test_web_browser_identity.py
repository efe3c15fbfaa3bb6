"""Right-party verification in Chromium: the screen pop of a routed call shows the debtor's
name, account reference and date of birth in the clear to its collector, the case page
shows another collector nothing of it, and each clear read is in the access audit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from test_web_browser import _log_in, _routed_call
from webkit import NewPage, running, write_settings

from dialer.store.identity_repo import IdentityRepository
from dialer.store.tables import CaseRow

pytestmark = pytest.mark.browser


async def test_routed_collector_sees_the_identity_another_does_not(
    tmp_path: Path, new_page: NewPage
) -> None:
    from playwright.async_api import expect

    async with running(write_settings(tmp_path)) as live:
        page = await new_page(live.base_url)
        await _log_in(page, "alice", "/console")
        case_id, _ = await _routed_call(live, page)
        live.daemon.runners["c1"].engine.paused = True  # one call is enough
        async with live.daemon.sessions() as session:
            row = await session.scalar(select(CaseRow).where(CaseRow.id == case_id))
        assert row is not None and row.debtor_name and row.account_ref and row.date_of_birth
        await expect(page.get_by_test_id("identity-name")).to_have_text(row.debtor_name)
        await expect(page.get_by_test_id("identity-account")).to_have_text(row.account_ref)
        await expect(page.get_by_test_id("identity-dob")).to_have_text(row.date_of_birth)
        assert row.debtor_name not in await page.get_by_test_id("debtor").inner_text()

        other = await new_page(live.base_url)
        await _log_in(other, "bob", "/console")
        await other.goto(f"{live.base_url}/cases/{case_id}")
        body = await other.content()
        assert row.debtor_name not in body and row.account_ref not in body
        assert await other.get_by_test_id("identity-name").count() == 0

        async with live.daemon.sessions() as session:
            audit = await IdentityRepository(session).audit_of(case_id)
        readers = {(a.actor, a.reason) for a in audit}
        assert readers == {("alice", "routed_call")}
