"""Logging for the SIP adapter: structured events, debtor numbers only ever masked."""

from __future__ import annotations

import logging

from dialer.logs import event
from dialer.privacy import mask_phone

log = logging.getLogger("dialer.telephony.sip")
DEBUG = logging.DEBUG
INFO = logging.INFO
WARNING = logging.WARNING
ERROR = logging.ERROR

__all__ = ["DEBUG", "ERROR", "INFO", "WARNING", "event", "log", "mask_phone"]
