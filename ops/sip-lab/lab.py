"""Helpers for ops/sip-lab/run.sh (standard library only).

  python3 lab.py port udp|tcp|both     a free port on 127.0.0.1 (both: free for UDP and TCP)
  python3 lab.py tone OUT.wav SECONDS HZ [--beeps]
                                       an 8 kHz mono 16-bit WAV: a steady tone, or beeps
                                       (0.4 s on, 0.1 s off); baresip's aufile plays it
  python3 lab.py wait-udp PORT TIMEOUT until something listens on UDP PORT (bounded)
  python3 lab.py wait-log FILE TEXT COUNT TIMEOUT
                                       until FILE holds TEXT COUNT times (bounded)
  python3 lab.py report DB LABDIR      the store's call attempts, and what each phone heard

`report` reads baresip's sndfile dumps (`dump-*-dec.wav`: what a phone received) and says,
per 20 ms frame, whose tone was in it (Goertzel filters at the debtor's and the collector's
frequencies), so you can see that the collector heard the debtor and the other way round.
"""

from __future__ import annotations

import array
import math
import socket
import sqlite3
import struct
import sys
import time
import wave
from pathlib import Path

RATE = 8000
FRAME = RATE // 50
DEBTOR_HZ, COLLECTOR_HZ, HARBOR = 440.0, 660.0, "other"


def free_port(kind: str) -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            if kind == "udp":
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise SystemExit("no free port")


def tone(path: Path, seconds: float, hz: float, beeps: bool) -> None:
    samples = array.array("h")
    for n in range(int(seconds * RATE)):
        on = not beeps or (n % (RATE // 2)) < int(0.4 * RATE)
        samples.append(int(0.3 * 32767 * math.sin(2 * math.pi * hz * n / RATE)) if on else 0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())


def udp_listening(port: int) -> bool:
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        if any(int(line.split()[1].rsplit(":", 1)[1], 16) == port for line in lines):
            return True
    return False


def wait(predicate: object, timeout: float, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def read_samples(path: Path) -> list[int]:
    """A sndfile dump's samples up to the end of the file (its header is only filled in
    when the call ends)."""
    raw = path.read_bytes()
    at = raw.find(b"data")
    if at < 0:
        return []
    body = raw[at + 8 :]
    return list(struct.unpack(f"<{len(body) // 2}h", body[: len(body) // 2 * 2]))


def goertzel(frame: list[int], hz: float) -> float:
    coeff = 2 * math.cos(2 * math.pi * hz / RATE)
    s1 = s2 = 0.0
    for x in frame:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def whose(samples: list[int]) -> dict[str, float]:
    """Seconds of each kind of frame: the debtor's tone, the collector's, other sound."""
    seconds = {"debtor": 0.0, "collector": 0.0, HARBOR: 0.0, "silence": 0.0}
    for start in range(0, len(samples) - FRAME + 1, FRAME):
        frame = samples[start : start + FRAME]
        energy = sum(x * x for x in frame)
        if energy / FRAME < 100.0**2:  # below about -50 dBFS
            seconds["silence"] += 0.02
            continue
        debtor, collector = goertzel(frame, DEBTOR_HZ), goertzel(frame, COLLECTOR_HZ)
        # a pure tone puts about half the frame's energy x N into its own bin
        share = 2 * max(debtor, collector) / (energy * FRAME)
        kind = "debtor" if debtor > collector else "collector"
        seconds[kind if share > 0.5 else HARBOR] += 0.02
    return seconds


def report(db: Path, lab: Path) -> None:
    print(f"call attempts in {db}:")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT k.debtor_ref, a.outcome, a.sip_code, c.username, a.ring_seconds,"
            " a.talk_seconds FROM call_attempts a JOIN cases k ON k.id = a.case_id"
            " LEFT JOIN collectors c ON c.id = a.collector_id ORDER BY a.dialed_at"
        ).fetchall()
    # the case, not the number: the store may keep numbers encrypted
    print(f"  {'case':9} {'outcome':13} {'sip':>4} {'collector':9} {'ring s':>6} {'talk s':>6}")
    for ref, outcome, code, collector, ring, talk in rows:
        ring_s = f"{ring:.1f}" if ring is not None else ""
        talk_s = f"{talk:.1f}" if talk is not None else ""
        print(
            f"  {ref:9} {outcome or '-':13} {code or '':>4} {collector or '':9}"
            f" {ring_s:>6} {talk_s:>6}"
        )
    print("what each phone heard (seconds of 20 ms frames, from baresip's sndfile dumps):")
    for phone in ("collector", "debtor"):
        for dump in sorted((lab / phone).glob("dump-*-dec.wav")):
            heard = whose(read_samples(dump))
            parts = ", ".join(f"{kind} {secs:.1f}" for kind, secs in heard.items())
            print(f"  {phone:9} {dump.name}: {parts}")


def main(argv: list[str]) -> None:
    command, args = argv[0], argv[1:]
    if command == "port":
        print(free_port(args[0]))
    elif command == "tone":
        tone(Path(args[0]), float(args[1]), float(args[2]), "--beeps" in args)
    elif command == "wait-udp":
        port = int(args[0])
        wait(lambda: udp_listening(port), float(args[1]), f"UDP port {port}")
    elif command == "wait-log":
        path, text, count = Path(args[0]), args[1], int(args[2])

        def seen() -> bool:
            return path.exists() and path.read_text(errors="replace").count(text) >= count

        wait(seen, float(args[3]), f"{count} x {text!r} in {path}")
    elif command == "report":
        report(Path(args[0]), Path(args[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
