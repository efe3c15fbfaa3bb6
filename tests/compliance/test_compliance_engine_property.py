"""Property: the real engine, guarded by a shipped profile, never originates a forbidden call.

Hypothesis generates portfolios (cases with 1-3 numbers of random type, consent and
do-not-call marks, case flags, explicit or absent time zones, numbers spanning two zones),
contact histories and clocks (near 08:00 / 21:00 / 22:00 local, on DST change days), then
drives `dialer.engine.Engine` with `ProfileGuard(profile)` through supplies, call outcomes,
collector moves, case changes and time jumps of seconds to days. Cases are supplied
*unfiltered*, so the dial-time guard is what is tested; they are supplied again and again,
so the engine's own attempts pile up against the attempt caps and lockouts.

The checker is an auditor replaying the store: for every `Originate`, `evaluate(profile,
case, number, history, now)` must allow the call, where `case` and `number` are those of the
target the engine accepted into its hopper and `history` is the case's initial history plus
every attempt of this run finished so far, stamped at its dial time (as the store keeps it).

The store a supply reads from is modelled too: it has none, all, a prefix or a random part
of this run's attempts, or all with the last outcome unwritten; the engine must count its
own attempts whatever the store holds.

The test can fail: the same checker finds violations in a targeted run without a guard, and
in generated runs without a guard or with a guard blind to the run's own attempts. Two
regression tests pin what it found in the engine: a manual (preview) call checked when the
collector was reserved but dialed after the calling hours closed, and an attempt the store
lost being dropped from the engine's history merge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis import target as steer

from dialer.compliance import evaluate, load_profile
from dialer.compliance.guard import ProfileGuard
from dialer.compliance.profiles import Profile
from dialer.compliance.timezones import resolve_zones
from dialer.domain.agents import CollectorState
from dialer.domain.calls import CallOutcome, CallState
from dialer.domain.commands import AttemptFinished, Cancel, Command, Originate, PlaySafeHarbor
from dialer.domain.events import (
    CallAnswered,
    CallFailed,
    CallHungUp,
    CallRinging,
    CasesSupplied,
    CollectorLoggedIn,
    CollectorLoggedOut,
    CollectorPaused,
    CollectorReady,
    Event,
)
from dialer.domain.guard import DialGuard, GuardVerdict
from dialer.domain.model import (
    Case,
    CaseFlag,
    ContactOutcome,
    ContactRecord,
    DialTarget,
    NumberType,
    PhoneNumber,
)
from dialer.engine import Engine, EngineConfig, contact_outcome
from dialer.pacing.policies import make_pacer

PROFILE_NAMES = ("us_tsr_regf", "uk_ofcom", "cn_ifac")
PROFILES: dict[str, Profile] = {name: load_profile(name) for name in PROFILE_NAMES}

HOME_NUMBERS = {
    "us_tsr_regf": (
        "+12125550123",  # New York
        "+12125550188",  # New York
        "+12085550123",  # Boise + Los Angeles
        "+13105550123",  # Los Angeles
        "+16025550123",  # Phoenix (no DST)
        "+19075550123",  # Anchorage + Adak
        "+18085550123",  # Honolulu
        "+10005550123",  # invalid: the profile's default zones (all 50 states')
    ),
    "uk_ofcom": (
        "+442079460123",  # London
        "+442079460188",  # London
        "+447700900123",  # UK, zone unknown: the profile's default zone
    ),
    "cn_ifac": (
        "+8613800138000",  # Shanghai
        "+8613800138111",  # Shanghai
        "+861055501234",  # Beijing (Asia/Shanghai)
    ),
}
ABROAD = ("+12085550123", "+12125550123", "+442079460123", "+8613800138000")
CASE_ZONES = (
    *(None,) * 8,
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Shanghai",
    "Pacific/Honolulu",
)
# 2026 DST changes: US 03-08 / 11-01, EU 03-29 / 10-25; and ordinary days.
DAYS = tuple(
    date(2026, m, d)
    for m, d in [(1, 15), (3, 7), (3, 8), (3, 28), (3, 29), (6, 10), (10, 25), (10, 31), (11, 1)]
)
# Near the calling-hours boundaries (08:00, 21:00, 22:00) and inside the hours.
LOCAL_TIMES = tuple(
    time(h, m)
    for h, m in [(8, 0), (7, 59), (21, 0), (20, 59), (22, 0), (21, 59), (10, 0), (13, 0), (16, 0)]
)
WAITS = (
    *(0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 30.0),
    *(300.0, 3600.0, 4 * 3600.0, 86400.0 - 600.0, 86400.0, 86400.0 + 3600.0),
    *(71 * 3600.0 + 3599.0, 72 * 3600.0, 3 * 86400.0, 6 * 86400.0, 7 * 86400.0),
)
SETTLE_BEFORE = 60.0  # seconds: longer waits first end every call (nobody rings for hours)
ACTIONS = (
    *("round",) * 5,
    *("supply",) * 3,
    *("wait",) * 3,
    *("until",) * 3,
    *("answer",) * 4,
    *("fail",) * 2,
    *("hangup",) * 4,
    *("tick", "ring", "machine", "ready", "pause", "login", "logout", "change"),
)
STORE_MODES = ("none", "full", "prefix", "lossy", "stale")
CHANGES = (
    *(f.value for f in CaseFlag),
    "number_dnc",
    "number_consent",
    "timezone",
)
FAILURES = (CallOutcome.NO_ANSWER, CallOutcome.BUSY, CallOutcome.FAILED)


# Generation costs more than running the engine, so most of a scenario is decoded from a few
# byte strings: one cheap draw each, and all-zero bytes (what shrinking heads for) decode to
# the plainest choice (a callable debtor number, no flag, no time zone, a recent no-answer).
NUMBER_TYPES = (NumberType.DEBTOR,) * 8 + tuple(NumberType)
FLAG_VALUES = tuple(f.value for f in CaseFlag)
HISTORY_OUTCOMES = (ContactOutcome.NO_ANSWER, ContactOutcome.BUSY) * 4 + tuple(ContactOutcome)
HISTORY_AGES = (6 * 3600, 3 * 86400, 9 * 86400)  # seconds: recent records weigh more
RARE = 10  # a number without consent, a do-not-call number, a flagged case: 1 in RARE


def decode_case(blob: bytes, ref: str, profile: str) -> Case:
    """Bytes 0-3: how many numbers (1-3), whether flagged, which flags, the time zone; then
    four bytes per number: which number, its type, consent, do-not-call."""
    head = blob[:4].ljust(4, b"\0")
    home = HOME_NUMBERS[profile]
    choices = home * 4 + ABROAD
    numbers: dict[str, PhoneNumber] = {}
    for i in range(1 + head[0] % 3):
        e164, kind, consent, dnc = blob[4 + 4 * i : 8 + 4 * i].ljust(4, b"\0")
        number = choices[e164 % len(choices)]
        numbers.setdefault(
            number,
            PhoneNumber(
                number,
                NUMBER_TYPES[kind % len(NUMBER_TYPES)],
                consent=consent % RARE != RARE - 1,
                dnc=dnc % RARE == RARE - 1,
            ),
        )
    flags = frozenset[str]()
    if head[1] % RARE == RARE - 1:
        flags = frozenset(f for i, f in enumerate(FLAG_VALUES) if head[2] >> i & 1) or frozenset(
            {FLAG_VALUES[head[2] % len(FLAG_VALUES)]}
        )
    zone = CASE_ZONES[head[3] % len(CASE_ZONES)]
    return Case(ref, tuple(numbers.values()), timezone=zone, flags=flags)


def decode_history(blob: bytes, case: Case, start: datetime) -> tuple[ContactRecord, ...]:
    """Five bytes per record: the age scale, the number, the outcome, the age (16 bits)."""
    records = []
    for i in range(0, len(blob) - 4, 5):
        scale, index, outcome, high, low = blob[i : i + 5]
        age = HISTORY_AGES[scale % len(HISTORY_AGES)] * ((high << 8) | low) // 0xFFFF
        records.append(
            ContactRecord(
                start - timedelta(seconds=age + 1),
                case.numbers[index % len(case.numbers)].e164,
                HISTORY_OUTCOMES[outcome % len(HISTORY_OUTCOMES)],
            )
        )
    return tuple(sorted(records, key=lambda r: r.at))


_CASE_BYTES = st.binary(min_size=4, max_size=16)
_HISTORY_BYTES = st.binary(max_size=8 * 5)
# Steps come as bytes too, four per step (action, a, a, b).
_STEPS = st.binary(min_size=20, max_size=320)
_PACERS = st.sampled_from(["ratio:3"] * 4 + ["progressive", "preview"])


# ----- scenarios ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    profile: str
    cases: tuple[Case, ...]
    histories: dict[str, tuple[ContactRecord, ...]]
    start: float  # POSIX seconds
    zone: str  # the clock's zone: "until" steps jump to its next local time of day
    collectors: int
    pacer: str
    preview_dial_delay: float
    auto_ready_after_wrap: float | None
    steps: tuple[tuple[str, int, int], ...]


def local_instant(day: date, at: time, zone: str, seconds: int) -> datetime:
    local = datetime.combine(day, at).replace(tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC) + timedelta(seconds=seconds)


def decode_steps(blob: bytes) -> tuple[tuple[str, int, int], ...]:
    return tuple(
        (ACTIONS[blob[i] % len(ACTIONS)], blob[i + 1] << 4 | blob[i + 2] >> 4, blob[i + 3])
        for i in range(0, len(blob) - 3, 4)
    )


@st.composite
def scenarios(draw: st.DrawFn, profile: str | None = None) -> Scenario:
    name = profile or draw(st.sampled_from(PROFILE_NAMES))
    size = draw(st.integers(1, 5))
    portfolio = [decode_case(draw(_CASE_BYTES), f"k{i}", name) for i in range(size)]
    # The clock: in the zone of one of the numbers (or London or Shanghai), near a
    # calling-hours boundary or inside the hours, often on a DST change day.
    case = draw(st.sampled_from(portfolio))
    number = draw(st.sampled_from(case.numbers)).e164
    defaults = PROFILES[name].calling_hours.default_timezones
    zones = [z.key for z in resolve_zones(case.timezone, number, defaults)]
    zone = draw(st.sampled_from([*zones, "Europe/London", "Asia/Shanghai"]))
    day, at = draw(st.sampled_from(DAYS)), draw(st.sampled_from(LOCAL_TIMES))
    start = local_instant(day, at, zone, draw(st.integers(-90, 90)))
    histories = {case.ref: decode_history(draw(_HISTORY_BYTES), case, start) for case in portfolio}
    pacer = draw(_PACERS)
    return Scenario(
        profile=name,
        cases=tuple(portfolio),
        histories=histories,
        start=start.timestamp(),
        zone=zone,
        collectors=draw(st.integers(1, 3)),
        pacer=pacer,
        preview_dial_delay=draw(st.sampled_from([0.0, 20.0])) if pacer == "preview" else 0.0,
        auto_ready_after_wrap=draw(st.sampled_from([1.0, 5.0, None])),
        steps=decode_steps(draw(_STEPS)),
    )


# ----- the driver and the checker -------------------------------------------------------------


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class Violation:
    case_ref: str
    number: str
    at: datetime
    reasons: tuple[str, ...]


@dataclass
class Run:
    """One scenario played against one engine, checking every Originate."""

    scenario: Scenario
    engine: Engine
    now: float
    cases: list[Case]  # current versions (case changes apply to later supplies)
    made: dict[str, list[ContactRecord]] = field(default_factory=dict)  # this run's attempts
    accepted: dict[str, DialTarget] = field(default_factory=dict)  # what the hopper holds
    violations: list[Violation] = field(default_factory=list)
    originated: int = 0

    @property
    def profile(self) -> Profile:
        return PROFILES[self.scenario.profile]

    def history(self, ref: str) -> tuple[ContactRecord, ...]:
        """The auditor's view: the initial history and every attempt finished so far."""
        return self.scenario.histories.get(ref, ()) + tuple(self.made.get(ref, ()))

    def send(self, event: Event) -> None:
        self.absorb(self.engine.handle(event, self.now))

    def tick(self) -> None:
        self.absorb(self.engine.tick(self.now))

    def absorb(self, commands: list[Command]) -> None:
        """Check originates, record finished attempts, play the trunk's part."""
        replies: list[CallFailed | CallHungUp] = []
        for command in commands:
            if isinstance(command, Originate):
                self.check(command)
            elif isinstance(command, AttemptFinished):
                call = command.call
                assert call.dialed_at is not None
                record = ContactRecord(utc(call.dialed_at), call.number, contact_outcome(call))
                self.made.setdefault(command.case_ref, []).append(record)
            elif isinstance(command, Cancel):
                replies.append(CallFailed(command.call_id, CallOutcome.NO_ANSWER))
            elif isinstance(command, PlaySafeHarbor):
                replies.append(CallHungUp(command.call_id))
        for reply in replies:
            if reply.call_id in self.engine.calls:
                self.send(reply)

    def check(self, command: Originate) -> None:
        self.originated += 1
        target = self.accepted[command.case_ref]
        assert command.number == target.number
        decision = evaluate(
            self.profile, target.case, target.number, self.history(target.case.ref), utc(self.now)
        )
        if not decision.allowed:
            self.violations.append(
                Violation(target.case.ref, target.number, utc(self.now), decision.reasons)
            )

    # ----- steps ------------------------------------------------------------------------

    def supply(self, mask: int, pick: int) -> None:
        chosen = [self.cases[i] for i in range(len(self.cases)) if mask >> i & 1]
        if not chosen:
            chosen = [self.cases[mask % len(self.cases)]]
        if mask >> 8 & 1:  # the same case twice in one batch
            chosen.append(chosen[0])
        mode = STORE_MODES[(pick & 7) % len(STORE_MODES)]  # low 3 bits: the store's mode
        targets = []
        for i, case in enumerate(chosen):
            number = case.numbers[((pick >> 3) + i) % len(case.numbers)].e164
            history = self.store_history(case.ref, mode, pick >> 3)
            targets.append(DialTarget(case, number, history))
        queued = self.engine.queued_refs
        for target in targets:
            ref = target.case.ref
            if ref not in queued:
                queued |= {ref}
                self.accepted[ref] = target
        self.send(CasesSupplied(tuple(targets)))

    def store_history(self, ref: str, mode: str, bits: int) -> tuple[ContactRecord, ...]:
        """The history a store would give: none of this run's attempts (a store the engine
        does not write to), all of them (the daemon flushes before a refill), a prefix (a
        lagging replica), some of them (writes that failed), or all with the last one's
        outcome not written (an attempt without an outcome reads as no answer)."""
        made = self.made.get(ref, [])
        if mode == "full":
            kept = made
        elif mode == "stale":
            kept = made[:-1] + [replace(r, outcome=ContactOutcome.NO_ANSWER) for r in made[-1:]]
        elif mode == "prefix":
            kept = made[: bits % (len(made) + 1)]
        elif mode == "lossy":
            kept = [r for i, r in enumerate(made) if bits >> (i % 6) & 1]
        else:
            kept = []
        return self.scenario.histories.get(ref, ()) + tuple(kept)

    def change(self, which: int, how: int) -> None:
        index = which % len(self.cases)
        case = self.cases[index]
        kind = CHANGES[how % len(CHANGES)]
        if kind in {f.value for f in CaseFlag}:
            case = replace(case, flags=case.flags ^ {kind})
        elif kind == "timezone":
            case = replace(case, timezone=CASE_ZONES[(how >> 3) % len(CASE_ZONES)])
        else:
            k = (how >> 3) % len(case.numbers)
            phone = case.numbers[k]
            phone = (
                replace(phone, dnc=not phone.dnc)
                if kind == "number_dnc"
                else replace(phone, consent=not phone.consent)
            )
            case = replace(case, numbers=(*case.numbers[:k], phone, *case.numbers[k + 1 :]))
        self.cases[index] = case

    def settle(self) -> None:
        """End every call before a long wait: nothing rings or talks for hours."""
        for call_id in sorted(self.engine.calls):
            call = self.engine.calls.get(call_id)
            if call is None:
                continue
            if call.state in (CallState.DIALING, CallState.RINGING):
                self.send(CallFailed(call_id, CallOutcome.NO_ANSWER))
            elif call.state in (CallState.ANSWERED, CallState.BRIDGED, CallState.ABANDONED):
                self.send(CallHungUp(call_id))

    def wait(self, seconds: float) -> None:
        if seconds > SETTLE_BEFORE:
            self.settle()
        self.now += seconds
        self.tick()

    def call_event(self, action: str, choice: int) -> None:
        calls = sorted(self.engine.calls.values(), key=lambda c: c.call_id)
        pre = (CallState.DIALING, CallState.RINGING)
        if action == "ring":
            wanted: tuple[CallState, ...] = (CallState.DIALING,)
        elif action in ("answer", "machine", "fail"):
            wanted = pre
        else:
            wanted = (CallState.ANSWERED, CallState.BRIDGED, CallState.ABANDONED)
        found = [c for c in calls if c.state in wanted]
        if not found:
            return
        call_id = found[choice % len(found)].call_id
        if action == "ring":
            self.send(CallRinging(call_id))
        elif action in ("answer", "machine"):
            self.send(CallAnswered(call_id, machine=action == "machine"))
        elif action == "fail":
            self.send(CallFailed(call_id, FAILURES[choice % len(FAILURES)]))
        else:
            self.send(CallHungUp(call_id))

    def collector_event(self, action: str, choice: int) -> None:
        collectors = sorted(self.engine.collectors.values(), key=lambda c: c.collector_id)
        states = {
            "ready": (CollectorState.PAUSED, CollectorState.WRAP_UP),
            "pause": (CollectorState.READY, CollectorState.WRAP_UP),
            "logout": (CollectorState.READY, CollectorState.PAUSED),
            "login": (CollectorState.LOGGED_OUT,),
        }[action]
        found = [c for c in collectors if c.state in states]
        if not found:
            return
        cid = found[choice % len(found)].collector_id
        if action == "ready":
            self.send(CollectorReady(cid))
        elif action == "pause":
            self.send(CollectorPaused(cid, "break"))
        elif action == "logout":
            self.send(CollectorLoggedOut(cid))
        else:
            self.send(CollectorLoggedIn(cid))

    def until(self, a: int, b: int) -> None:
        """Jump to the next local time of day LOCAL_TIMES[a] (b - 128 seconds off) in the clock's
        zone: a calling-hours boundary or a time inside the hours, the next day or later."""
        zone = self.scenario.zone
        today = utc(self.now).astimezone(ZoneInfo(zone)).date()
        for days in range((a >> 4) % 3, 9):
            at = local_instant(
                today + timedelta(days=days), LOCAL_TIMES[a % len(LOCAL_TIMES)], zone, b - 128
            )
            if at.timestamp() > self.now:
                self.wait(at.timestamp() - self.now)
                return

    def round(self, a: int, b: int) -> None:
        """Supply every case, then settle every call: answered (bridged to a ready collector,
        else abandoned after the connect grace), machine or failed; talk, wrap up, ready."""
        self.supply(2 ** len(self.cases) - 1, b)
        for i, call_id in enumerate(sorted(self.engine.calls)):
            call = self.engine.calls.get(call_id)
            if call is None or call.state not in (CallState.DIALING, CallState.RINGING):
                continue
            kind = (a >> (2 * i % 12)) % 4
            if kind == 0:
                self.send(CallAnswered(call_id))
            elif kind == 1:
                self.send(CallAnswered(call_id, machine=True))
            else:
                self.send(CallFailed(call_id, FAILURES[(kind + i) % len(FAILURES)]))
        self.wait(2.5)  # unrouted answers are abandoned
        self.wait(30.0)
        self.settle()
        for collector in sorted(self.engine.collectors.values(), key=lambda c: c.collector_id):
            if collector.state is CollectorState.WRAP_UP:
                self.send(CollectorReady(collector.collector_id))

    def step(self, action: str, a: int, b: int) -> None:
        if action == "round":
            self.round(a, b)
        elif action == "supply":
            self.supply(a, b)
        elif action == "until":
            self.until(a, b)
        elif action == "wait":
            self.wait(WAITS[a % len(WAITS)])
        elif action == "tick":
            self.tick()
        elif action == "change":
            self.change(a, b)
        elif action in ("ready", "pause", "logout", "login"):
            self.collector_event(action, a)
        else:
            self.call_event(action, a)


