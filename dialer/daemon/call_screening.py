"""Answering-machine detection in the daemon: which calls are screened, and with what.

The SIP trunk asks `CallScreening.screen` for every debtor leg the 200 OK brings up. The
call's campaign (the runner whose engine holds the call) says whether AMD is on and with
which timings; the one worker pool (dialer.media.amd_pool, `amd_pool` settings) does the
listening off the event loop. A campaign that drops messages on machines has its message
read once at start-up (`load_messages`): a file that cannot be played stops the start with
its key, so no machine is ever hung up on for want of a readable message.
"""

from __future__ import annotations

from collections.abc import Mapping

from dialer.daemon.runner import CampaignRunner
from dialer.media.amd import AmdDecision
from dialer.media.amd_pool import AmdPool, AmdSession
from dialer.media.message_file import MessageFileError, load_message
from dialer.metrics import Metrics
from dialer.settings import Settings
from dialer.telephony.sip_amd import VERDICT_SLACK, Screening


class VoicemailMessageError(ValueError):
    """A drop's message file cannot be played: `key` names the setting."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key


def load_messages(settings: Settings) -> dict[str, bytes]:
    """Every dropping campaign's message as μ-law, by campaign name."""
    messages: dict[str, bytes] = {}
    for index, campaign in enumerate(settings.campaigns):
        amd = campaign.amd
        if not (amd.enabled and amd.on_machine == "voicemail_drop"):
            continue
        path = amd.voicemail.message_file
        assert path is not None  # CampaignAmdSettings requires it for a drop
        try:
            messages[campaign.name] = load_message(path)
        except MessageFileError as exc:
            raise VoicemailMessageError(
                f"campaigns.{index}.amd.voicemail.message_file", str(exc)
            ) from None
    return messages


class CallScreening:
    def __init__(
        self,
        settings: Settings,
        runners: Mapping[str, CampaignRunner],
        metrics: Metrics,
        messages: Mapping[str, bytes],
    ) -> None:
        self.settings = settings
        self.runners = runners
        self.metrics = metrics
        self.messages = messages
        self.pool = AmdPool(settings.amd_pool, on_decision=self._decided)
        self._dropped_seen = 0

    @property
    def needed(self) -> bool:
        """Some campaign listens for machines (else the trunk is given no screening)."""
        return any(c.amd.enabled for c in self.settings.campaigns)

    def prewarm(self) -> None:
        """Detectors built ahead in the workers, one per worker per campaign setting."""
        for campaign in self.settings.campaigns:
            if campaign.amd.enabled:
                self.pool.prewarm(campaign.amd, self.settings.amd_pool.workers)

    def screen(self, call_id: str) -> Screening | None:
        name = next((n for n, r in self.runners.items() if call_id in r.engine.calls), None)
        if name is None:
            return None
        amd = self.settings.campaign(name).amd
        if not amd.enabled:
            return None
        session = self.pool.open(call_id, amd, name)
        return Screening(
            session,
            verdict_timeout=amd.total_analysis_time + VERDICT_SLACK,
            greeting_timeout=amd.greeting_end_timeout,
            message=self.messages.get(name) if amd.on_machine == "voicemail_drop" else None,
        )

    def _decided(self, session: AmdSession, decision: AmdDecision) -> None:
        m = self.metrics
        m.amd_verdicts.labels(session.campaign, decision.verdict.value).inc()
        m.amd_decision_seconds.labels(session.campaign).observe(decision.seconds)
        dropped = self.pool.stats.dropped
        if dropped > self._dropped_seen:
            m.amd_dropped.inc(dropped - self._dropped_seen)
            self._dropped_seen = dropped

    def close(self) -> None:
        self.pool.close()
