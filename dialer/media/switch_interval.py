"""How often the GIL passes between threads while media work runs beside the event loop.

The recording writer and the AMD workers are Python threads: while one holds the GIL the
event loop, which relays every RTP packet and routes every call, waits for the switch
interval (CPython's default: 5 ms) before it gets the GIL back, and a few such waits in one
loop turn stack up (with 200 recorded calls, benchmarks/bench_recording.py, on a quiet
machine: loop lag p99 23 ms at the default against 10 ms for the relay alone). A shorter
interval hands the GIL back sooner: at 1 ms, p99 8.6-14.1 ms against 5.9-12.6 ms for the
relay alone. The daemon runs with `SWITCH_INTERVAL` (process-wide, set while it runs and
restored after), and the benchmark measures with the same (docs/media.md).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 0.001  # seconds


@contextmanager
def short_switch_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