GuardFactory = Callable[[Profile], DialGuard | None]


def play(scenario: Scenario, make_guard: GuardFactory = ProfileGuard) -> Run:
    profile = PROFILES[scenario.profile]
    config = EngineConfig(
        campaign="property",
        connect_grace=2.0,
        ring_timeout=25.0,
        auto_ready_after_wrap=scenario.auto_ready_after_wrap,
        preview_dial_delay=scenario.preview_dial_delay,
    )
    engine = Engine(
        config, make_pacer(scenario.pacer), np.random.default_rng(7), guard=make_guard(profile)
    )
    run = Run(scenario, engine, scenario.start, list(scenario.cases))
    for i in range(scenario.collectors):
        run.send(CollectorLoggedIn(f"a{i}"))
    for action, a, b in scenario.steps:
        run.step(action, a, b)
    run.settle()
    return run


def no_guard(profile: Profile) -> None:
    return None


class BlindGuard:
    """A guard that sees only the supplied history, not the engine's own attempts (the bug
    the engine's history merge prevents)."""

    def __init__(self, profile: Profile) -> None:
        self.inner = ProfileGuard(profile)

    def __call__(
        self, target: DialTarget, history: tuple[ContactRecord, ...], now: float
    ) -> GuardVerdict:
        return self.inner(target, target.history, now)


