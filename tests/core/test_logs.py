"""Debtor data is masked in every log line, JSON or console."""

from __future__ import annotations

import io
import json
import logging

import pytest

from dialer.logs import event, setup_logging


@pytest.fixture
def capture() -> io.StringIO:
    stream = io.StringIO()
    setup_logging("DEBUG", "json", stream)
    return stream


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_fields_are_masked_by_key(capture: io.StringIO) -> None:
    log = logging.getLogger("test.masking")
    event(log, "call.answered", number="+12125550123", debtor_name="Jane Smith", balance=10)
    line = _lines(capture)[-1]
    assert line["event"] == "call.answered"
    assert "5550123" not in json.dumps(line) and "Jane" not in json.dumps(line)
    assert str(line["number"]).endswith("23")
    assert line["balance"] == 10


def test_phone_numbers_in_messages_are_masked(capture: io.StringIO) -> None:
    logging.getLogger("test.masking").warning("could not reach +44 20 7946 0123 today")
    text = capture.getvalue()
    assert "7946" not in text
    assert "23 today" in text


def test_exceptions_are_masked(capture: io.StringIO) -> None:
    try:
        raise ValueError("bad number 2125550199")
    except ValueError:
        logging.getLogger("test.masking").exception("failed")
    text = capture.getvalue()
    assert "2125550199" not in text
    assert "99" in text


def test_addresses_are_not_mistaken_for_numbers(capture: io.StringIO) -> None:
    logging.getLogger("test.masking").info("listening on 127.0.0.1:8080")
    assert "127.0.0.1:8080" in capture.getvalue()


def test_console_format_masks_too() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "console", stream)
    event(logging.getLogger("t"), "dial", phone="+12125550123", name="John Doe")
    text = stream.getvalue()
    assert "5550123" not in text and "John" not in text
    assert "dial" in text


# ---- what masking must leave readable, and what it must still catch ---------------------
# Examples are what the code logs: engine call ids are `<campaign>.<8 hex>.<n>`
# (daemon/build.py), SIP Call-IDs `<uuid4 hex>@<host>` (telephony/sip_message.py) or a
# carrier's own, `before=` an isoformat() (orchestration/orchestrator.py), APScheduler's
# "Next wakeup" lines, the job table's `next_run`.

READABLE = [
    "c1.12345678.17",  # an engine call id whose 8 hex digits happen to be all decimal
    "c1.1a2b3c4d.17@127.0.0.1",
    "9f3c2a7e1234567b8d0e4f5a6b7c8d9e@10.0.0.5",  # ours: uuid4().hex@host
    "a84b4c76e66710@pc33.atlanta.example",  # RFC 3261's example Call-ID
    "1234567890@192.0.2.10",  # a carrier's all-digit Call-ID (no sip: in front)
    "550e8400-e29b-41d4-a716-446655440000",
    "2026-03-03 16:00:00+00:00",
    "2026-03-03T16:00:00.123+00:00",
    "2026-03-03T16:00:00Z",
    "2026-03-03",
    "127.0.0.1:8080",
    "3599.9987654",
]
PHONES = [
    ("+12125550123", "+*********23"),
    ("+44 20 7946 0123", "+**********23"),
    ("+1 (212) 555-0123", "+*********23"),
    ("(212) 555-0123", "********23"),
    ("212-555-0123", "********23"),
    ("020 7946 0123", "*********23"),
    ("2125550199", "********99"),
]


@pytest.mark.parametrize("token", READABLE)
def test_ids_and_times_in_messages_stay_readable(capture: io.StringIO, token: str) -> None:
    logging.getLogger("test.masking").info("seen %s here", token)
    assert _lines(capture)[-1]["event"] == f"seen {token} here"


@pytest.mark.parametrize(("number", "masked"), PHONES)
def test_numbers_in_messages_are_still_masked(
    capture: io.StringIO, number: str, masked: str
) -> None:
    logging.getLogger("test.masking").info("calling %s now", number)
    assert _lines(capture)[-1]["event"] == f"calling {masked} now"


@pytest.mark.parametrize("uri", ["sip:+12125550123@carrier.example", "sip:2125550123@carrier"])
def test_numbers_in_sip_uris_are_masked(capture: io.StringIO, uri: str) -> None:
    logging.getLogger("test.masking").info("INVITE %s", uri)
    line = str(_lines(capture)[-1]["event"])
    assert "5550123" not in line and "23@carrier" in line


def test_a_number_next_to_a_date_is_masked_and_the_date_kept(capture: io.StringIO) -> None:
    logging.getLogger("test.masking").info("retry 2125550123 2026-03-03 16:00:00+00:00")
    assert _lines(capture)[-1]["event"] == "retry ********23 2026-03-03 16:00:00+00:00"


def test_scheduler_lines_keep_their_dates(capture: io.StringIO) -> None:
    logging.getLogger("apscheduler.scheduler").info(
        "Next wakeup is due at 2026-03-03 16:00:00+00:00 (in 3599.9987654 seconds)"
    )
    assert "2026-03-03 16:00:00+00:00 (in 3599.9987654 seconds)" in str(_lines(capture)[-1])


def test_id_and_time_keys_are_never_masked(capture: io.StringIO) -> None:
    log = logging.getLogger("test.masking")
    event(
        log,
        "trunk.originate_failed",
        logging.ERROR,
        campaign="c1",
        call_id="c1.20260303.17",
        sip_call_id="2125550123@192.0.2.10",
        at="2026-03-03 16:00:00+00:00",
        next_run="2026-03-03T16:00:00+00:00",
        bridged_at="2026-03-03T15:59:58.250+00:00",
        error="no answer from +1 212 555 0123",
        name="Jane Smith",
    )
    line = _lines(capture)[-1]
    assert line["call_id"] == "c1.20260303.17"
    assert line["sip_call_id"] == "2125550123@192.0.2.10"
    assert line["at"] == "2026-03-03 16:00:00+00:00"
    assert line["next_run"] == "2026-03-03T16:00:00+00:00"
    assert line["bridged_at"] == "2026-03-03T15:59:58.250+00:00"
    assert line["error"] == "no answer from +*********23"  # other keys: still scrubbed
    assert line["name"] == "J*** S****"


def test_console_keeps_call_ids_and_dates() -> None:
    stream = io.StringIO()
    setup_logging("INFO", "console", stream)
    event(logging.getLogger("t"), "sip.failed", call="c1.12345678.3", dialed="+12125550123")
    text = stream.getvalue()
    assert "call=c1.12345678.3" in text and "5550123" not in text
