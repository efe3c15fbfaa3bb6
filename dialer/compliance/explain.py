"""The reason codes in plain language, with the profile's own numbers, for people who
schedule calls (a collector entering a callback) rather than for auditors."""

from __future__ import annotations

from dialer.compliance.callbacks import NO_DIALABLE_NUMBER
from dialer.compliance.profiles import Profile
from dialer.compliance.rules import Reason


def _plural(n: float, word: str) -> str:
    return f"{n:g} {word}" + ("" if n == 1 else "s")


def explain(reason: str, profile: Profile) -> str:
    """One sentence fragment saying what the rule forbids (unknown codes come back as they
    are, underscores made spaces)."""
    hours = profile.calling_hours
    attempts, lockouts = profile.attempts, profile.lockouts
    if reason == Reason.OUTSIDE_CALLING_HOURS:
        return (
            f"outside the calling hours: calls only between {hours.start:%H:%M} and "
            f"{hours.end:%H:%M} in the debtor's local time"
        )
    if reason == Reason.ATTEMPT_CAP and attempts.per_debt is not None:
        cap = attempts.per_debt
        return (
            f"too many calls: at most {_plural(cap.max_attempts, 'call')} in "
            f"{_plural(cap.window_days, 'day')} on this debt, counting the call just made"
        )
    if reason == Reason.POST_CONVERSATION_LOCKOUT and lockouts.post_conversation_days:
        days = lockouts.post_conversation_days
        return (
            f"too soon after a conversation: no call for {_plural(days, 'day')} after talking "
            "with the debtor (the day of the conversation is day 1), counting the call just made"
        )
    if reason == Reason.DAILY_CONVERSATION_CAP and attempts.conversations_per_debtor_per_day:
        n = attempts.conversations_per_debtor_per_day
        return f"at most {_plural(n, 'conversation')} with the debtor per day"
    if reason == Reason.DAILY_UNANSWERED_CAP and attempts.unanswered_per_number_per_day:
        n = attempts.unanswered_per_number_per_day.max
        return f"at most {_plural(n, 'unanswered call')} to this number per day"
    if reason == Reason.ABANDON_LOCKOUT and lockouts.abandon_hours:
        return (
            f"too soon after a dropped call: no call to this number for "
            f"{_plural(lockouts.abandon_hours, 'hour')} after a call was abandoned"
        )
    return FIXED.get(reason, reason.replace("_", " "))


FIXED = {
    Reason.DO_NOT_CALL.value: "the number or the case is on the do-not-call list",
    Reason.CEASE_COMMUNICATION.value: "the debtor asked us to stop contacting them",
    Reason.DISPUTED.value: "the debt is disputed",
    Reason.NO_CONSENT.value: "the number has no consent to automated calls",
    Reason.NUMBER_TYPE_FORBIDDEN.value: "this kind of number may not be called",
    Reason.UNKNOWN_NUMBER.value: "the number is not one of the case's numbers",
    Reason.INVALID_TIMEZONE.value: "the case names a time zone that does not exist",
    NO_DIALABLE_NUMBER: "the case has no number the dialer may call",
}