# ----- the property ---------------------------------------------------------------------------


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_originate_ever_breaks_the_active_profile(profile: str, data: st.DataObject) -> None:
    scenario = data.draw(scenarios(profile))
    run = play(scenario)
    steer(float(run.originated), label="originates")  # steer towards busy runs
    assert not run.violations, run.violations[:3]


# ----- the property can fail ------------------------------------------------------------------


def _start(local: str, zone: str) -> float:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).timestamp()


def test_the_checker_flags_an_unguarded_engine_and_passes_the_guarded_one() -> None:
    ny = "+12125550123"
    capped = Case("capped", (PhoneNumber(ny),))
    listed = Case("listed", (PhoneNumber(ny, dnc=True),))
    fresh = Case("fresh", (PhoneNumber(ny),))
    start = _start("2026-03-02T10:00", "America/New_York")
    earlier = tuple(
        ContactRecord(utc(start - 3600 * (i + 1)), ny, ContactOutcome.NO_ANSWER) for i in range(7)
    )
    scenario = Scenario(
        profile="us_tsr_regf",
        cases=(capped, listed, fresh),
        histories={"capped": earlier},
        start=start,
        zone="America/New_York",
        collectors=3,
        pacer="ratio:3",
        preview_dial_delay=0.0,
        auto_ready_after_wrap=1.0,
        steps=(("supply", 0b111, 1),),
    )
    unguarded = play(scenario, no_guard)
    assert {(v.case_ref, v.reasons) for v in unguarded.violations} == {
        ("capped", ("attempt_cap",)),
        ("listed", ("do_not_call",)),
    }
    guarded = play(scenario)
    assert guarded.violations == []
    assert guarded.originated == 1  # "fresh" only


