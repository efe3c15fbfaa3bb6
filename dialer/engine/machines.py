"""The engine's answering machines: what a campaign does when AMD says `machine`, and the
end of every call (`_finish`, the record it leaves), which the machine paths share with all.

With answering-machine detection on, the trunk reports `CallAnswered` once AMD has decided
(dialer.domain.events). A `machine` verdict is never routed to a collector: the campaign
hangs up (`on_machine: hangup`, also what happens with AMD off when a trunk says machine) or
drops its limited-content message (`voicemail_drop`): `LeaveVoicemail`, the call held in
`voicemail` (a line at the carrier, no collector, not in flight for the pacer) until the
trunk reports `VoicemailLeft`. The whole message played is the outcome
`machine_message_left`, which compliance counts as a call attempt and never as a
conversation; a message cut short (the machine hung up, no greeting end was heard) stays
`machine`. A `notsure` verdict goes to a collector as a human would, whatever `machine`
says. Every machine verdict is counted (`EngineStats.machine_verdicts`) for the profiles
that count AMD false positives as abandons (dialer.engine.cap_guard).

`Machines` is the engine's layer for these steps, on `Answers` (dialer.engine.answers);
sans-I/O like the whole engine.
"""

from __future__ import annotations

from dialer.domain.calls import AmdVerdict, Call, CallOutcome, CallState
from dialer.domain.commands import AttemptFinished, Command, Hangup, LeaveVoicemail
from dialer.domain.events import CallAnswered, VoicemailLeft
from dialer.domain.model import ContactRecord
from dialer.engine.answers import Answers
from dialer.engine.state import VOICEMAIL_DROP, contact_outcome
from dialer.engine.views import to_utc


def routes_as_machine(event: CallAnswered) -> bool:
    """A `notsure` verdict goes to a collector: only a machine that AMD is sure of is not."""
    return event.machine and event.amd is not AmdVerdict.NOTSURE


class Machines(Answers):
    def _answered_by_machine(self, call: Call, now: float, out: list[Command]) -> None:
        """A machine answered (the trunk's verdict, at its decision): no collector, ever.
        For the pacer the dial resolved without a live answer, at the reported time."""
        assert call.dialed_at is not None
        self.pacer.observe_dial_resolved(now - call.dialed_at, False, now)
        self.stats.machine_verdicts += 1
        self.pacer.observe_machine(now)
        if self.config.on_machine == VOICEMAIL_DROP:
            self._set_call_state(call, call.leave_voicemail, now)
            out.append(LeaveVoicemail(call.call_id))
            self._release_reserved(call, now, out)
            return
        self._set_call_state(call, call.fail, CallOutcome.MACHINE, now)
        out.append(Hangup(call.call_id))
        self._release_reserved(call, now, out)
        self._finish(call, now, out)

    def _on_voicemail_left(self, event: VoicemailLeft, now: float, out: list[Command]) -> None:
        """The trunk finished the drop (and hung up): the attempt's record is written now."""
        call = self._call(event.call_id)
        if call.state is not CallState.VOICEMAIL:
            return  # a late or duplicate report: the call already ended
        self._set_call_state(call, call.voicemail_ended, event.left, now)
        self._finish(call, now, out)

    def _voicemail_hung_up(self, call: Call, now: float, out: list[Command]) -> None:
        """The line dropped before the trunk said the message was left: not left."""
        self._set_call_state(call, call.voicemail_ended, False, now)
        self._finish(call, now, out)

    def _finish(self, call: Call, now: float, out: list[Command]) -> None:
        del self.calls[call.call_id]
        self._count["call_ended"] -= 1
        target = self._targets.pop(call.call_id)
        self.case_hopper.release(target.case.ref)
        assert call.outcome is not None
        self.stats.outcomes[call.outcome.value] += 1
        if self.guard is not None:  # only the dial-time compliance check reads it
            # Stamped at the dial as the store records it, so `Dialing._allowed` can
            # match the two.
            assert call.dialed_at is not None
            record = ContactRecord(to_utc(call.dialed_at), call.number, contact_outcome(call))
            self._own_history.setdefault(target.case.ref, []).append(record)
        out.append(AttemptFinished(call, target.case.ref))
