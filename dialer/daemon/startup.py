"""The daemon's start-up before anything dials: the campaigns checked against their
compliance profiles, the store migrated, campaigns and simulated collectors registered, and
the demo portfolio loaded into an empty campaign.

A setting that cannot work stops here with a `StartupError` whose message says why in one
line, before a trunk, an engine or the web server exists. That includes every setting the
store keeps in a column (`check_settings`): a value longer than its column is refused on
PostgreSQL (SQLite keeps it), and a daemon whose instance name cannot be written as a
lease owner would never lease a case: no dials, no error. The default instance name (host
name + pid) is cut to fit.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialer.clock import Clock
from dialer.compliance import Profile, load_profile, require_safe_campaign_config
from dialer.compliance.voicemail import limited_content_refusals
from dialer.daemon.call_screening import VoicemailMessageError, load_messages
from dialer.daemon.inbound_routes import InboundRouteError, inbound_routes
from dialer.media.retention import retention_refusals
from dialer.settings import Settings
from dialer.store.cases_repo import CaseRepository
from dialer.store.crypto import installed
from dialer.store.keyfile import install_from
from dialer.store.org_repo import CampaignRepository, CollectorRepository
from dialer.store.tables import CallAttempt, Campaign, CaseRow, Team, User


class StartupError(Exception):
    """The daemon cannot start with these settings; the message says why in one line."""


@dataclass(slots=True)
class StartupReport:
    database: str
    campaigns: dict[str, int] = field(default_factory=dict)  # name -> cases
    demo_loaded: dict[str, int] = field(default_factory=dict)
    collectors: int = 0
    trunk: str = "simulated"


def check_campaigns(settings: Settings) -> dict[str, Profile]:
    """Each campaign's compliance profile, after refusing settings unsafe under it."""
    if not settings.campaigns:
        raise StartupError("no campaigns configured: add one under 'campaigns'")
    profiles: dict[str, Profile] = {}
    for index, campaign in enumerate(settings.campaigns):
        try:
            profile = load_profile(campaign.compliance_profile, settings.compliance_dir)
        except ValueError as exc:
            raise StartupError(f"campaign {campaign.name}: {exc}") from None
        try:
            require_safe_campaign_config(
                profile,
                connect_grace=campaign.connect_grace,
                ring_timeout=campaign.ring_timeout,
                target_abandon_rate=campaign.pacing.target_abandon_rate,
                caller_id=campaign.caller_id,
                safe_harbor_message_configured=True,
            )
        except ValueError as exc:
            raise StartupError(f"campaign {campaign.name}: {exc}") from None
        check_voicemail_message(settings, index, profile)
        refusals = retention_refusals(campaign.recording, profile)
        if refusals:
            raise StartupError(f"campaign {campaign.name}: {'; '.join(refusals)}")
        profiles[campaign.name] = profile
    return profiles


def voicemail_messages(settings: Settings) -> dict[str, bytes]:
    """Every voicemail drop's message, read and checked playable now: a file that cannot
    be played stops the start with its key and file, never a call later."""
    try:
        return load_messages(settings)
    except VoicemailMessageError as exc:
        raise StartupError(f"{settings.source_of(exc.key)}: {exc}") from None


def check_voicemail_message(settings: Settings, index: int, profile: Profile) -> None:
    """A campaign that drops messages on machines must declare a message its profile
    allows (us_tsr_regf: a Reg F limited-content message): refused with the key, the file
    and every reason."""
    amd = settings.campaigns[index].amd
    if not (amd.enabled and amd.on_machine == "voicemail_drop"):
        return
    refusals = limited_content_refusals(profile, amd.voicemail.message_text)
    if refusals:
        key = f"campaigns.{index}.amd.voicemail.message_text"
        raise StartupError(
            f"{settings.source_of(key)}: {key}: not a limited-content message: "
            + "; ".join(refusals)
        )


# A call id is "<campaign>.<8 hex digits of the run>.<sequence number>" (dialer.daemon.build):
# room for a sequence number of 10 digits.
CALL_ID_OVERHEAD = 1 + 8 + 1 + 10
MIN_REAL_LEASE_SECONDS = 2.0  # a lease must outlast this much real time (store latency)


def _limit(column: Any) -> int:
    length = column.type.length
    assert isinstance(length, int)
    return length


def default_instance_name(host: str | None = None, pid: int | None = None) -> str:
    """Host name + pid, the host name cut so the whole fits the lease-owner column."""
    suffix = f"-{os.getpid() if pid is None else pid}"
    host = socket.gethostname() if host is None else host
    return host[: _limit(CaseRow.lease_owner) - len(suffix)] + suffix


def instance_name(settings: Settings) -> str:
    """What this daemon writes as the owner of its leases."""
    return settings.instance_id or default_instance_name()


