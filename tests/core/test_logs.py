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