def test_the_checker_counts_the_runs_own_attempts() -> None:
    """UK: an abandoned call locks the number out for 72 h; the store never hears of it."""
    london = "+442079460123"
    case = Case("k0", (PhoneNumber(london),))
    scenario = Scenario(
        profile="uk_ofcom",
        cases=(case,),
        histories={},
        start=_start("2026-01-12T10:00", "Europe/London"),
        zone="Europe/London",
        collectors=1,
        pacer="ratio:3",
        preview_dial_delay=0.0,
        auto_ready_after_wrap=1.0,
        steps=(
            ("pause", 0, 0),  # nobody takes the call ...
            ("supply", 1, 0),
            ("ready", 0, 0),  # ... which is dialed while a collector is ready,
            ("pause", 0, 0),
            ("answer", 0, 0),  # answered when none is,
            ("wait", WAITS.index(2.5), 0),  # and abandoned after 2 s
            ("ready", 0, 0),
            ("wait", WAITS.index(86400.0), 0),
            ("supply", 1, 0),  # a day later: still locked out
        ),
    )
    blind = play(scenario, BlindGuard)
    assert blind.made["k0"][0].outcome is ContactOutcome.ABANDONED
    assert [v.reasons for v in blind.violations] == [("abandon_lockout",)]
    guarded = play(scenario)
    assert guarded.violations == []
    assert guarded.originated == 1