def _column_values(settings: Settings, instance: str) -> Iterator[tuple[str, str, Any]]:
    """(setting key, value, column) for every setting the store keeps in a column of
    limited length."""
    yield "instance_id", instance, CaseRow.lease_owner
    yield "collectors.team", settings.collectors.team, Team.name
    for i, c in enumerate(settings.campaigns):
        key = f"campaigns.{i}"
        yield f"{key}.name", c.name, Campaign.name
        yield f"{key}.compliance_profile", c.compliance_profile, Campaign.compliance_profile
        yield f"{key}.pacing.mode", c.pacing.mode, Campaign.pacing_mode
        if c.caller_id is not None:
            yield f"{key}.caller_id", c.caller_id, Campaign.caller_id
        for j, manager in enumerate(c.managers):
            yield f"{key}.managers.{j}", manager, User.username
    escalation = settings.orchestration.reassign.escalation_team
    if escalation is not None:
        yield "orchestration.reassign.escalation_team", escalation, Team.name


def _too_long(key: str, value: str, most: int, why: str) -> StartupError:
    shown = f"{value[:24]!r}{'...' if len(value) > 24 else ''}"
    return StartupError(f"{key}: {shown} is {len(value)} characters, at most {most}: {why}")


def check_settings(settings: Settings, instance: str, clock: Clock) -> None:
    """Refuse what would fail later, silently: a value longer than the store's column for
    it, a calling window for no campaign, a lease too short in real time at this speed.
    Also loads the privacy keyring (which the migrations need) when none is installed yet:
    the CLI installs it, a program embedding the daemon may not have."""
    if installed() is None:
        install_from(settings.privacy)
    for key, value, column in _column_values(settings, instance):
        most = _limit(column)
        if len(value) > most:
            where = f"{column.table.name}.{column.name}"
            raise _too_long(key, value, most, f"the store keeps it in {where}")
    call_ids = _limit(CallAttempt.call_id)
    for i, c in enumerate(settings.campaigns):
        if len(c.name) > call_ids - CALL_ID_OVERHEAD:
            why = f"it starts every call id, and call_attempts.call_id holds {call_ids}"
            raise _too_long(f"campaigns.{i}.name", c.name, call_ids - CALL_ID_OVERHEAD, why)
    try:
        inbound_routes(settings)  # our numbers parse and map to campaigns
    except InboundRouteError as exc:
        raise StartupError(str(exc)) from None
    names = {c.name for c in settings.campaigns}
    for name in settings.orchestration.windows:
        if name not in names:
            raise StartupError(f"orchestration.windows.{name}: no campaign named {name!r}")
    lease = settings.orchestration.lease_seconds
    real = clock.real_seconds(lease)
    if real < MIN_REAL_LEASE_SECONDS:
        least = MIN_REAL_LEASE_SECONDS * clock.speed
        raise StartupError(
            f"orchestration.lease_seconds: {lease:g} s of the daemon's clock last {real:.2g} s "
            f"of real time at speed {clock.speed:g}; a lease needs at least "
            f"{MIN_REAL_LEASE_SECONDS:g} s (set it to {least:g} or more, or run slower)"
        )


def simulated_ids(settings: Settings) -> list[str]:
    """sim-001 ... sim-<count>; with the SIP trunk only those with a phone under
    trunk.sip.collectors (their nailed-up legs go there)."""
    ids = [f"sim-{i:03d}" for i in range(1, settings.collectors.count + 1)]
    sip = settings.trunk.sip
    if settings.trunk.kind == "sip":
        return [i for i in ids if sip is not None and i in sip.collectors]
    return ids


async def register(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], report: StartupReport
) -> None:
    """Campaigns and simulated collectors into the store; the demo portfolio into every
    empty campaign when the settings ask for one; the cases per campaign into the report."""
    async with sessions() as session, session.begin():
        campaigns = CampaignRepository(session)
        for c in settings.campaigns:
            await campaigns.upsert(
                c.name,
                pacing_mode=c.pacing.mode,
                pacing_params=c.pacing.model_dump(),
                compliance_profile=c.compliance_profile,
                caller_id=c.caller_id,
            )
        people = CollectorRepository(session)
        for collector_id in simulated_ids(settings):
            await people.upsert(
                collector_id, team=settings.collectors.team, skills=settings.collectors.skills
            )
        counts = await CaseRepository(session).count_by_campaign()
    for c in settings.campaigns:
        wanted = settings.demo_cases > 0 or settings.demo_portfolio is not None
        if counts.get(c.name, 0) == 0 and wanted:
            report.demo_loaded[c.name] = await load_demo(settings, sessions, c.name)
    async with sessions() as session:
        report.campaigns = {
            c.name: n
            for c in settings.campaigns
            for name, n in (await CaseRepository(session).count_by_campaign()).items()
            if name == c.name
        }
    report.collectors = len(simulated_ids(settings))


async def load_demo(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], campaign: str
) -> int:
    """The settings' demo portfolio file, or a generated one of `demo_cases` cases."""
    from dialer.portfolio.csv_import import import_cases
    from dialer.portfolio.demo import generate_portfolio, write_csv

    if settings.demo_portfolio is not None:
        result = await import_cases(
            sessions, settings.demo_portfolio, campaign, settings.default_region, skip_bad=True
        )
        return result.inserted
    rows = generate_portfolio(settings.demo_cases, np.random.default_rng(7))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.csv"
        write_csv(rows, path)
        result = await import_cases(
            sessions, path, campaign, settings.default_region, skip_bad=True
        )
    return result.inserted


def safe_url(url: str) -> str:
    """The database URL without a password, for display."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url
