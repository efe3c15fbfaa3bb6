"""Structured logging: one JSON object per line off a terminal, readable lines on one.

Debtor data never reaches a log line in the clear: values under sensitive keys are masked
by kind (phone numbers keep their last two digits, names their initials), and anything in a
message or value that looks like a phone number is masked too, as a safety net for code that
forgot (`dialer.privacy.mask_text`: dates, times and the digits inside a Call-ID or other
token are not phone numbers). Values under keys that hold ids and times (`call_id`, `call`,
`at`, `when`, `ts`, `next_run`, anything ending in `_at`, `_time`, `_date`) are never
masked, so a log line can be matched to its store row and to the carrier's SIP trace.
Log an event with fields as ``log.info("call.answered", extra={"fields": {...}})``
or through `event()`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from dialer.privacy import mask_name, mask_phone, mask_text

NAME_KEYS = frozenset({"name", "debtor_name", "display_name", "full_name"})
PHONE_KEYS = frozenset({"number", "phone", "e164", "phone_number", "caller", "callee", "to"})
# ids and times: the values that let a line be matched to a store row or a SIP trace
CLEAR_KEYS = frozenset(
    {
        "call_id",
        "call",
        "sip_call_id",
        "callid",
        "at",
        "when",
        "ts",
        "time",
        "timestamp",
        "date",
        "next_run",
        "next_run_time",
        "deadline",
    }
)
CLEAR_SUFFIXES = ("_at", "_time", "_date", "_call_id")
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "fields"}


def _mask_text(text: str) -> str:
    return mask_text(text)


def clear_key(key: str) -> bool:
    """A key whose values are ids or times, never masked."""
    lowered = key.lower()
    return lowered in CLEAR_KEYS or lowered.endswith(CLEAR_SUFFIXES)


def mask_value(key: str, value: Any) -> Any:
    """Mask one field by its key, then scrub phone-shaped text inside it."""
    lowered = key.lower()
    if isinstance(value, str):
        if lowered in NAME_KEYS:
            return mask_name(value)
        if lowered in PHONE_KEYS:
            return mask_phone(value)
        if clear_key(lowered):
            return value
        return _mask_text(value)
    if isinstance(value, dict):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(key, v) for v in value]
    return value


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    given = record.__dict__.get("fields")
    if isinstance(given, dict):
        fields.update(given)
    for key, value in record.__dict__.items():
        if key not in _RESERVED and not key.startswith("_"):
            fields[key] = value
    return {k: mask_value(k, v) for k, v in fields.items()}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": _mask_text(record.getMessage()),
        }
        payload.update(_fields(record))
        if record.exc_info:
            payload["exc"] = _mask_text(self.formatException(record.exc_info))
        return json.dumps(payload, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        line = f"{when} {record.levelname:<7} {record.name}: {_mask_text(record.getMessage())}"
        if fields:
            line += f"  {fields}"
        if record.exc_info:
            line += "\n" + _mask_text(self.formatException(record.exc_info))
        return line


def setup_logging(level: str = "INFO", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Install one handler on the root logger (idempotent: replaces an earlier one)."""
    stream = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if use_json else ConsoleFormatter())
    handler.set_name("dialer")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "dialer"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("uvicorn.access", "aiosqlite", "apscheduler.executors.default"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def event(logger: logging.Logger, name: str, level: int = logging.INFO, /, **fields: Any) -> None:
    """Log a named event with structured fields (any field name is allowed)."""
    if logger.isEnabledFor(level):
        logger.log(level, name, extra={"fields": fields})