_SEARCH = settings(
    max_examples=600,
    phases=[Phase.generate],
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_generated_scenarios_break_the_rules_without_the_guard(profile: str) -> None:
    found = find(scenarios(profile), lambda s: bool(play(s, no_guard).violations), settings=_SEARCH)
    assert play(found, no_guard).violations


_OWN_HISTORY_REASONS = {
    "us_tsr_regf": {"attempt_cap", "post_conversation_lockout"},
    "uk_ofcom": {"abandon_lockout"},
    "cn_ifac": {"daily_conversation_cap", "daily_unanswered_cap"},
}


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_generated_scenarios_catch_a_guard_blind_to_the_runs_own_attempts(profile: str) -> None:
    """The generator re-dials cases until the run's own attempts reach the caps and
    lockouts: a guard that ignores them is caught, for each profile."""
    wanted = _OWN_HISTORY_REASONS[profile]

    def caught(scenario: Scenario) -> bool:
        run = play(scenario, BlindGuard)
        return any(wanted & set(v.reasons) for v in run.violations)

    assert caught(find(scenarios(profile), caught, settings=_SEARCH))


def test_a_preview_call_is_checked_again_when_it_is_dialed() -> None:
    """Manual dialing: reserved at 20:59:50, dialed 20 s later at 21:00:10, after hours."""
    ny = "+12125550123"
    scenario = Scenario(
        profile="us_tsr_regf",
        cases=(Case("k0", (PhoneNumber(ny),)),),
        histories={},
        start=_start("2026-03-02T20:59:50", "America/New_York"),
        zone="America/New_York",
        collectors=1,
        pacer="preview",
        preview_dial_delay=20.0,
        auto_ready_after_wrap=1.0,
        steps=(("supply", 1, 0), ("wait", WAITS.index(20.0), 0)),
    )
    unguarded = play(scenario, no_guard)
    assert [v.reasons for v in unguarded.violations] == [("outside_calling_hours",)]
    run = play(scenario)
    assert run.violations == []
    assert run.originated == 0
    assert not run.engine.calls  # the reservation was dropped ...
    assert run.engine.counts() == {"ready": 1}  # ... and the collector freed


def test_an_attempt_the_store_lost_still_counts() -> None:
    """UK: the store lost the abandoned call to X but kept a later call to Y; X is still
    locked out for 72 h (the engine's own record of the abandon must not be dropped)."""
    x, y = "+442079460123", "+442079460188"
    scenario = Scenario(
        profile="uk_ofcom",
        cases=(Case("k0", (PhoneNumber(x), PhoneNumber(y))),),
        histories={},
        start=_start("2026-01-12T10:00", "Europe/London"),
        zone="Europe/London",
        collectors=1,
        pacer="ratio:3",
        preview_dial_delay=0.0,
        auto_ready_after_wrap=1.0,
        steps=(
            ("pause", 0, 0),
            ("supply", 1, 0),  # X, store mode "none"
            ("ready", 0, 0),
            ("pause", 0, 0),
            ("answer", 0, 0),
            ("wait", WAITS.index(2.5), 0),  # abandoned
            ("ready", 0, 0),
            ("wait", WAITS.index(3600.0), 0),
            ("supply", 1, 1 << 3),  # Y (number index 1), store mode "none"
            ("fail", 0, 0),
            ("wait", WAITS.index(3600.0), 0),
            # X again; "lossy" store with bits 0b10: the abandon to X lost, the call to Y kept
            ("supply", 1, (0b10 << 3) | STORE_MODES.index("lossy")),
        ),
    )
    blind = play(scenario, BlindGuard)
    outcomes = [(r.number, r.outcome) for r in blind.made["k0"]]
    assert outcomes[:2] == [(x, ContactOutcome.ABANDONED), (y, ContactOutcome.NO_ANSWER)]
    assert [v.reasons for v in blind.violations] == [("abandon_lockout",)]
    run = play(scenario)
    assert run.violations == []
    assert run.originated == 2
