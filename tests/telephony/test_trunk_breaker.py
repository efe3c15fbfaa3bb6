"""The trunk's circuit breaker as a state machine (no sockets): when it opens, how it
backs off, and the one trial call that closes it."""

from __future__ import annotations

import itertools

from dialer.telephony.trunk_health import BreakerSettings, BreakerState, TrunkBreaker


def breaker(failures: int = 3) -> TrunkBreaker:
    return TrunkBreaker(BreakerSettings(failures_to_open=failures, backoff=2, backoff_max=8))


def test_it_opens_on_failures_in_a_row_only() -> None:
    b = breaker()
    assert not b.carrier_failure("forbidden", 0)
    assert not b.carrier_failure("forbidden", 1)
    b.reached(2)  # a call that reached the network in between: the run starts again
    assert not b.carrier_failure("forbidden", 3)
    assert not b.carrier_failure("forbidden", 4)
    assert b.carrier_failure("forbidden", 5)
    assert b.state is BreakerState.DOWN and not b.up and b.reason == "forbidden"
    assert "403" in b.why and not b.may_send()


def test_probes_back_off_doubling_up_to_the_cap() -> None:
    b = breaker(1)
    b.carrier_failure("no_response", 0)
    due = [b.next_probe_at]
    for _ in range(4):
        assert b.probe_due(due[-1]) and not b.probe_due(due[-1] - 0.01)
        b.probe_failed("probe_timeout", due[-1])
        due.append(b.next_probe_at)
    gaps = [later - earlier for earlier, later in itertools.pairwise(due)]
    assert due[0] == 2 and gaps == [4, 8, 8, 8]


def test_a_trial_lets_one_call_out_and_its_fate_decides() -> None:
    b = breaker(1)
    b.carrier_failure("credentials_refused", 0)
    assert b.probe_answered(2) and b.state is BreakerState.TRIAL and b.up
    assert b.may_send()
    b.sent()
    assert not b.may_send()  # one at a time
    assert b.carrier_failure("credentials_refused", 3)  # the trial failed: down again
    assert b.state is BreakerState.DOWN and b.next_probe_at == 3 + 4  # backoff doubled
    assert b.probe_answered(7)
    b.sent()
    assert b.reached(8) and b.state is BreakerState.UP and b.may_send()
    b.carrier_failure("forbidden", 9)
    assert b.next_probe_at == 9 + 2  # closing reset the backoff


def test_a_failed_probe_while_up_opens_it_at_once() -> None:
    b = breaker(5)
    assert b.probe_failed("unreachable", 0)
    assert b.state is BreakerState.DOWN and "ICMP" in b.why
